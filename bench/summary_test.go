package bench

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/autofreeze/autofreeze/report"
)

func evals(pairs ...float64) []report.Point {
	var ps []report.Point
	for i := 0; i+1 < len(pairs); i += 2 {
		ps = append(ps, report.Point{Step: i, Elapsed: pairs[i], Accuracy: pairs[i+1]})
	}
	return ps
}

func TestTimeToTargetIsTheFirstEvaluationInTimeOrder(t *testing.T) {
	// Out of order on purpose (resumed runs append); 0.85 is reached at
	// 120 s first, again at 300 s.
	ps := evals(300, 0.86, 60, 0.80, 120, 0.85, 200, 0.83)
	if s, ok := TimeToTarget(ps, 0.85); !ok || s != 120 {
		t.Errorf("TimeToTarget = %v, %v; want 120, true", s, ok)
	}
	if _, ok := TimeToTarget(ps, 0.9); ok {
		t.Error("a target above every evaluation was reached")
	}
}

func TestSummarize(t *testing.T) {
	run := func(name string, seed uint64, best float64, curve ...float64) *Result {
		return &Result{Mode: Mode{Name: name, About: name + " about"}, Seed: seed, BestEvalAcc: best, TestAccuracy: best - 0.01,
			WallSeconds: 100, TrainSeconds: 300, Run: &report.Run{Evals: evals(curve...)}}
	}
	results := []*Result{
		run("full", 1, 0.86, 100, 0.80, 200, 0.86),
		run("fast", 1, 0.85, 50, 0.853, 90, 0.85),
		run("full", 2, 0.84, 100, 0.84, 250, 0.83),
		run("fast", 2, 0.80, 50, 0.70, 90, 0.80),
	}
	s, err := Summarize(Options{EvalEvery: 50}, results, "full", 0.003)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(s.Target-0.847) > 1e-12 {
		t.Errorf("target %v, want mean(0.86, 0.84) - 0.003 = 0.847", s.Target)
	}
	if len(s.Methods) != 2 || s.Methods[0].Name != "full" || s.Methods[1].Name != "fast" || len(s.Seeds) != 2 {
		t.Fatalf("methods %+v, seeds %v", s.Methods, s.Seeds)
	}
	full, fast := s.Methods[0], s.Methods[1]
	if full.Reached != 1 || full.TimeToTarget.Mean != 200 || fast.Reached != 1 || fast.TimeToTarget.Mean != 50 {
		t.Errorf("full reached %d at %v, fast %d at %v", full.Reached, full.TimeToTarget, fast.Reached, fast.TimeToTarget)
	}
	if full.TimeToTargetBound.Mean != 250 || fast.TimeToTargetBound.Mean != 175 {
		t.Errorf("every seed, never counted as the whole run (300 s): full %v, fast %v; want 250 and 175", full.TimeToTargetBound, fast.TimeToTargetBound)
	}
	if fast.Runs[0].StepsToTarget != 0 || full.Runs[0].StepsToTarget != 2 || fast.Runs[1].Reached {
		t.Errorf("steps to target: fast %+v, full %+v", fast.Runs, full.Runs[0])
	}
	if math.Abs(full.TestAccuracy.Mean-0.84) > 1e-12 || math.Abs(full.TestAccuracy.Std-math.Sqrt(2)*0.01) > 1e-12 {
		t.Errorf("full test accuracy %+v, want mean 0.84, sample std 0.0141", full.TestAccuracy)
	}
	var md bytes.Buffer
	s.Markdown(&md, "full")
	for _, want := range []string{"Target: 84.70%", "| fast | 1 of 2 | 50.0 s ± 0.0 s | 4.00x sooner | ≥ 2m55s |", "| full | 1 of 2 | 3m20s ± 0.0 s | 1.00x sooner | ≥ 4m10s |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md.String())
		}
	}
	if _, err := Summarize(Options{}, results[1:2], "full", 0.003); err == nil {
		t.Error("a summary without the reference method has no target")
	}
}
