package frozen_test

import (
	"testing"

	"github.com/autofreeze/autofreeze/frozen"
	"github.com/autofreeze/autofreeze/frozen/export"
	"github.com/autofreeze/autofreeze/frozen/internal/testenv"
	"github.com/autofreeze/autofreeze/model"
)

// The whole encoder, exported from the safetensors weights, matches the
// official ONNX export of the same model (written by PyTorch's exporter,
// not by us) on the real tokens of a padded batch.
func TestParityWithReference(t *testing.T) {
	initORT(t)
	cfg, w := testenv.MiniLM(t)
	ref := newRunner(t, testenv.ReferenceONNX(t), frozen.RunnerOptions{})
	b := paddedBatch()
	want, err := ref.Run(b)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, fused := range []bool{false, true} {
		r := newRunner(t, exportFile(t, dir, cfg, w, export.ExportOptions{Fused: fused}), frozen.RunnerOptions{})
		got, err := r.Run(b)
		if err != nil {
			t.Fatal(err)
		}
		d := maxDiff(t, got, want, b.Mask, cfg.HiddenSize)
		t.Logf("fused=%v: max |ours - reference| over real tokens = %.3g", fused, d)
		if d > 1e-4 {
			t.Errorf("fused=%v: differs from the reference by %g", fused, d)
		}
	}
}

// Running [0,K) then [K,L) gives what [0,L) gives, in both forms; fused
// matches plain.
func TestParitySplitAndFused(t *testing.T) {
	initORT(t)
	cfg, w := testenv.MiniLM(t)
	dir := t.TempDir()
	b := paddedBatch()
	L := cfg.NumLayers
	run := func(r model.Range, fused bool, in frozen.Batch) []float32 {
		t.Helper()
		out, err := newRunner(t, exportFile(t, dir, cfg, w, export.ExportOptions{Range: r, Fused: fused}), frozen.RunnerOptions{}).Run(in)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	full := map[bool][]float32{}
	for _, fused := range []bool{false, true} {
		full[fused] = run(model.Range{Start: 0, End: L}, fused, b)
		for k := 1; k < L; k++ {
			h := run(model.Range{Start: 0, End: k}, fused, b)
			out := run(model.Range{Start: k, End: L}, fused, frozen.Batch{Size: b.Size, SeqLen: b.SeqLen, Hidden: h, Mask: b.Mask})
			d := maxDiff(t, out, full[fused], b.Mask, cfg.HiddenSize)
			if d > 1e-5 {
				t.Errorf("fused=%v: [0,%d) then [%d,%d) differs from [0,%d) by %g", fused, k, k, L, L, d)
			}
		}
	}
	d := maxDiff(t, full[true], full[false], b.Mask, cfg.HiddenSize)
	t.Logf("max |fused - plain| = %.3g", d)
	if d > 1e-4 {
		t.Errorf("fused differs from plain by %g", d)
	}
	// A middle segment, fused against plain.
	h := run(model.Range{Start: 0, End: 2}, false, b)
	mid := frozen.Batch{Size: b.Size, SeqLen: b.SeqLen, Hidden: h, Mask: b.Mask}
	if d := maxDiff(t, run(model.Range{Start: 2, End: 4}, true, mid), run(model.Range{Start: 2, End: 4}, false, mid), b.Mask, cfg.HiddenSize); d > 1e-4 {
		t.Errorf("layers 2:4: fused differs from plain by %g", d)
	}
}
