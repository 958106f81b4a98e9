package trainable

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/sugarme/gotch"

	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/text"
)

// TestGPUCheckTrainable is scripts/gpu-check.sh's libtorch part: a
// MiniLM-sized encoder (random weights, the same on both devices) on the
// device AUTOFREEZE_GPU_CHECK_DEVICE names (cuda on a GPU box; cpu for
// --dry-run) against the CPU: the forward pass's hidden states, and the
// weights after one AdamW training step, with the time of a step on each.
// One JSON line is appended to AUTOFREEZE_GPU_CHECK_REPORT. Without the
// variable it does nothing.
func TestGPUCheckTrainable(t *testing.T) {
	devName := os.Getenv("AUTOFREEZE_GPU_CHECK_DEVICE")
	if devName == "" {
		t.Skip("set AUTOFREEZE_GPU_CHECK_DEVICE (scripts/gpu-check.sh does)")
	}
	dev, _, err := ResolveDevice(devName, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &model.Config{
		ModelType: "bert", VocabSize: 30522, HiddenSize: 384, NumLayers: 6, NumHeads: 12,
		IntermediateSize: 1536, HiddenAct: "gelu", MaxPositions: 512, TypeVocabSize: 2,
		LayerNormEps: 1e-12, PositionEmbeddingType: "absolute",
	}
	const lr = 1e-5
	b, labels := tinyBatch(16, 128, 9)
	for i := range b.IDs {
		if b.Mask[i] == 1 {
			b.IDs[i] = 1000 + (b.IDs[i]*613)%28000
		}
	}
	type result struct {
		hidden  []float32
		weights map[string]*model.Tensor
	}
	// The forward pass, then the weights after one step.
	run := func(opts Options) result {
		e, err := New(cfg, nil, 2, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		hidden, err := e.Hidden(b, model.Range{Start: 0, End: cfg.NumLayers}, nil)
		if err != nil {
			t.Fatal(err)
		}
		tr := NewTrainer(e, OptimConfig{NoDropout: true})
		if _, err := tr.Backward(b, nil, 0, labels, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Step(lr); err != nil {
			t.Fatal(err)
		}
		w, err := e.Weights()
		if err != nil {
			t.Fatal(err)
		}
		return result{hidden: hidden, weights: w}
	}
	cpu := run(Options{Device: gotch.CPU, Seed: 5})
	other := run(Options{Device: dev, Seed: 5})
	cpuStep := timeSteps(t, cfg, Options{Device: gotch.CPU, Seed: 5}, b, labels)
	devStep := timeSteps(t, cfg, Options{Device: dev, Seed: 5}, b, labels)

	var dh, dw float64
	for i := range cpu.hidden {
		dh = math.Max(dh, math.Abs(float64(cpu.hidden[i]-other.hidden[i])))
	}
	for name, w := range cpu.weights {
		o := other.weights[name]
		for i := range w.Data {
			dw = math.Max(dw, math.Abs(float64(w.Data[i]-o.Data[i])))
		}
	}
	line, _ := json.Marshal(map[string]any{"check": "libtorch", "device": DeviceName(dev),
		"forward_max_abs_diff": dh, "weights_after_step_max_abs_diff": dw,
		"step_ms_cpu": cpuStep.Seconds() * 1e3, "step_ms_device": devStep.Seconds() * 1e3,
		"speedup_vs_cpu": cpuStep.Seconds() / devStep.Seconds()})
	t.Log(string(line))
	if path := os.Getenv("AUTOFREEZE_GPU_CHECK_REPORT"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(append(line, '\n'))
		f.Close()
	}
	// fp32 on both (libtorch 2.1 keeps TF32 off for matmuls by default).
	// AdamW's first step moves each weight by about lr whatever the size
	// of its gradient, so a gradient near 0 whose sign differs moves a
	// weight by up to 2 lr.
	if dh > 1e-3 {
		t.Errorf("hidden states differ from the CPU's by up to %g", dh)
	}
	if dw > 2*lr+1e-5 {
		t.Errorf("weights after one step differ from the CPU's by up to %g", dw)
	}
}

// timeSteps is the median time of five training steps after two warm-up
// steps.
func timeSteps(t *testing.T, cfg *model.Config, opts Options, b text.Batch, labels []int64) time.Duration {
	e, err := New(cfg, nil, 2, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	tr := NewTrainer(e, OptimConfig{NoDropout: true})
	var times []time.Duration
	for i := 0; i < 7; i++ {
		start := time.Now()
		if _, err := tr.Backward(b, nil, 0, labels, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Step(1e-5); err != nil {
			t.Fatal(err)
		}
		if i >= 2 {
			times = append(times, time.Since(start))
		}
	}
	slices.Sort(times)
	return times[len(times)/2]
}
