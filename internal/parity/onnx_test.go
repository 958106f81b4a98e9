package parity

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autofreeze/autofreeze/frozen"
	"github.com/autofreeze/autofreeze/frozen/export"
	"github.com/autofreeze/autofreeze/internal/testenv"
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/text"
)

// checkONNX runs the PyPI onnx package's checker, with full_check (shape
// inference included), on path and fails t when it rejects the file. The
// checker is not ours: it is the venv `make setup` installs from
// scripts/requirements-check.txt. The test skips when that venv is absent.
func checkONNX(t *testing.T, path string) {
	t.Helper()
	py := filepath.Join(testenv.Deps(t), "venv", "bin", "python")
	if _, err := os.Stat(py); err != nil {
		t.Skipf("%s is missing, so the onnx checker cannot run: run `make setup`", py)
	}
	var out bytes.Buffer
	cmd := exec.Command(py, "-c", "import onnx, sys; onnx.checker.check_model(sys.argv[1], full_check=True)", path)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Errorf("onnx.checker.check_model(%s, full_check=True) rejects it (%v):\n%s", filepath.Base(path), err, strings.TrimSpace(out.String()))
	}
}

// TestExportMatchesGotch: every layer range autofreeze exports, plain and
// fused, passes the onnx checker, and on ONNX Runtime gives what the gotch
// (libtorch) forward of the same layers gives, within 1e-4 over the real
// tokens of a padded batch of real text, with the real MiniLM weights. The
// prefixes [0,K) start from token ids; the middle segments [A,B) start from
// the hidden states gotch computes entering layer A, so each segment is
// compared on exactly the same input.
func TestExportMatchesGotch(t *testing.T) {
	const tol = 1e-4
	dir, cfg, w := miniLM(t)
	initORT(t)
	enc := newEncoder(t, cfg, w)
	b := batch(t, dir)
	if !padded(b) {
		t.Fatal("the test batch has no padding; it must cover the attention mask")
	}
	L := cfg.NumLayers

	// gotch's hidden states after each prefix [0,K), K = 1..L: the
	// reference for the prefixes and the input of the middle segments.
	prefix := map[int][]float32{}
	for k := 1; k <= L; k++ {
		h, err := enc.Hidden(b, model.Range{Start: 0, End: k}, nil)
		if err != nil {
			t.Fatalf("gotch [0,%d): %v", k, err)
		}
		prefix[k] = h
	}

	type tcase struct {
		r     model.Range
		fused bool
	}
	var cases []tcase
	for k := 1; k <= L; k++ {
		for _, fused := range []bool{false, true} {
			cases = append(cases, tcase{model.Range{Start: 0, End: k}, fused})
		}
	}
	for _, r := range []model.Range{{Start: 1, End: 3}, {Start: 2, End: 4}, {Start: 3, End: 6}, {Start: 5, End: 6}} {
		if r.End > L {
			t.Fatalf("middle segment %v is past the model's %d layers", r, L)
		}
		for _, fused := range []bool{false, true} {
			cases = append(cases, tcase{r, fused})
		}
	}

	tmp := t.TempDir()
	for _, c := range cases {
		kind, form := "prefix", "plain"
		if c.r.Start > 0 {
			kind = "middle"
		}
		if c.fused {
			form = "fused"
		}
		name := fmt.Sprintf("%s_%d_%d_%s", kind, c.r.Start, c.r.End, form)
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(tmp, name+".onnx")
			defer os.Remove(path) // up to ~90 MB each; keep the temp dir small
			run, err := frozen.ExportAndOpen(path, cfg, w.Tensors,
				export.ExportOptions{Range: c.r, Fused: c.fused}, frozen.RunnerOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer run.Close()
			checkONNX(t, path)

			in := frozen.Batch{Size: b.Size, SeqLen: b.SeqLen, Mask: b.Mask}
			var gin []float32 // gotch's input: nil for a prefix
			if c.r.Start == 0 {
				in.InputIDs, in.TokenTypeIDs = b.IDs, b.TypeIDs
			} else {
				gin = prefix[c.r.Start]
				in.Hidden = gin
			}
			got, err := run.Run(in)
			if err != nil {
				t.Fatal(err)
			}
			want := prefix[c.r.End]
			if c.r.Start > 0 {
				if want, err = enc.Hidden(b, c.r, gin); err != nil {
					t.Fatalf("gotch %v: %v", c.r, err)
				}
			}
			if len(got) != len(want) {
				t.Fatalf("ONNX Runtime gives %d values, gotch %d", len(got), len(want))
			}
			d := maxDiffRealTokens(got, want, b, cfg.HiddenSize)
			t.Logf("layers [%d,%d) %s, %d x %d batch: max |ONNX Runtime - gotch| over real tokens = %.3g",
				c.r.Start, c.r.End, form, b.Size, b.SeqLen, d)
			if !(d <= tol) { // NaN fails too
				t.Errorf("max abs difference %.3g > %g", d, tol)
			}
		})
	}
}

