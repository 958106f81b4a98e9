package frozen_test

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autofreeze/autofreeze/frozen"
	"github.com/autofreeze/autofreeze/frozen/export"
	"github.com/autofreeze/autofreeze/frozen/internal/testenv"
	"github.com/autofreeze/autofreeze/model"
)

// TestGPUCheckPrefix is scripts/gpu-check.sh's ONNX Runtime part: MiniLM's
// whole encoder (fused, fp32) on each provider AUTOFREEZE_GPU_CHECK lists
// (cuda,tensorrt on a GPU box; cpu for --dry-run), against the CPU
// provider: the largest difference of the hidden states and examples per
// second at batch 32 x 128 tokens (AUTOFREEZE_GPU_CHECK_RUNS runs, default 20), one JSON line each appended to
// AUTOFREEZE_GPU_CHECK_REPORT. A provider that cannot load is reported as
// unavailable, with the reason, rather than failing the check. Without
// AUTOFREEZE_GPU_CHECK it does nothing.
func TestGPUCheckPrefix(t *testing.T) {
	list := os.Getenv("AUTOFREEZE_GPU_CHECK")
	if list == "" {
		t.Skip("set AUTOFREEZE_GPU_CHECK (scripts/gpu-check.sh does)")
	}
	initORT(t)
	cfg, w := testenv.MiniLM(t)
	const batch, seq = 32, 128
	runs := 20
	if n, err := strconv.Atoi(os.Getenv("AUTOFREEZE_GPU_CHECK_RUNS")); err == nil && n > 0 {
		runs = n // fewer for --dry-run, where the CPU runs every provider
	}
	rng := rand.New(rand.NewPCG(3, 4))
	in := frozen.Batch{Size: batch, SeqLen: seq}
	for i := 0; i < batch*seq; i++ {
		in.InputIDs = append(in.InputIDs, int64(1000+rng.IntN(28000)))
		in.Mask = append(in.Mask, 1)
	}
	p := exportFile(t, t.TempDir(), cfg, w, export.ExportOptions{Range: model.Range{Start: 0, End: cfg.NumLayers}, Fused: true})
	measure := func(r *frozen.Runner) ([]float32, float64) {
		out, err := r.Run(in) // warm-up (TensorRT builds its engine here)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for i := 0; i < runs; i++ {
			if out, err = r.Run(in); err != nil {
				t.Fatal(err)
			}
		}
		return out, float64(batch*runs) / time.Since(start).Seconds()
	}
	ref, cpuRate := measure(newRunner(t, p, frozen.RunnerOptions{}))
	report(t, map[string]any{"check": "ort-prefix", "provider": "cpu", "examples_per_s": cpuRate})
	for _, name := range strings.Split(list, ",") {
		prov, err := frozen.ParseProvider(name)
		if err != nil {
			t.Fatal(err)
		}
		opts := frozen.RunnerOptions{Provider: prov, StrictProvider: true}
		if prov == frozen.TensorRT {
			opts.TensorRTCacheDir = t.TempDir()
		}
		r, err := frozen.NewRunner(p, opts)
		if err != nil {
			report(t, map[string]any{"check": "ort-prefix", "provider": name, "unavailable": err.Error()})
			continue
		}
		out, rate := measure(r)
		r.Close()
		d := maxDiff(t, ref, out, nil, cfg.HiddenSize)
		report(t, map[string]any{"check": "ort-prefix", "provider": name, "max_abs_diff": d, "examples_per_s": rate,
			"speedup_vs_cpu": rate / cpuRate})
		if d > 1e-2 {
			t.Errorf("%s: hidden states differ from the CPU provider's by up to %g", name, d)
		}
	}
}

// report appends one JSON line to AUTOFREEZE_GPU_CHECK_REPORT (and logs it).
func report(t *testing.T, v map[string]any) {
	t.Helper()
	line, _ := json.Marshal(v)
	t.Log(string(line))
	path := os.Getenv("AUTOFREEZE_GPU_CHECK_REPORT")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(append(line, '\n')); err != nil {
		t.Fatal(err)
	}
}
