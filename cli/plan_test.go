package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/autofreeze/autofreeze/plan"
)

// TestPlanProfileAndPredict: `plan profile` measures the tiny model at
// every freeze point and writes a profile the cost model accepts; `plan`
// turns it and a real AutoFreeze run's schedule into one row per cluster
// size.
func TestPlanProfileAndPredict(t *testing.T) {
	f := newFixture(t)
	profile := filepath.Join(f.dir, "profile.json")
	code, stdout, stderr := cmd(t, "--quiet", "plan", "profile", "--model", f.model, "--train", f.train, "--eval", f.eval,
		"--batch-size", "8", "--grad-accum", "2", "--max-length", "24", "--epochs", "2", "--engine", "torch", "--threads", "1",
		"--steps", "2", "--output", profile)
	if code != 0 {
		t.Fatalf("plan profile exited %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, profile) {
		t.Errorf("plan profile does not say where the profile is: %q", stdout)
	}
	p, err := plan.ReadProfile(profile)
	if err != nil {
		t.Fatal(err)
	}
	if p.Layers != 4 || p.Examples != 320 || p.Epochs != 2 || p.GlobalBatch != 16 || p.Threads != 1 {
		t.Errorf("profile describes %+v, want the tiny model's 4 layers, 320 examples, 2 epochs, global batch 16, 1 thread", p)
	}
	for k := 1; k < p.Layers; k++ {
		if p.GradBytes[k] >= p.GradBytes[k-1] || p.CacheSecondsPerExample[k] <= 0 {
			t.Errorf("k=%d: %d gradient bytes (k-1: %d), %g s per cached example: freezing must shrink the gradients, and caching must take time",
				k, p.GradBytes[k], p.GradBytes[k-1], p.CacheSecondsPerExample[k])
		}
	}

	run := filepath.Join(f.dir, "autofreeze")
	if code, _, stderr := cmd(t, dataParallelArgs(f, run, "--epochs", "2")...); code != 0 {
		t.Fatalf("AutoFreeze run exited %d: %s", code, stderr)
	}
	code, stdout, stderr = cmd(t, "plan", "--profile", profile, "--schedule", filepath.Join(run, "metrics.jsonl"), "--workers", "2,4")
	if code != 0 {
		t.Fatalf("plan exited %d: %s", code, stderr)
	}
	for _, row := range []string{"\n| 2 |", "\n| 4 |"} {
		if !strings.Contains(stdout, row) {
			t.Errorf("the prediction lacks the row %q:\n%s", strings.TrimSpace(row), stdout)
		}
	}
}
