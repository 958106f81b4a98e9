package trainable

import (
	"math"
	"strings"
	"testing"

	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/model/modeltest"
)

// The encoder of every model type computes what transformers computes for
// the same weights (model/testdata/<type>, references in float64): the
// hidden states after every layer from the token ids, the last layer's
// from the reference states entering any layer (how a cached prefix
// resumes), and the classifier's logits.
func TestModelTypesMatchTransformers(t *testing.T) {
	const tol = 1e-4
	for _, typ := range modeltest.Types {
		t.Run(typ, func(t *testing.T) {
			f := modeltest.Load(t, typ)
			cfg := f.Config
			e, err := New(cfg, f.Weights.Tensors, f.NumLabels(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if init := e.Initialised(); len(init) != 0 {
				t.Fatalf("the checkpoint should hold every parameter, but New initialised %v", init)
			}
			L, h := cfg.NumLayers, cfg.HiddenSize
			var worstHidden, worstResume, worstLogits float64
			for i, b := range f.Batches {
				for k := 1; k <= L; k++ {
					got, err := e.Hidden(b, model.Range{Start: 0, End: k}, nil)
					if err != nil {
						t.Fatal(err)
					}
					worstHidden = max(worstHidden, modeltest.MaxDiff(t, got, f.Hidden(t, i, k), b.Mask, h))
				}
				for k := 1; k < L; k++ {
					got, err := e.Hidden(b, model.Range{Start: k, End: L}, f.Hidden(t, i, k))
					if err != nil {
						t.Fatal(err)
					}
					worstResume = max(worstResume, modeltest.MaxDiff(t, got, f.Hidden(t, i, L), b.Mask, h))
				}
				logits, err := e.Logits(b)
				if err != nil {
					t.Fatal(err)
				}
				worstLogits = max(worstLogits, modeltest.MaxDiff(t, logits, f.Logits(t, i), nil, 1))
			}
			t.Logf("max |ours - transformers|: hidden states %.3g, resumed from layer k %.3g, logits %.3g", worstHidden, worstResume, worstLogits)
			if worstHidden > tol || worstResume > tol || worstLogits > tol {
				t.Errorf("differs from transformers by more than %g", tol)
			}
		})
	}
}

// AutoFreeze's steps run unchanged on every model type: training with
// dropout, freezing a prefix (which takes the embeddings, ELECTRA's
// projection included, out of training), training the suffix from the
// prefix's hidden states, and saving and restoring the optimizer state.
func TestModelTypesTrainAndFreeze(t *testing.T) {
	for _, typ := range modeltest.Types {
		t.Run(typ, func(t *testing.T) {
			f := modeltest.Load(t, typ)
			cfg := f.Config
			e, err := New(cfg, f.Weights.Tensors, 2, Options{Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			tr := NewTrainer(e, OptimConfig{})
			tr.TrackLayerGrads(true)
			b := f.Batches[0]
			labels := make([]int64, b.Size)
			for i := range labels {
				labels[i] = int64(i % 2)
			}
			step := func(in []float32, inLayer int) {
				t.Helper()
				loss, err := tr.Backward(b, in, inLayer, labels, 1)
				if err != nil {
					t.Fatal(err)
				}
				if math.IsNaN(loss) || loss <= 0 {
					t.Fatalf("loss %v", loss)
				}
				if _, err := tr.Step(1e-3); err != nil {
					t.Fatal(err)
				}
			}
			step(nil, 0)
			norms, err := tr.TakeLayerGradNorms(false)
			if err != nil {
				t.Fatal(err)
			}
			for i, n := range norms {
				if !(n > 0) {
					t.Errorf("layer %d has gradient norm %v", i, n)
				}
			}
			if err := tr.Freeze(1); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, e)
			in, err := e.Hidden(b, model.Range{Start: 0, End: 1}, nil)
			if err != nil {
				t.Fatal(err)
			}
			step(in, 1)
			step(nil, 0)
			after := snapshot(t, e)
			frozen := map[string]bool{}
			for _, p := range cfg.RangeParams(model.Range{Start: 0, End: 1}) {
				frozen[p.Name] = true
			}
			if cfg.HasEmbeddingProjection() && !frozen[model.EmbeddingsProject+".weight"] {
				t.Errorf("the embedding projection is not frozen with layer 0")
			}
			for _, p := range e.Params() {
				same := bitIdentical(before[p.Name], after[p.Name])
				if frozen[p.Name] != same {
					t.Errorf("%s: frozen %v, unchanged %v", p.Name, frozen[p.Name], same)
				}
			}
			state, steps, err := tr.OptimizerState()
			if err != nil {
				t.Fatal(err)
			}
			if err := tr.RestoreOptimizerState(state, steps); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A sequence longer than RoBERTa's positions allow (max_position_embeddings
// less pad_token_id+1) is refused with the limit, not indexed out of range.
func TestPaddingPositionsLimit(t *testing.T) {
	f := modeltest.Load(t, model.TypeRoBERTa)
	e, err := New(f.Config, f.Weights.Tensors, 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	n := f.Config.MaxSequenceLength()
	for _, seq := range []int{n, n + 1} {
		b, _ := tinyBatch(1, seq, 1)
		for i := range b.IDs {
			b.IDs[i] = 5
			b.Mask[i] = 1
		}
		_, err := e.Hidden(b, model.Range{Start: 0, End: 1}, nil)
		if seq == n && err != nil {
			t.Errorf("%d tokens: %v", seq, err)
		}
		if seq > n && (err == nil || !strings.Contains(err.Error(), "over the model's 40 positions")) {
			t.Errorf("%d tokens: got %v, want the limit named", seq, err)
		}
	}
}
