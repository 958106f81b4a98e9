package model

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/autofreeze/autofreeze/internal/testenv"
)

// repoRoot is the directory holding go.mod.
func repoRoot(t testing.TB) string { return testenv.Root(t) }

// modelDir is the real all-MiniLM-L6-v2 directory; the test skips when it is
// missing.
func modelDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), ".deps", "models", "all-minilm-l6-v2")
	if _, err := os.Stat(filepath.Join(dir, SafetensorsFile)); err != nil {
		t.Skip("run make setup")
	}
	return dir
}

// fixtureDir holds the files scripts/make_torchbin_fixture.py writes.
const fixtureDir = "testdata/torchbin"

func fixture(name string) string { return filepath.Join(fixtureDir, name) }

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(fixture(name))
	if err != nil {
		t.Fatalf("%v (regenerate with python3 scripts/make_torchbin_fixture.py)", err)
	}
	return b
}

// tinyConfig is the config of the fixtures' 2-layer, hidden-8 BERT.
func tinyConfig(t testing.TB) *Config {
	t.Helper()
	c, err := LoadConfig(fixtureDir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sameTensors fails unless got and want hold the same names, shapes and
// float bits.
func sameTensors(t testing.TB, got, want map[string]*Tensor) {
	t.Helper()
	for _, name := range sortedNames(want) {
		g, ok := got[name]
		if !ok {
			t.Errorf("tensor %q missing", name)
			continue
		}
		w := want[name]
		if !equalShape(g.Shape, w.Shape) || len(g.Data) != len(w.Data) {
			t.Errorf("tensor %q: shape %v (%d values), want %v (%d values)", name, g.Shape, len(g.Data), w.Shape, len(w.Data))
			continue
		}
		for i := range w.Data {
			if math.Float32bits(g.Data[i]) != math.Float32bits(w.Data[i]) {
				t.Errorf("tensor %q[%d] = %g (%#08x), want %g (%#08x)", name, i, g.Data[i], math.Float32bits(g.Data[i]), w.Data[i], math.Float32bits(w.Data[i]))
				break
			}
		}
	}
	for _, name := range sortedNames(got) {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected tensor %q", name)
		}
	}
}

func sortedNames(m map[string]*Tensor) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// wantCorrupt fails unless err wraps ErrCorrupt, names the file and
// contains every one of parts.
func wantCorrupt(t testing.TB, err error, file string, parts ...string) {
	t.Helper()
	wantErr(t, err, ErrCorrupt, file, parts...)
}

func wantErr(t testing.TB, err, target error, file string, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	if target != nil && !errors.Is(err, target) {
		t.Errorf("error %q does not wrap %v", err, target)
	}
	msg := err.Error()
	if file != "" && !strings.Contains(msg, file) {
		t.Errorf("error %q does not name the file %s", msg, file)
	}
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("error %q does not say %q", msg, p)
		}
	}
}

// --- Crafting broken torch.save archives ---------------------------------
//
// The valid fixtures come from an independent writer (the Python script).
// These helpers only build the malformed files the script would never
// write, so they need to agree with it only on what they break.

type zipRecord struct {
	name    string
	data    []byte
	deflate bool
}

// torchZip returns a zip of the records, under archive/ unless a name
// already holds a slash at its start ("/x" means "x" at the top level).
func torchZip(t testing.TB, records ...zipRecord) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, r := range records {
		name := "archive/" + r.name
		if strings.HasPrefix(r.name, "/") {
			name = r.name[1:]
		}
		method := zip.Store
		if r.deflate {
			method = zip.Deflate
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(r.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zipReader(b []byte) (*zip.Reader, error) {
	return zip.NewReader(bytes.NewReader(b), int64(len(b)))
}

// pk assembles a pickle, opcode by opcode.
type pk struct{ b []byte }

func (p *pk) op(ops ...byte) *pk { p.b = append(p.b, ops...); return p }

func (p *pk) str(s string) *pk {
	p.b = append(p.b, opBinUnicode)
	p.b = binary.LittleEndian.AppendUint32(p.b, uint32(len(s)))
	p.b = append(p.b, s...)
	return p
}

func (p *pk) global(module, name string) *pk {
	p.b = append(p.b, opGlobal)
	p.b = append(p.b, module+"\n"+name+"\n"...)
	return p
}

func (p *pk) int(v int64) *pk {
	if v != int64(int32(v)) {
		p.b = append(p.b, opLong1, 8)
		p.b = binary.LittleEndian.AppendUint64(p.b, uint64(v))
		return p
	}
	p.b = append(p.b, opBinInt)
	p.b = binary.LittleEndian.AppendUint32(p.b, uint32(int32(v)))
	return p
}

func (p *pk) ints(vs ...int64) *pk {
	p.op(opMark)
	for _, v := range vs {
		p.int(v)
	}
	return p.op(opTuple)
}

// crafted describes one tensor of a crafted state dict.
type crafted struct {
	name    string
	storage string // "FloatStorage"
	key     string
	numel   int64
	offset  int64
	shape   []int64
	stride  []int64
}

// tensor appends _rebuild_tensor_v2(storage, offset, shape, stride, False,
// OrderedDict()) for c.
func (p *pk) tensor(c crafted) *pk {
	p.global("torch._utils", "_rebuild_tensor_v2").op(opMark)
	p.op(opMark).str("storage").global("torch", c.storage).str(c.key).str("cpu").int(c.numel).op(opTuple, opBinPersID)
	p.int(c.offset).ints(c.shape...).ints(c.stride...).op(opNewFalse)
	p.global("collections", "OrderedDict").op(opEmptyTuple, opReduce)
	return p.op(opTuple, opReduce)
}

// stateDict is the pickle of an OrderedDict of the tensors.
func stateDict(ts ...crafted) []byte {
	p := (&pk{}).op(opProto, 2).global("collections", "OrderedDict").op(opEmptyTuple, opReduce, opMark)
	for _, c := range ts {
		p.str(c.name).tensor(c)
	}
	return p.op(opSetItems, opStop).b
}

// f32s is the little-endian bytes of vs.
func f32s(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// tensorArchive is a valid archive of one float tensor [2, 3].
func tensorArchive(t testing.TB) []byte {
	t.Helper()
	return torchZip(t,
		zipRecord{name: "data.pkl", data: stateDict(crafted{"w", "FloatStorage", "0", 6, 0, []int64{2, 3}, []int64{3, 1}})},
		zipRecord{name: "data/0", data: f32s(1, 2, 3, 4, 5, 6)},
		zipRecord{name: "version", data: []byte("3\n")},
	)
}
