package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/autofreeze/autofreeze/report"
)

// The time-to-accuracy protocol. Every method trains on the same data with
// a held-out evaluation every EvalEvery steps (evaluation time counted in
// the clock); the target is the mean, over the seeds, of full fine-tuning's
// best held-out accuracy minus TargetDrop; a run's time to target is the
// wall time of its first evaluation at or above the target. The test
// accuracy is that of the run's selected checkpoint (lowest held-out loss).
// Summary is its machine-readable result, written as summary.json next to
// BENCHMARKS.md.

// SummaryFormat names the summary.json layout; bump it when fields change
// meaning.
const SummaryFormat = "autofreeze-bench-summary/1"

// Summary is the outcome of a bench over several seeds.
type Summary struct {
	Format     string   `json:"format"`
	Command    string   `json:"command"`
	Machine    string   `json:"machine"`
	Model      string   `json:"model"`
	Train      string   `json:"train"`
	Test       string   `json:"test"`
	TrainLimit int      `json:"train_limit"`
	EvalLimit  int      `json:"eval_limit"`
	TestLimit  int      `json:"test_limit"`
	Epochs     int      `json:"epochs"`
	MaxLength  int      `json:"max_length"`
	BatchSize  int      `json:"batch_size"`
	LR         float64  `json:"lr"`
	Threads    int      `json:"threads"`
	EvalEvery  int      `json:"eval_every"`
	Seeds      []uint64 `json:"seeds"`
	// TargetDrop is subtracted from full fine-tuning's mean best held-out
	// accuracy to give Target (both as fractions: 0.003 is 0.3 points).
	TargetDrop float64         `json:"target_drop"`
	Target     float64         `json:"target"`
	Methods    []MethodSummary `json:"methods"`
}

// MethodSummary is one method over every seed.
type MethodSummary struct {
	Name  string   `json:"name"`
	About string   `json:"about"`
	Args  []string `json:"args"`
	// TimeToTarget is over the runs that reached the target; Reached says
	// how many did.
	TimeToTarget Stat `json:"time_to_target_s"`
	// TimeToTargetBound is over every run, one that never reached the
	// target counted as its whole run: a lower bound on the mean time to
	// target where some did not reach it (Reached < N).
	TimeToTargetBound Stat         `json:"time_to_target_bound_s"`
	Reached           int          `json:"reached"`
	TestAccuracy      Stat         `json:"test_accuracy"`
	BestEvalAccuracy  Stat         `json:"best_eval_accuracy"`
	WallSeconds       Stat         `json:"wall_s"`
	PeakRSSMB         Stat         `json:"peak_rss_mb"`
	Runs              []RunSummary `json:"runs"`
}

// RunSummary is one method's run with one seed.
type RunSummary struct {
	Seed         uint64  `json:"seed"`
	Dir          string  `json:"dir"`
	WallSeconds  float64 `json:"wall_s"`
	TrainSeconds float64 `json:"train_s"`
	TimeToTarget float64 `json:"time_to_target_s,omitempty"`
	// StepsToTarget is the step of that evaluation: unlike its wall time,
	// the same on every rerun of the seed.
	StepsToTarget    int     `json:"steps_to_target,omitempty"`
	Reached          bool    `json:"reached"`
	BestEvalAccuracy float64 `json:"best_eval_accuracy"`
	TestAccuracy     float64 `json:"test_accuracy"`
	TestExamples     int     `json:"test_examples"`
	PeakRSSMB        float64 `json:"peak_rss_mb"`
	FinalFrozen      int     `json:"final_frozen"`
	IdealSpeedup     float64 `json:"ideal_speedup"`
	// Curve is held-out accuracy against wall time (evaluations counted).
	Curve []CurvePoint `json:"curve"`
}

// CurvePoint is one held-out evaluation.
type CurvePoint struct {
	Step     int     `json:"step"`
	Elapsed  float64 `json:"elapsed_s"`
	Accuracy float64 `json:"accuracy"`
}

// Stat is a mean and sample standard deviation over N values.
type Stat struct {
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	N    int     `json:"n"`
}

func stat(xs []float64) Stat {
	s := Stat{N: len(xs)}
	if s.N == 0 {
		return s
	}
	for _, x := range xs {
		s.Mean += x
	}
	s.Mean /= float64(s.N)
	if s.N > 1 {
		var ss float64
		for _, x := range xs {
			ss += (x - s.Mean) * (x - s.Mean)
		}
		s.Std = math.Sqrt(ss / float64(s.N-1))
	}
	return s
}

// TimeToTarget is the wall time of the first evaluation (in time order)
// whose accuracy reaches target; ok is false when none does.
func TimeToTarget(evals []report.Point, target float64) (seconds float64, ok bool) {
	p, ok := firstReaching(evals, target)
	return p.Elapsed, ok
}

