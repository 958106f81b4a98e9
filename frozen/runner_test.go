package frozen_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autofreeze/autofreeze/frozen"
	"github.com/autofreeze/autofreeze/frozen/export"
	"github.com/autofreeze/autofreeze/frozen/internal/testenv"
	"github.com/autofreeze/autofreeze/model"
)

func TestInitRuntimeErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "libonnxruntime.so")
	if err := os.WriteFile(garbage, []byte("not a library"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nope", "libonnxruntime.so.1"), "does not exist"},
		{"empty path", "", "no library path"},
		{"directory", dir, "is a directory"},
		{"not a library", garbage, "not a shared library"},
		{"another library", "/proc/self/exe", "not ONNX Runtime"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := frozen.InitRuntime(tc.path)
			if !errors.Is(err, frozen.ErrRuntime) || !strings.Contains(err.Error(), tc.want) ||
				!strings.Contains(err.Error(), "make setup") || !strings.Contains(err.Error(), "ORT_LIB") {
				t.Fatalf("err = %v, want ErrRuntime saying %q and how to fix it", err, tc.want)
			}
		})
	}
}

func TestInitRuntimeTwice(t *testing.T) {
	lib := testenv.ORTLib(t)
	for i := 0; i < 2; i++ {
		if err := frozen.InitRuntime(lib); err != nil {
			t.Fatal(err)
		}
	}
	if v := frozen.RuntimeVersion(); v == "" {
		t.Error("no version")
	} else {
		t.Logf("ONNX Runtime %s", v)
	}
}

// tinyFile exports the tiny random model's layers r.
func tinyFile(t *testing.T, r model.Range, opts export.ExportOptions) (string, *model.Config) {
	t.Helper()
	cfg := testenv.TinyConfig(t)
	opts.Range = r
	return exportFile(t, t.TempDir(), cfg, testenv.RandomWeights(cfg, 7), opts), cfg
}

func tinyTokens(size, seq int) frozen.Batch {
	b := frozen.Batch{Size: size, SeqLen: seq}
	for i := 0; i < size*seq; i++ {
		b.InputIDs = append(b.InputIDs, int64(1+i*7%39))
		m := int64(1)
		if i%seq >= seq-i/seq%seq { // row r has its last r tokens padded
			m = 0
		}
		b.Mask = append(b.Mask, m)
	}
	return b
}

func TestProviderFallback(t *testing.T) {
	initORT(t)
	p, _ := tinyFile(t, model.Range{Start: 0, End: 3}, export.ExportOptions{})
	for _, prov := range []frozen.Provider{frozen.CUDA, frozen.TensorRT} {
		var logs bytes.Buffer
		r := newRunner(t, p, frozen.RunnerOptions{Provider: prov, TensorRTFP16: true, TensorRTCacheDir: t.TempDir(),
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if r.Provider() != frozen.CPU {
			t.Skipf("%s loaded: this machine has a GPU build of ONNX Runtime", prov)
		}
		if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "falling back to CPU") ||
			!strings.Contains(logs.String(), "provider="+string(prov)) {
			t.Errorf("%s: no fallback warning; log:\n%s", prov, logs.String())
		}
		if _, err := r.Run(tinyTokens(2, 5)); err != nil {
			t.Fatal(err)
		}
		_, err := frozen.NewRunner(p, frozen.RunnerOptions{Provider: prov, StrictProvider: true})
		if !errors.Is(err, frozen.ErrProvider) || !strings.Contains(err.Error(), "ORT_LIB") {
			t.Errorf("%s, strict: err = %v, want ErrProvider", prov, err)
		}
	}
	if _, err := frozen.NewRunner(p, frozen.RunnerOptions{Provider: "tpu"}); err == nil || !strings.Contains(err.Error(), "want cpu, cuda or tensorrt") {
		t.Errorf("unknown provider: err = %v", err)
	}
}

// A damaged model file gives an error that names it; nothing crashes.
func TestCorruptModel(t *testing.T) {
	initORT(t)
	good, _ := tinyFile(t, model.Range{Start: 0, End: 2}, export.ExportOptions{})
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	flipped := append([]byte(nil), data...)
	for i := len(flipped) / 3; i < len(flipped)/3+64; i++ {
		flipped[i] ^= 0x5a
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"truncated to 10 bytes", data[:10]},
		{"truncated to half", data[:len(data)/2]},
		{"truncated by one byte", data[:len(data)-1]},
		{"text", []byte("<html>404 not found</html>")},
		{"bytes flipped", flipped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".onnx")
			if err := os.WriteFile(p, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := frozen.NewRunner(p, frozen.RunnerOptions{})
			if err == nil {
				// Flipped bytes inside a weight make a valid file with wrong
				// numbers; ONNX carries no checksum.
				r.Close()
				if tc.name != "bytes flipped" {
					t.Fatal("no error")
				}
				return
			}
			if !errors.Is(err, frozen.ErrModel) || !strings.Contains(err.Error(), p) {
				t.Fatalf("err = %v, want ErrModel naming %s", err, p)
			}
			t.Log(err)
		})
	}
	_, err = frozen.NewRunner(filepath.Join(dir, "missing.onnx"), frozen.RunnerOptions{})
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.onnx") {
		t.Errorf("missing file: err = %v", err)
	}
}

