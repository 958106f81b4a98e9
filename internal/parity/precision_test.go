package parity

import (
	"fmt"
	"testing"

	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/trainable"
)

// TestBF16StaysClose: all-MiniLM-L6-v2 in mixed precision (bf16 matrix
// products, everything else float32) gives hidden states close
// to float32's on real sentences. bfloat16 keeps 8 bits of mantissa, so
// each product carries about 0.4% error; measured: 0.27% RMS after one
// layer, 0.76% after six, worst-token cosine 0.9999. The bounds leave room
// for other BLAS builds: cosine >= 0.999 for every real token and an RMS
// error of at most 2% of the RMS. The arithmetic is the same whether
// the CPU has AVX512-BF16 or libtorch emulates it, so this runs anywhere.
func TestBF16StaysClose(t *testing.T) {
	dir, cfg, w := miniLM(t)
	b := batch(t, dir)
	h := cfg.HiddenSize
	fp32 := newEncoder(t, cfg, w)
	bf16, err := trainable.New(cfg, w.Tensors, 0, trainable.Options{BF16: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bf16.Close()
	for _, r := range []model.Range{{Start: 0, End: 1}, {Start: 0, End: cfg.NumLayers}, {Start: 3, End: cfg.NumLayers}} {
		t.Run(fmt.Sprintf("layers_%d_%d", r.Start, r.End), func(t *testing.T) {
			var in []float32
			if r.Start > 0 {
				if in, err = fp32.Hidden(b, model.Range{Start: 0, End: r.Start}, nil); err != nil {
					t.Fatal(err)
				}
			}
			want, err := fp32.Hidden(b, r, in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := bf16.Hidden(b, r, in)
			if err != nil {
				t.Fatal(err)
			}
			minCos, rel := drift(got, want, b, h)
			t.Logf("layers %v bf16: min cosine %.5f, RMS error / RMS = %.4f", r, minCos, rel)
			if !(minCos >= 0.999) || !(rel <= 0.02) {
				t.Errorf("bf16 states drift: min cosine %.5f (want >= 0.999), relative RMS error %.4f (want <= 0.02)", minCos, rel)
			}
			if d := maxDiffRealTokens(got, want, b, h); d == 0 {
				t.Error("bf16 gives exactly the float32 states: the mixed-precision path did not run")
			}
		})
	}
}
