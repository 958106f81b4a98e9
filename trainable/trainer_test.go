package trainable

import (
	"math"
	"strings"
	"testing"

	"github.com/autofreeze/autofreeze/model"
)

func train(t *testing.T, tr *Trainer, steps int, lr float64) []float64 {
	t.Helper()
	b, labels := tinyBatch(6, 10, 3)
	var losses []float64
	for i := 0; i < steps; i++ {
		loss, err := tr.Backward(b, nil, 0, labels, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Step(lr); err != nil {
			t.Fatal(err)
		}
		losses = append(losses, loss)
	}
	return losses
}

func TestTrainingReducesLoss(t *testing.T) {
	tr := NewTrainer(tinyEncoder(t, 2), OptimConfig{NoDropout: true})
	losses := train(t, tr, 30, 1e-2)
	if !(losses[len(losses)-1] < 0.5*losses[0]) {
		t.Fatalf("loss did not fall on a batch it can memorise: first %.4f, last %.4f", losses[0], losses[len(losses)-1])
	}
}

func TestLearningRateZeroKeepsEveryWeight(t *testing.T) {
	e := tinyEncoder(t, 2)
	before := snapshot(t, e)
	train(t, NewTrainer(e, OptimConfig{}), 3, 0)
	after := snapshot(t, e)
	for name, w := range before {
		if !bitIdentical(w, after[name]) {
			t.Errorf("%s changed with learning rate 0", name)
		}
	}
}

func TestFrozenLayersStayBitIdentical(t *testing.T) {
	t.Run("fp32", func(t *testing.T) { testFrozenLayersStayBitIdentical(t, tinyEncoder(t, 2)) })
	t.Run("bf16", func(t *testing.T) {
		testFrozenLayersStayBitIdentical(t, tinyEncoderWith(t, 2, Options{Seed: 1, BF16: true}))
	})
}

func testFrozenLayersStayBitIdentical(t *testing.T, e *Encoder) {
	tr := NewTrainer(e, OptimConfig{})
	train(t, tr, 2, 1e-3) // moments exist for every parameter before freezing
	if err := tr.Freeze(2); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, e)
	train(t, tr, 3, 1e-2)
	after := snapshot(t, e)
	for name, w := range before {
		frozen := strings.HasPrefix(name, "embeddings.") || strings.HasPrefix(name, "encoder.layer.0.") || strings.HasPrefix(name, "encoder.layer.1.")
		same := bitIdentical(w, after[name])
		if frozen && !same {
			t.Errorf("frozen %s changed", name)
		}
		if !frozen && same && strings.HasSuffix(name, ".weight") {
			t.Errorf("trainable %s did not change", name)
		}
	}
	state, _, err := tr.OptimizerState()
	if err != nil {
		t.Fatal(err)
	}
	for name := range state {
		if strings.Contains(name, "embeddings.") || strings.Contains(name, "encoder.layer.0.") {
			t.Errorf("frozen parameter still has optimizer state %s", name)
		}
	}
}

func TestFreezeRefusesLastLayerAndUnfreezing(t *testing.T) {
	tr := NewTrainer(tinyEncoder(t, 2), OptimConfig{})
	if err := tr.Freeze(3); err == nil || !strings.Contains(err.Error(), "always trains") {
		t.Fatalf("freezing every layer: got %v", err)
	}
	if err := tr.Freeze(2); err != nil {
		t.Fatal(err)
	}
	if err := tr.Freeze(1); err == nil {
		t.Fatal("unfreezing was allowed")
	}
}