func TestBadBatch(t *testing.T) {
	initORT(t)
	p, cfg := tinyFile(t, model.Range{Start: 0, End: 1}, export.ExportOptions{})
	tok := newRunner(t, p, frozen.RunnerOptions{})
	p2, _ := tinyFile(t, model.Range{Start: 1, End: 3}, export.ExportOptions{})
	hid := newRunner(t, p2, frozen.RunnerOptions{})
	good := tinyTokens(2, 4)
	for _, tc := range []struct {
		name string
		r    *frozen.Runner
		b    frozen.Batch
		want string
	}{
		{"zero batch", tok, frozen.Batch{Size: 0, SeqLen: 4}, "must be positive"},
		{"short ids", tok, frozen.Batch{Size: 2, SeqLen: 4, InputIDs: good.InputIDs[:7]}, "InputIDs has 7 values, want 8"},
		{"short mask", tok, frozen.Batch{Size: 2, SeqLen: 4, InputIDs: good.InputIDs, Mask: good.Mask[:3]}, "Mask has 3 values"},
		{"short types", tok, frozen.Batch{Size: 2, SeqLen: 4, InputIDs: good.InputIDs, TokenTypeIDs: []int64{0}}, "TokenTypeIDs has 1"},
		{"hidden to token model", tok, frozen.Batch{Size: 2, SeqLen: 4, Hidden: make([]float32, 64)}, "give InputIDs"},
		{"ids to hidden model", hid, good, "give Hidden"},
		{"short hidden", hid, frozen.Batch{Size: 2, SeqLen: 4, Hidden: make([]float32, 63)}, "Hidden has 63 values, want 64"},
		{"too long", tok, frozen.Batch{Size: 1, SeqLen: cfg.MaxPositions + 1, InputIDs: make([]int64, cfg.MaxPositions+1)}, "over the model's 16 positions"},
		{"id out of vocabulary", tok, frozen.Batch{Size: 1, SeqLen: 2, InputIDs: []int64{1, 999}}, "run batch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.r.Run(tc.b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if !tok.TakesTokens() || hid.TakesTokens() || hid.HiddenSize() != 8 {
		t.Error("TakesTokens/HiddenSize")
	}
	if r, err := hid.Layers(); err != nil || r != (model.Range{Start: 1, End: 3}) {
		t.Errorf("Layers() = %v, %v", r, err)
	}
	tok.Close()
	if _, err := tok.Run(good); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("closed runner: %v", err)
	}
}

