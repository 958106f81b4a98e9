package run

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/autofreeze/autofreeze/internal/tinymodel"
)

// TestFreezeStartFromFirstStep: --freeze auto --freeze-start 1 trains its
// first step with layer 0 frozen and reads it from a cache built before that
// step; the rule then decides among the other layers, never past
// --freeze-max, and never unfreezes the start.
func TestFreezeStartFromFirstStep(t *testing.T) {
	dir, modelDir, train, eval := tinyFiles(t)
	if err := tinymodel.WriteCSV(train, 320, 6); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "run")
	cfg := Config{Model: modelDir, Train: train, Eval: eval, Out: out, Epochs: 3, MaxLength: 24, BatchSize: 16, LogEvery: 1,
		LR: 5e-3, WarmupRatio: 0.1, Threads: 1, Freeze: "auto", FreezeStart: 1, FreezeMax: 2, FreezeIntervals: 10,
		Cache: "auto", Engine: "torch"}
	if _, err := Train(context.Background(), cfg, Options{}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var firstBuild, firstFreeze map[string]any
	steps := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		switch rec["type"] {
		case "cache":
			if rec["event"] == "built" && firstBuild == nil {
				firstBuild = rec
			}
		case "step":
			steps++
			if k := rec["frozen_layers"].(float64); k < 1 || k > 2 {
				t.Fatalf("step %v: %v layers frozen, want 1 (the start) to 2 (the cap)", rec["step"], k)
			}
		case "freeze":
			if firstFreeze == nil {
				firstFreeze = rec
			}
		}
	}
	if firstBuild == nil || firstBuild["step"].(float64) != 0 || firstBuild["k"].(float64) != 1 {
		t.Fatalf("first cache built: %v, want K=1 at step 0", firstBuild)
	}
	if steps == 0 || firstFreeze == nil {
		t.Fatal("no step or no freeze decision logged")
	}
	if firstFreeze["old_k"].(float64) != 1 {
		t.Fatalf("first decision starts from K=%v, want the start of 1", firstFreeze["old_k"])
	}
	st, err := loadTrainerState(filepath.Join(out, "checkpoints", "last"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Cache == nil || st.Cache.K < 1 {
		t.Fatalf("the run ended reading cache %+v, want one at K ≥ 1", st.Cache)
	}
}