// firstReaching is the first evaluation (in time order) whose accuracy
// reaches target.
func firstReaching(evals []report.Point, target float64) (report.Point, bool) {
	sorted := slices.Clone(evals)
	slices.SortStableFunc(sorted, func(a, b report.Point) int { return cmpFloat(a.Elapsed, b.Elapsed) })
	for _, e := range sorted {
		if e.Accuracy >= target {
			return e, true
		}
	}
	return report.Point{}, false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Summarize groups results (any number of seeds, in order) by method and
// computes the target from the method named reference (full fine-tuning).
func Summarize(o Options, results []*Result, reference string, targetDrop float64) (*Summary, error) {
	s := &Summary{Format: SummaryFormat, Model: o.Model, Train: o.Train, Test: o.Test,
		TrainLimit: o.TrainLimit, EvalLimit: o.EvalLimit, TestLimit: o.TestLimit, Epochs: o.Epochs,
		MaxLength: o.MaxLength, BatchSize: o.BatchSize, LR: o.LR, Threads: o.Threads, EvalEvery: o.EvalEvery,
		TargetDrop: targetDrop}
	byName := map[string]*MethodSummary{}
	var refBest []float64
	for _, r := range results {
		if !slices.Contains(s.Seeds, r.Seed) {
			s.Seeds = append(s.Seeds, r.Seed)
		}
		if !slices.ContainsFunc(s.Methods, func(m MethodSummary) bool { return m.Name == r.Mode.Name }) {
			s.Methods = append(s.Methods, MethodSummary{Name: r.Mode.Name, About: r.Mode.About, Args: r.Mode.Args})
		}
		if r.Mode.Name == reference {
			refBest = append(refBest, r.BestEvalAcc)
		}
	}
	if len(refBest) == 0 {
		return nil, fmt.Errorf("no %s runs: the target is defined by them", reference)
	}
	s.Target = stat(refBest).Mean - targetDrop
	for i := range s.Methods {
		byName[s.Methods[i].Name] = &s.Methods[i]
	}
	for _, r := range results {
		m := byName[r.Mode.Name]
		rs := RunSummary{Seed: r.Seed, Dir: r.RunDir, WallSeconds: r.WallSeconds, TrainSeconds: r.TrainSeconds,
			BestEvalAccuracy: r.BestEvalAcc, TestAccuracy: r.TestAccuracy, TestExamples: r.TestExamples,
			PeakRSSMB: float64(r.PeakRSSBytes) / (1 << 20), FinalFrozen: r.FinalFrozen, IdealSpeedup: r.IdealSpeedup}
		if r.Run != nil {
			var p report.Point
			if p, rs.Reached = firstReaching(r.Run.Evals, s.Target); rs.Reached {
				rs.TimeToTarget, rs.StepsToTarget = p.Elapsed, p.Step
			}
			for _, e := range r.Run.Evals {
				rs.Curve = append(rs.Curve, CurvePoint{Step: e.Step, Elapsed: e.Elapsed, Accuracy: e.Accuracy})
			}
		}
		m.Runs = append(m.Runs, rs)
	}
	for i := range s.Methods {
		m := &s.Methods[i]
		var ttt, bound, test, best, wall, rss []float64
		for _, r := range m.Runs {
			if r.Reached {
				ttt = append(ttt, r.TimeToTarget)
				bound = append(bound, r.TimeToTarget)
			} else {
				bound = append(bound, r.TrainSeconds)
			}
			test, best = append(test, r.TestAccuracy), append(best, r.BestEvalAccuracy)
			wall, rss = append(wall, r.WallSeconds), append(rss, r.PeakRSSMB)
		}
		m.Reached = len(ttt)
		m.TimeToTarget, m.TimeToTargetBound = stat(ttt), stat(bound)
		m.TestAccuracy, m.BestEvalAccuracy = stat(test), stat(best)
		m.WallSeconds, m.PeakRSSMB = stat(wall), stat(rss)
	}
	return s, nil
}

// WriteJSON writes the summary, indented.
func (s *Summary) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// Markdown writes the time-to-accuracy table: per method, the time to
// target (mean ± std over the runs that reached it), its ratio to the
// reference's, and the accuracies.
func (s *Summary) Markdown(w io.Writer, reference string) {
	fmt.Fprintf(w, "Target: %.2f%% held-out accuracy (the mean best of `%s` over seeds %v, minus %.1f points); "+
		"held-out evaluation every %d steps, its time counted.\n\n",
		100*s.Target, reference, s.Seeds, 100*s.TargetDrop, s.EvalEvery)
	var ref *MethodSummary
	for i := range s.Methods {
		if s.Methods[i].Name == reference {
			ref = &s.Methods[i]
		}
	}
	fmt.Fprintln(w, "| method | reached target | time to target | vs "+reference+" | every seed (never = whole run) | test accuracy | best held-out accuracy | wall time | peak RSS |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, m := range s.Methods {
		ttt, ratio := "never", "—"
		if m.Reached > 0 {
			ttt = fmt.Sprintf("%s ± %s", dur(m.TimeToTarget.Mean), dur(m.TimeToTarget.Std))
			if ref != nil && ref.Reached > 0 && m.TimeToTarget.Mean > 0 {
				ratio = fmt.Sprintf("%.2fx sooner", ref.TimeToTarget.Mean/m.TimeToTarget.Mean)
			}
		}
		bound := dur(m.TimeToTargetBound.Mean)
		if m.Reached < len(m.Runs) {
			bound = "≥ " + bound
		}
		fmt.Fprintf(w, "| %s | %d of %d | %s | %s | %s | %s | %s | %s | %.0f MB |\n", m.Name, m.Reached, len(m.Runs), ttt, ratio, bound,
			pct(m.TestAccuracy), pct(m.BestEvalAccuracy), dur(m.WallSeconds.Mean), m.PeakRSSMB.Mean)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Time to target is over the seeds that reached it; \"every seed\" counts a seed that never reached it as its whole run, a lower bound (≥) on the mean where some did not.")
	fmt.Fprintln(w)
	var notes []string
	for _, m := range s.Methods {
		notes = append(notes, fmt.Sprintf("- `%s`: %s (`%s`)", m.Name, m.About, strings.Join(m.Args, " ")))
	}
	fmt.Fprintln(w, strings.Join(notes, "\n"))
}

func pct(s Stat) string {
	if s.N > 1 {
		return fmt.Sprintf("%.2f ± %.2f%%", 100*s.Mean, 100*s.Std)
	}
	return fmt.Sprintf("%.2f%%", 100*s.Mean)
}