// fp16 at the boundary (fp32 arithmetic) runs on the CPU and stays close to
// fp32.
func TestFP16IO(t *testing.T) {
	initORT(t)
	cfg := testenv.TinyConfig(t)
	w := testenv.RandomWeights(cfg, 7)
	dir := t.TempDir()
	b := tinyTokens(3, 6)
	for _, r := range []model.Range{{Start: 0, End: 3}, {Start: 1, End: 3}} {
		in := b
		if r.Start > 0 {
			h, err := newRunner(t, exportFile(t, dir, cfg, w, export.ExportOptions{Range: model.Range{Start: 0, End: r.Start}}), frozen.RunnerOptions{}).Run(b)
			if err != nil {
				t.Fatal(err)
			}
			in = frozen.Batch{Size: b.Size, SeqLen: b.SeqLen, Hidden: h, Mask: b.Mask}
		}
		want, err := newRunner(t, exportFile(t, dir, cfg, w, export.ExportOptions{Range: r}), frozen.RunnerOptions{}).Run(in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := newRunner(t, exportFile(t, dir, cfg, w, export.ExportOptions{Range: r, IODType: export.FP16}), frozen.RunnerOptions{}).Run(in)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxDiff(t, got, want, b.Mask, cfg.HiddenSize); d > 1e-2 {
			t.Errorf("%s: fp16 I/O differs by %g", r, d)
		}
	}
}

// fp16 on the real model, against fp32. Weights rounded to fp16 move the
// outputs by about 1e-3. An fp16 graph is meant for GPUs, but ONNX Runtime's
// CPU provider runs it too (casting around the ops it has no fp16 kernel
// for); should a runtime refuse it, the error must name the file.
func TestFP16MiniLM(t *testing.T) {
	initORT(t)
	cfg, w := testenv.MiniLM(t)
	dir := t.TempDir()
	b := paddedBatch()
	want, err := newRunner(t, exportFile(t, dir, cfg, w, export.ExportOptions{}), frozen.RunnerOptions{}).Run(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		opts export.ExportOptions
		tol  float64
	}{
		{export.ExportOptions{IODType: export.FP16}, 1e-2},
		{export.ExportOptions{DType: export.FP16}, 2e-2},
		{export.ExportOptions{DType: export.FP16, Fused: true}, 2e-2},
	} {
		p := exportFile(t, dir, cfg, w, tc.opts)
		r, err := frozen.NewRunner(p, frozen.RunnerOptions{})
		if err == nil {
			defer r.Close()
			var got []float32
			if got, err = r.Run(b); err == nil {
				d := maxDiff(t, got, want, b.Mask, cfg.HiddenSize)
				t.Logf("dtype=%s io=%s fused=%v: max |fp16 - fp32| = %.3g", tc.opts.DType, tc.opts.IODType, tc.opts.Fused, d)
				if d > tc.tol {
					t.Errorf("dtype=%s io=%s fused=%v: differs from fp32 by %g", tc.opts.DType, tc.opts.IODType, tc.opts.Fused, d)
				}
				continue
			}
		}
		if tc.opts.DType != export.FP16 || !strings.Contains(err.Error(), p) {
			t.Errorf("dtype=%s io=%s: %v", tc.opts.DType, tc.opts.IODType, err)
		}
		t.Logf("fp16 graph on this CPU runtime: %v", err)
	}
}

// A model written with external data runs and gives what the inline one
// gives, bit for bit.
func TestExternalDataRuns(t *testing.T) {
	initORT(t)
	cfg := testenv.TinyConfig(t)
	w := testenv.RandomWeights(cfg, 7)
	m, err := export.Export(cfg, w, export.ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	inline, ext := filepath.Join(dir, "inline.onnx"), filepath.Join(dir, "ext.onnx")
	if err := export.WriteModel(inline, m); err != nil {
		t.Fatal(err)
	}
	if err := export.WriteModelWith(ext, m, export.WriteOptions{MaxInline: 22000, MinExternal: 256}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ext + export.ExternalDataSuffix); err != nil {
		t.Fatal(err)
	}
	b := tinyTokens(2, 5)
	want, err := newRunner(t, inline, frozen.RunnerOptions{}).Run(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := newRunner(t, ext, frozen.RunnerOptions{}).Run(b)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(t, got, want, nil, cfg.HiddenSize); d != 0 {
		t.Errorf("external data model differs by %g", d)
	}
	testenv.CheckONNX(t, ext)

	// Without its data file the model cannot load; the error names it.
	if err := os.Remove(ext + export.ExternalDataSuffix); err != nil {
		t.Fatal(err)
	}
	if _, err := frozen.NewRunner(ext, frozen.RunnerOptions{}); !errors.Is(err, frozen.ErrModel) || !strings.Contains(err.Error(), ext) {
		t.Errorf("missing data file: err = %v", err)
	}
}

func TestExportAndOpen(t *testing.T) {
	initORT(t)
	cfg := testenv.TinyConfig(t)
	w := testenv.RandomWeights(cfg, 7)
	p := filepath.Join(t.TempDir(), "prefix.onnx")
	r, err := frozen.ExportAndOpen(p, cfg, w, export.ExportOptions{Range: model.Range{Start: 0, End: 2}}, frozen.RunnerOptions{IntraOpThreads: 1, Optimization: frozen.OptimizeBasic})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fp, _ := model.Fingerprint(w, cfg.RangeParams(model.Range{Start: 0, End: 2}))
	if r.Metadata()[export.MetaFingerprint] != fp || r.Path() != p {
		t.Error("metadata or path")
	}
	if _, err := frozen.ExportAndOpen(p, cfg, w, export.ExportOptions{Range: model.Range{Start: 2, End: 9}}, frozen.RunnerOptions{}); !errors.Is(err, export.ErrOptions) {
		t.Errorf("bad range: err = %v", err)
	}
}

func TestPipeline(t *testing.T) {
	initORT(t)
	p, _ := tinyFile(t, model.Range{Start: 0, End: 3}, export.ExportOptions{})
	r := newRunner(t, p, frozen.RunnerOptions{})
	const n = 7
	batch := func(i int) frozen.Batch { return tinyTokens(1+i%3, 3+i) }
	var got [][]float32
	err := r.Pipeline(context.Background(), n, func(i int) (frozen.Batch, error) { return batch(i), nil },
		func(i int, out []float32) error {
			if i != len(got) {
				return fmt.Errorf("batch %d out of order", i)
			}
			got = append(got, out)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		want, err := r.Run(batch(i))
		if err != nil {
			t.Fatal(err)
		}
		if d := maxDiff(t, got[i], want, nil, 8); d != 0 {
			t.Errorf("batch %d differs by %g", i, d)
		}
	}

	boom := errors.New("boom")
	ok := func(i int) (frozen.Batch, error) { return batch(i), nil }
	sink := func(int, []float32) error { return nil }
	for _, tc := range []struct {
		name    string
		produce func(int) (frozen.Batch, error)
		consume func(int, []float32) error
		want    string
	}{
		{"producer fails", func(i int) (frozen.Batch, error) {
			if i == 3 {
				return frozen.Batch{}, boom
			}
			return batch(i), nil
		}, sink, "prepare batch 3: boom"},
		{"consumer fails", ok, func(i int, _ []float32) error {
			if i == 2 {
				return boom
			}
			return nil
		}, "consume batch 2: boom"},
		{"bad batch", func(i int) (frozen.Batch, error) {
			b := batch(i)
			if i == 4 {
				b.InputIDs = b.InputIDs[:1]
			}
			return b, nil
		}, sink, "batch 4:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := r.Pipeline(context.Background(), 100, tc.produce, tc.consume)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Pipeline(ctx, 100, ok, sink); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}

// Every opset the exporter writes loads in ONNX Runtime and computes the
// same numbers.
func TestOpsets(t *testing.T) {
	initORT(t)
	cfg := testenv.TinyConfig(t)
	w := testenv.RandomWeights(cfg, 7)
	dir := t.TempDir()
	b := tinyTokens(2, 5)
	var want []float32
	for opset := export.MinOpset; opset <= export.MaxOpset; opset++ {
		for _, fused := range []bool{false, true} {
			m, err := export.Export(cfg, w, export.ExportOptions{Opset: opset, Fused: fused})
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, fmt.Sprintf("opset%d_%v.onnx", opset, fused))
			if err := export.WriteModel(p, m); err != nil {
				t.Fatal(err)
			}
			got, err := newRunner(t, p, frozen.RunnerOptions{}).Run(b)
			if err != nil {
				t.Fatalf("opset %d fused=%v: %v", opset, fused, err)
			}
			if want == nil {
				want = got
			} else if d := maxDiff(t, got, want, b.Mask, cfg.HiddenSize); d > 1e-5 {
				t.Errorf("opset %d fused=%v differs by %g", opset, fused, d)
			}
		}
	}
}