// padded reports whether some row of b has padding.
func padded(b text.Batch) bool {
	for _, m := range b.Mask {
		if m == 0 {
			return true
		}
	}
	return false
}

// TestInt8ExportStaysClose: the fused export with int8 projection weights
// (export.ExportOptions.Int8) passes the onnx checker and stays close to
// the fp32 gotch forward of the same layers: every real token's hidden
// state points the same way (cosine similarity ≥ 0.99) and the error's RMS
// is within 8% of the states' RMS (measured: 2.4% after one layer, 5.1%
// after six; quantizing the output projection too gives 15%, which fails).
// It is not fp32, which is why it is an option.
func TestInt8ExportStaysClose(t *testing.T) {
	dir, cfg, w := miniLM(t)
	initORT(t)
	enc := newEncoder(t, cfg, w)
	b := batch(t, dir)
	h := cfg.HiddenSize
	for _, r := range []model.Range{{Start: 0, End: 1}, {Start: 0, End: 3}, {Start: 0, End: cfg.NumLayers}} {
		t.Run(fmt.Sprintf("prefix_%d_%d", r.Start, r.End), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "int8.onnx")
			run, err := frozen.ExportAndOpen(path, cfg, w.Tensors, export.ExportOptions{Range: r, Fused: true, Int8: true}, frozen.RunnerOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer run.Close()
			checkONNX(t, path)
			got, err := run.Run(frozen.Batch{Size: b.Size, SeqLen: b.SeqLen, Mask: b.Mask, InputIDs: b.IDs, TokenTypeIDs: b.TypeIDs})
			if err != nil {
				t.Fatal(err)
			}
			want, err := enc.Hidden(b, r, nil)
			if err != nil {
				t.Fatal(err)
			}
			minCos, rel := drift(got, want, b, h)
			t.Logf("layers %v int8: min cosine %.5f, RMS error / RMS = %.4f", r, minCos, rel)
			if !(minCos >= 0.99) || !(rel <= 0.08) {
				t.Errorf("int8 states drift: min cosine %.5f (want >= 0.99), relative RMS error %.4f (want <= 0.08)", minCos, rel)
			}
		})
	}
}

// drift compares hidden states got with want over b's real tokens: the
// lowest cosine similarity of one token's vectors, and the RMS of the error
// relative to the RMS of want.
func drift(got, want []float32, b text.Batch, h int) (minCos, rel float64) {
	minCos = 1.0
	errSq, refSq := 0.0, 0.0
	for i := 0; i < b.Size; i++ {
		for j := 0; j < b.Lengths[i]; j++ {
			off := (i*b.SeqLen + j) * h
			var dot, gg, ww float64
			for k := 0; k < h; k++ {
				g, x := float64(got[off+k]), float64(want[off+k])
				dot, gg, ww = dot+g*x, gg+g*g, ww+x*x
				errSq += (g - x) * (g - x)
				refSq += x * x
			}
			minCos = math.Min(minCos, dot/math.Sqrt(gg*ww))
		}
	}
	return minCos, math.Sqrt(errSq / refSq)
}