// TestCachedActivationsGiveTheLiveLoss: training the suffix from hidden
// states computed ahead of time (what the cache holds) gives the loss of
// running the frozen prefix live.
func TestCachedActivationsGiveTheLiveLoss(t *testing.T) {
	e := tinyEncoder(t, 2)
	tr := NewTrainer(e, OptimConfig{NoDropout: true})
	if err := tr.Freeze(2); err != nil {
		t.Fatal(err)
	}
	b, labels := tinyBatch(5, 9, 11)
	cached, err := e.Hidden(b, model.Range{Start: 0, End: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	live, err := tr.Backward(b, nil, 0, labels, 1)
	if err != nil {
		t.Fatal(err)
	}
	fromCache, err := tr.Backward(b, cached, 2, labels, 1)
	if err != nil {
		t.Fatal(err)
	}
	if d := math.Abs(live - fromCache); d > 1e-4 {
		t.Fatalf("loss with live prefix %.6f, from cached activations %.6f (diff %.2g)", live, fromCache, d)
	}
	// A cache one layer behind the freeze point: layer 1 runs live.
	behind, err := e.Hidden(b, model.Range{Start: 0, End: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fromOlder, err := tr.Backward(b, behind, 1, labels, 1)
	if err != nil {
		t.Fatal(err)
	}
	if d := math.Abs(live - fromOlder); d > 1e-4 {
		t.Fatalf("loss with live prefix %.6f, from layer-1 activations %.6f (diff %.2g)", live, fromOlder, d)
	}
	if err := tr.ZeroGrads(); err != nil {
		t.Fatal(err)
	}
}

// TestAdamWStep checks one update of the classifier bias against AdamW's
// formula computed here on the host.
func TestAdamWStep(t *testing.T) {
	e := tinyEncoder(t, 3)
	tr := NewTrainer(e, OptimConfig{NoDropout: true, MaxGradNorm: -1})
	b, labels := tinyBatch(4, 8, 5)
	const lr = 0.05
	var m, v []float64
	for step := 1; step <= 3; step++ {
		before := snapshot(t, e)
		if _, err := tr.Backward(b, nil, 0, labels, 1); err != nil {
			t.Fatal(err)
		}
		g := gradOf(t, e, model.ClassifierBias)
		w := gradOf(t, e, model.ClassifierWeight)
		if _, err := tr.Step(lr); err != nil {
			t.Fatal(err)
		}
		after := snapshot(t, e)
		if m == nil {
			m, v = make([]float64, len(g)), make([]float64, len(g))
		}
		b1, b2 := 1-math.Pow(0.9, float64(step)), 1-math.Pow(0.999, float64(step))
		for i := range g {
			m[i] = 0.9*m[i] + 0.1*g[i]
			v[i] = 0.999*v[i] + 0.001*g[i]*g[i]
			// Biases get no weight decay.
			want := float64(before[model.ClassifierBias].Data[i]) - lr/b1*m[i]/(math.Sqrt(v[i])/math.Sqrt(b2)+1e-8)
			if got := float64(after[model.ClassifierBias].Data[i]); math.Abs(got-want) > 1e-6 {
				t.Fatalf("step %d: bias[%d] = %.8f, want %.8f", step, i, got, want)
			}
		}
		_ = w
	}
	// Weights decay: with a zero gradient the weight would shrink by lr*wd.
	if tr.Steps() != 3 {
		t.Fatalf("steps = %d", tr.Steps())
	}
}

func gradOf(t *testing.T, e *Encoder, name string) []float64 {
	t.Helper()
	g := e.params[name].MustGrad(false)
	defer g.MustDrop()
	host := tensorToHost(g)
	out := make([]float64, len(host))
	for i, x := range host {
		out[i] = float64(x)
	}
	return out
}

func TestLayerGradNormsAreL1OfSummedGradients(t *testing.T) {
	e := tinyEncoder(t, 2)
	tr := NewTrainer(e, OptimConfig{NoDropout: true, MaxGradNorm: -1})
	tr.TrackLayerGrads(true)
	b, labels := tinyBatch(4, 8, 5)
	name := "encoder.layer.1.output.dense.weight"
	var sum []float64
	for i := 0; i < 2; i++ {
		if _, err := tr.Backward(b, nil, 0, labels, 1); err != nil {
			t.Fatal(err)
		}
		g := gradOf(t, e, name)
		if sum == nil {
			sum = make([]float64, len(g))
		}
		for j := range g {
			sum[j] += g[j]
		}
		if _, err := tr.Step(1e-3); err != nil {
			t.Fatal(err)
		}
	}
	norms, err := tr.TakeLayerGradNorms(false)
	if err != nil {
		t.Fatal(err)
	}
	if len(norms) != 3 {
		t.Fatalf("%d norms for 3 layers", len(norms))
	}
	one := 0.0
	for _, x := range sum {
		one += math.Abs(x)
	}
	if !(norms[1] > one) { // the layer's other parameters add to it
		t.Fatalf("layer 1 L1 norm %.6g is not above that of one of its parameters (%.6g)", norms[1], one)
	}
	again, _ := tr.TakeLayerGradNorms(false)
	for i, x := range again {
		if x != 0 {
			t.Fatalf("norms were not reset: layer %d has %g", i, x)
		}
	}
}

// In mixed precision training still learns, and its first loss is close
// to float32's but not equal to it (the bf16 path ran).
func TestBF16TrainsLikeFP32(t *testing.T) {
	fp32 := tinyEncoder(t, 2)
	bf16 := tinyEncoderWith(t, 2, Options{Seed: 1, BF16: true})
	l32 := train(t, NewTrainer(fp32, OptimConfig{NoDropout: true}), 30, 1e-2)
	l16 := train(t, NewTrainer(bf16, OptimConfig{NoDropout: true}), 30, 1e-2)
	if !(l16[len(l16)-1] < 0.5*l16[0]) {
		t.Fatalf("bf16 loss did not fall: first %.4f, last %.4f", l16[0], l16[len(l16)-1])
	}
	if d := math.Abs(l16[0] - l32[0]); d == 0 || d > 0.02 {
		t.Errorf("first loss bf16 %.5f vs fp32 %.5f: want different but within 0.02", l16[0], l32[0])
	}
}

// The gradients summed for the freeze policy survive a save and restore,
// so a run resumed between two decisions sees the same norms.
func TestGradSumsSurviveRestore(t *testing.T) {
	e := tinyEncoder(t, 2)
	tr := NewTrainer(e, OptimConfig{})
	tr.TrackLayerGrads(true)
	train(t, tr, 3, 1e-3)
	state, steps, err := tr.OptimizerState()
	if err != nil {
		t.Fatal(err)
	}
	sums := 0
	for name := range state {
		if strings.HasPrefix(name, gradSumPrefix) {
			sums++
		}
	}
	if sums == 0 {
		t.Fatal("no gradient sums in the saved state")
	}
	want, err := tr.TakeLayerGradNorms(false)
	if err != nil {
		t.Fatal(err)
	}
	other := NewTrainer(tinyEncoder(t, 2), OptimConfig{})
	other.TrackLayerGrads(true)
	if err := other.RestoreOptimizerState(state, steps); err != nil {
		t.Fatal(err)
	}
	got, err := other.TakeLayerGradNorms(false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got[i] != want[i] || want[i] == 0 {
			t.Errorf("layer %d: restored norm %v, saved %v", i, got[i], want[i])
		}
	}
}
