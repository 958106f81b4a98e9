package model

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The fixtures in testdata/torchbin come from scripts/make_torchbin_fixture.py,
// which builds torch.save's format with Python's own pickler, independently of
// this package; each X.bin has an X.safetensors of the same tensors, dtypes and
// bits, written without any view tricks.
func TestReadTorchBinMatchesSafetensors(t *testing.T) {
	for _, name := range []string{"bert_model", "bert_cls", "variants", "bigendian"} {
		t.Run(name, func(t *testing.T) {
			got, err := ReadTorchBin(fixture(name + ".bin"))
			if err != nil {
				t.Fatal(err)
			}
			want, err := ReadSafetensors(fixture(name + ".safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 {
				t.Fatal("empty reference")
			}
			sameTensors(t, got, want)
		})
	}
}

// TestReadTorchBinFixtureShapes pins what the fixtures exercise, so that a
// regenerated fixture that lost a case fails here rather than passing.
func TestReadTorchBinFixtureShapes(t *testing.T) {
	got, err := ReadTorchBin(fixture("bert_model.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["embeddings.position_ids"]; ok {
		t.Error("the int64 position_ids buffer was not skipped")
	}
	if w := got["encoder.layer.1.intermediate.dense.weight"]; w == nil || !equalShape(w.Shape, []int64{16, 8}) {
		t.Errorf("transposed tensor: %+v", w)
	}
	pkl := zipEntry(t, readFixture(t, "bert_model.bin"), "archive/data.pkl")
	for _, want := range []string{"FloatStorage", "HalfStorage", "BFloat16Storage", "LongStorage", "collections\nOrderedDict", "torch._utils\n_rebuild_tensor_v2"} {
		if !bytes.Contains(pkl, []byte(want)) {
			t.Errorf("bert_model.bin's pickle lacks %q", want)
		}
	}
	pkl = zipEntry(t, readFixture(t, "variants.bin"), "variants/data.pkl")
	for _, want := range []string{"_rebuild_tensor_v3", "_rebuild_parameter", "UntypedStorage", "float16", "DoubleStorage", "\x95"} {
		if !bytes.Contains(pkl, []byte(want)) {
			t.Errorf("variants.bin's pickle lacks %q", want)
		}
	}
	v, err := ReadTorchBin(fixture("variants.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if s := v["scalar"]; s == nil || len(s.Shape) != 0 || len(s.Data) != 1 || s.Data[0] != 1.5 {
		t.Errorf("scalar: %+v", s)
	}
	if e := v["empty"]; e == nil || !equalShape(e.Shape, []int64{0, 4}) || len(e.Data) != 0 {
		t.Errorf("empty: %+v", e)
	}
	if _, ok := v["ints"]; ok {
		t.Error("int32 tensor was not skipped")
	}
}

func zipEntry(t testing.TB, archive []byte, name string) []byte {
	t.Helper()
	a, err := openTorchArchiveBytes(archive)
	if err != nil {
		t.Fatal(err)
	}
	f := a.entries[name]
	if f == nil {
		t.Fatalf("no %s", name)
	}
	b, err := readZipRecord(f, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLoadWeightsTorchBin reads the fixtures through LoadWeights, as a model
// directory holding only pytorch_model.bin.
func TestLoadWeightsTorchBin(t *testing.T) {
	c := tinyConfig(t)
	load := func(bin string) *Weights {
		t.Helper()
		dir := t.TempDir()
		copyFile(t, fixture("config.json"), filepath.Join(dir, ConfigFile))
		copyFile(t, fixture(bin), filepath.Join(dir, TorchBinFile))
		w, err := LoadWeights(dir, c)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(w.Source) != TorchBinFile {
			t.Errorf("Source = %s", w.Source)
		}
		return w
	}
	model := load("bert_model.bin")
	if !model.HasPooler() {
		t.Error("no pooler")
	}
	cls := load("bert_cls.bin")
	gamma := load("bert_cls_gamma.bin")
	sameTensors(t, gamma.Tensors, cls.Tensors)
	for _, name := range []string{ClassifierWeight, ClassifierBias, "encoder.layer.1.output.LayerNorm.weight", "embeddings.LayerNorm.bias"} {
		if cls.Tensors[name] == nil {
			t.Errorf("classification checkpoint lacks %q after renaming", name)
		}
	}
	for name := range cls.Tensors {
		if strings.HasPrefix(name, ClassifierPrefix) || strings.Contains(name, "gamma") || strings.Contains(name, "beta") {
			t.Errorf("name %q was not mapped to the BertModel layout", name)
		}
	}
}

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReadTorchBinRealModel converts the real all-MiniLM-L6-v2 safetensors
// to pytorch_model.bin with the Python script and reads it back. The
// conversion is done by the script, not by Go, so that reader and writer
// share no code or assumptions; it needs python3 and skips without it.
func TestReadTorchBinRealModel(t *testing.T) {
	if testing.Short() {
		t.Skip("converts 90 MB of weights")
	}
	dir := modelDir(t)
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not on PATH: it writes the pytorch_model.bin this test reads")
	}
	src := filepath.Join(dir, SafetensorsFile)
	tmp := t.TempDir()
	bin := filepath.Join(tmp, TorchBinFile)
	cmd := exec.Command(py, filepath.Join(repoRoot(t), "scripts", "make_torchbin_fixture.py"), "--convert", src, bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd, err, out)
	}
	got, err := ReadTorchBin(bin)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ReadSafetensors(src)
	if err != nil {
		t.Fatal(err)
	}
	sameTensors(t, got, want)

	copyFile(t, filepath.Join(dir, ConfigFile), filepath.Join(tmp, ConfigFile))
	c, err := LoadConfig(tmp)
	if err != nil {
		t.Fatal(err)
	}
	w, err := LoadWeights(tmp, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Tensors) != len(want) {
		t.Errorf("LoadWeights: %d tensors, want %d", len(w.Tensors), len(want))
	}
}

func TestReadTorchBinRefusesLegacyFormat(t *testing.T) {
	_, err := ReadTorchBin(fixture("legacy.bin"))
	wantCorrupt(t, err, "legacy.bin", "legacy PyTorch format", "_use_new_zipfile_serialization=True", "safetensors")
}

func TestReadTorchBinNotACheckpoint(t *testing.T) {
	tar := make([]byte, 1024)
	copy(tar[257:], "ustar")
	for _, tc := range []struct {
		name, data, want string
	}{
		{"empty", "", "not a PyTorch checkpoint"},
		{"text", "hello, world", "not a PyTorch checkpoint"},
		{"lfs", "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 90868376\n", "Git LFS pointer"},
		{"tar", string(tar), "legacy PyTorch format"},
		{"pickle", "\x80\x02}q\x00.", "legacy PyTorch format"},
		{"zip magic only", "PK\x03\x04", "not a readable zip archive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "pytorch_model.bin")
			if err := os.WriteFile(path, []byte(tc.data), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadTorchBin(path)
			wantCorrupt(t, err, path, tc.want)
		})
	}
	_, err := ReadTorchBin(filepath.Join(t.TempDir(), "missing.bin"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestReadTorchBinBroken feeds archives broken in one way each.
func TestReadTorchBinBroken(t *testing.T) {
	tensor := func(mod func(*crafted)) []byte {
		c := crafted{"w", "FloatStorage", "0", 6, 0, []int64{2, 3}, []int64{3, 1}}
		mod(&c)
		return stateDict(c)
	}
	data := zipRecord{name: "data/0", data: f32s(1, 2, 3, 4, 5, 6)}
	version := zipRecord{name: "version", data: []byte("3\n")}
	pkl := func(b []byte) zipRecord { return zipRecord{name: "data.pkl", data: b} }
	cycle := (&pk{}).op(opProto, 2, opEmptyDict).str("w").op(opEmptyList, opBinPut, 0, opBinGet, 0, opAppend, opSetItem, opStop).b

	for _, tc := range []struct {
		name    string
		records []zipRecord
		want    string
	}{
		{"empty zip", nil, "empty"},
		{"no folder", []zipRecord{{name: "/data.pkl", data: tensor(func(*crafted) {})}}, "not inside an archive folder"},
		{"no data.pkl", []zipRecord{version, data}, "no archive/data.pkl"},
		{"no version", []zipRecord{pkl(tensor(func(*crafted) {})), data}, "no archive/version record"},
		{"bad version", []zipRecord{pkl(tensor(func(*crafted) {})), data, {name: "version", data: []byte("three")}}, `version is "three"`},
		{"bad byteorder", []zipRecord{pkl(tensor(func(*crafted) {})), data, version, {name: "byteorder", data: []byte("middle")}}, `byteorder is "middle"`},
		{"torchscript", []zipRecord{pkl(tensor(func(*crafted) {})), {name: "constants.pkl"}, version}, "TorchScript"},
		{"missing storage", []zipRecord{pkl(tensor(func(c *crafted) { c.key = "7" })), data, version}, "archive/data/7 is not in the archive"},
		{"short storage", []zipRecord{pkl(tensor(func(*crafted) {})), {name: "data/0", data: f32s(1, 2, 3)}, version}, "holds 12 bytes, but data.pkl says 24"},
		{"compressed storage", []zipRecord{pkl(tensor(func(*crafted) {})), {name: "data/0", data: f32s(1, 2, 3, 4, 5, 6), deflate: true}, version}, "compressed"},
		{"past the end", []zipRecord{pkl(tensor(func(c *crafted) { c.offset = 1 })), data, version}, "reach past the end of storage 0"},
		{"stride past the end", []zipRecord{pkl(tensor(func(c *crafted) { c.stride = []int64{4, 1} })), data, version}, "reach past the end"},
		{"huge stride", []zipRecord{pkl(tensor(func(c *crafted) { c.stride = []int64{1 << 62, 1} })), data, version}, "reach past the end"},
		{"negative offset", []zipRecord{pkl(tensor(func(c *crafted) { c.offset = -1 })), data, version}, "negative storage offset"},
		{"negative stride", []zipRecord{pkl(tensor(func(c *crafted) { c.stride = []int64{-3, 1} })), data, version}, "negative sizes and strides"},
		{"negative size", []zipRecord{pkl(tensor(func(c *crafted) { c.shape = []int64{-2, 3} })), data, version}, "negative sizes and strides"},
		{"stride overflow", []zipRecord{pkl(tensor(func(c *crafted) { c.shape, c.stride = []int64{3, 2}, []int64{1 << 62, 1} })), data, version}, "reach past the end"},
		{"rank mismatch", []zipRecord{pkl(tensor(func(c *crafted) { c.stride = []int64{1} })), data, version}, "differ in length"},
		{"negative numel", []zipRecord{pkl(tensor(func(c *crafted) { c.numel = -1 })), data, version}, "invalid size of -1 elements"},
		{"unknown storage", []zipRecord{pkl(tensor(func(c *crafted) { c.storage = "ComplexFloatStorage" })), data, version}, "torch.ComplexFloatStorage: tensors of this type are not supported"},
		{"evil global", []zipRecord{pkl((&pk{}).op(opProto, 2).global("os", "system").str("echo hi").op(opTuple1, opReduce, opStop).b), version}, "refusing GLOBAL os.system"},
		{"evil stack global", []zipRecord{pkl((&pk{}).op(opProto, 4).str("builtins").str("eval").op(opStackGlobal, opStop).b), version}, "refusing GLOBAL builtins.eval"},
		{"not a dict", []zipRecord{pkl((&pk{}).op(opProto, 2, opEmptyList, opStop).b), version}, "holds a Python list, want a state dict"},
		{"not a tensor", []zipRecord{pkl((&pk{}).op(opProto, 2, opEmptyDict).str("epoch").int(3).op(opSetItem, opStop).b), version}, `entry "epoch" holds a Python int, not a tensor`},
		{"cycle", []zipRecord{pkl(cycle), version}, `entry "w" holds a Python list`},
		{"int key", []zipRecord{pkl((&pk{}).op(opProto, 2, opEmptyDict).int(1).int(3).op(opSetItem, opStop).b), version}, "state dict key of type int"},
		{"no stop", []zipRecord{pkl((&pk{}).op(opProto, 2, opEmptyDict).b), version}, "no STOP"},
		{"storage named twice", []zipRecord{pkl(stateDict(
			crafted{"a", "FloatStorage", "0", 6, 0, []int64{6}, []int64{1}},
			crafted{"b", "HalfStorage", "0", 12, 0, []int64{6}, []int64{1}},
		)), data, version}, `storage "0" is named twice`},
		{"too many values", []zipRecord{pkl(tensor(func(c *crafted) { c.shape, c.stride = []int64{4000, 1000}, []int64{0, 0} })), data, version}, "far more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "pytorch_model.bin")
			if err := os.WriteFile(path, torchZip(t, tc.records...), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadTorchBin(path)
			wantCorrupt(t, err, path, tc.want)
		})
	}
}

// TestReadTorchBinCrafted checks the crafted archives the broken cases start
// from, so that each of those fails for the reason it names.
func TestReadTorchBinCrafted(t *testing.T) {
	b := tensorArchive(t)
	got, err := readTorchBin(bytes.NewReader(b), int64(len(b)), "crafted")
	if err != nil {
		t.Fatal(err)
	}
	sameTensors(t, got, map[string]*Tensor{"w": {Shape: []int64{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}}})

	// A transposed view of the same storage, and a slice at an offset.
	b = torchZip(t,
		zipRecord{name: "data.pkl", data: stateDict(
			crafted{"t", "FloatStorage", "0", 6, 0, []int64{3, 2}, []int64{1, 3}},
			crafted{"s", "FloatStorage", "0", 6, 4, []int64{2}, []int64{1}},
			crafted{"c", "FloatStorage", "0", 6, 1, []int64{2, 2}, []int64{3, 1}},
		)},
		zipRecord{name: "data/0", data: f32s(1, 2, 3, 4, 5, 6)},
		zipRecord{name: "version", data: []byte("3\n")},
	)
	got, err = readTorchBin(bytes.NewReader(b), int64(len(b)), "crafted")
	if err != nil {
		t.Fatal(err)
	}
	sameTensors(t, got, map[string]*Tensor{
		"t": {Shape: []int64{3, 2}, Data: []float32{1, 4, 2, 5, 3, 6}},
		"s": {Shape: []int64{2}, Data: []float32{5, 6}},
		"c": {Shape: []int64{2, 2}, Data: []float32{2, 3, 5, 6}},
	})
}

// TestReadTorchBinCorruptData flips a byte of a stored storage: the zip
// CRC-32 catches it.
func TestReadTorchBinCorruptData(t *testing.T) {
	b := tensorArchive(t)
	i := bytes.Index(b, f32s(1, 2, 3, 4, 5, 6))
	if i < 0 {
		t.Fatal("storage bytes not found")
	}
	b[i+5] ^= 0x40
	_, err := readTorchBin(bytes.NewReader(b), int64(len(b)), "flipped.bin")
	wantCorrupt(t, err, "flipped.bin", "checksum")
}

// TestReadTorchBinTruncated cuts a fixture at every length: each must fail
// cleanly.
func TestReadTorchBinTruncated(t *testing.T) {
	full := readFixture(t, "bert_model.bin")
	step := 1
	if testing.Short() {
		step = 97
	}
	for n := 0; n < len(full); n += step {
		_, err := readTorchBin(bytes.NewReader(full[:n]), int64(n), "cut.bin")
		if err == nil {
			t.Fatalf("%d of %d bytes: no error", n, len(full))
		}
		if !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), "cut.bin: ") {
			t.Fatalf("%d of %d bytes: %v", n, len(full), err)
		}
	}
}

func FuzzReadTorchBin(f *testing.F) {
	// Small seeds only: the fuzzer minimizes every new input, and a 19 KB
	// one takes it minutes.
	for _, name := range []string{"variants.bin", "bigendian.bin", "legacy.bin"} {
		b, err := os.ReadFile(fixture(name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(tensorArchive(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := readTorchBin(bytes.NewReader(b), int64(len(b)), "fuzz.bin")
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		for name, tensor := range ts {
			if int64(len(tensor.Data)) != NumElements(tensor.Shape) {
				t.Fatalf("%q: shape %v but %d values", name, tensor.Shape, len(tensor.Data))
			}
		}
	})
}

func openTorchArchiveBytes(b []byte) (*torchArchive, error) {
	zr, err := zipReader(b)
	if err != nil {
		return nil, err
	}
	return openTorchArchive(zr, int64(len(b)))
}
