package bench

import (
	"os"
	"path/filepath"
	"testing"
)

// The baseline's result JSON (the fields scripts/pytorch_baseline.py
// writes) becomes a Result on our clock: evaluations at their wall time,
// the last one marked best is the selected checkpoint.
func TestReadPyTorchResult(t *testing.T) {
	path := filepath.Join(t.TempDir(), "result.json")
	const js = `{"format": "autofreeze-pytorch-baseline/1", "wall_seconds": 900.5, "train_seconds": 700, "examples": 12000, "peak_rss_mb": 2048,
	  "eval": [{"step": 50, "accuracy": 0.80, "loss": 0.45, "wall_seconds": 70.2, "best": true},
	           {"step": 100, "accuracy": 0.85, "loss": 0.36, "wall_seconds": 140.9, "best": true},
	           {"step": 150, "accuracy": 0.86, "loss": 0.40, "wall_seconds": 210.0, "best": false}],
	  "test": {"accuracy": 0.834, "examples": 2000}}`
	if err := os.WriteFile(path, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	m := Mode{Name: "pytorch-fp32"}
	r, err := readBaselineResult(path, Options{Seed: 7}, m, "dir")
	if err != nil {
		t.Fatal(err)
	}
	if r.Seed != 7 || r.BestEvalAcc != 0.85 || r.TestAccuracy != 0.834 || r.TestExamples != 2000 || r.WallSeconds != 900.5 ||
		r.PeakRSSBytes != 2048<<20 || r.ExamplesPerSec != 12000.0/700 || len(r.Run.Evals) != 3 {
		t.Errorf("result %+v", r)
	}
	if s, ok := TimeToTarget(r.Run.Evals, 0.85); !ok || s != 140.9 {
		t.Errorf("time to 85%%: %v %v, want 140.9", s, ok)
	}
	os.WriteFile(path, []byte("{"), 0o644)
	if _, err := readBaselineResult(path, Options{}, m, "dir"); err == nil {
		t.Error("a torn result file was read")
	}
}
