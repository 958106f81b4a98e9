package frozen_test

import (
	"testing"

	"github.com/autofreeze/autofreeze/frozen"
	"github.com/autofreeze/autofreeze/frozen/export"
	"github.com/autofreeze/autofreeze/frozen/internal/testenv"
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/model/modeltest"
)

// Every model type, exported plain and fused, runs on ONNX Runtime to what
// transformers computes (model/testdata/<type>, references in float64):
// the whole encoder from token ids, a prefix [0,k) from token ids, and the
// suffix [k,L) from the reference states entering layer k. The onnx
// package's checker accepts every file.
func TestModelTypesMatchTransformers(t *testing.T) {
	initORT(t)
	const tol = 1e-4
	for _, typ := range modeltest.Types {
		t.Run(typ, func(t *testing.T) {
			f := modeltest.Load(t, typ)
			cfg := f.Config
			L, h := cfg.NumLayers, cfg.HiddenSize
			dir := t.TempDir()
			runners := map[string]*frozen.Runner{}
			var files []string
			for _, fused := range []bool{false, true} {
				run := func(r model.Range, b frozen.Batch) []float32 {
					t.Helper()
					key := testenv.Name(r, fused, "")
					if rn, ok := runners[key]; ok {
						out, err := rn.Run(b)
						if err != nil {
							t.Fatal(err)
						}
						return out
					}
					p := exportFile(t, dir, cfg, f.Weights.Tensors, export.ExportOptions{Range: r, Fused: fused})
					files = append(files, p)
					info, err := export.Inspect(p)
					if err != nil {
						t.Fatal(err)
					}
					if r.Start == 0 {
						hasTypes := false
						for _, in := range info.Inputs {
							hasTypes = hasTypes || in.Name == export.TokenTypeIDs
						}
						if hasTypes != cfg.HasTokenTypes() {
							t.Errorf("input token_type_ids present %v, want %v", hasTypes, cfg.HasTokenTypes())
						}
					}
					runners[key] = newRunner(t, p, frozen.RunnerOptions{})
					out, err := runners[key].Run(b)
					if err != nil {
						t.Fatal(err)
					}
					return out
				}
				var worst float64
				for i, tb := range f.Batches {
					tokens := frozen.Batch{Size: tb.Size, SeqLen: tb.SeqLen, InputIDs: tb.IDs, TokenTypeIDs: tb.TypeIDs, Mask: tb.Mask}
					worst = max(worst, maxDiff(t, run(model.Range{Start: 0, End: L}, tokens), f.Hidden(t, i, L), tb.Mask, h))
					for k := 1; k < L; k++ {
						worst = max(worst, maxDiff(t, run(model.Range{Start: 0, End: k}, tokens), f.Hidden(t, i, k), tb.Mask, h))
						hidden := frozen.Batch{Size: tb.Size, SeqLen: tb.SeqLen, Hidden: f.Hidden(t, i, k), Mask: tb.Mask}
						worst = max(worst, maxDiff(t, run(model.Range{Start: k, End: L}, hidden), f.Hidden(t, i, L), tb.Mask, h))
					}
				}
				t.Logf("fused=%v: max |ONNX Runtime - transformers| over real tokens = %.3g", fused, worst)
				if worst > tol {
					t.Errorf("fused=%v: differs from transformers by %g", fused, worst)
				}
			}
			testenv.CheckONNX(t, files...)
		})
	}
}
