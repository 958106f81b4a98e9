package run

import (
	"errors"
	"math"
	"testing"
)

// FuzzValidate feeds random values to every numeric setting and a few
// enumerated ones: Validate never panics, and a configuration it accepts
// never starts training with a NaN, infinite, negative or
// zero-meaning-default value: it is a fixed point of WithDefaults (nothing
// the user gave is silently replaced), and its learning rate is positive
// and finite at every step of the schedule. Its seed corpus runs as part of
// `go test`; `go test -fuzz FuzzValidate ./run` explores further.
func FuzzValidate(f *testing.F) {
	d := Defaults()
	// The defaults, the values issue 14 found slipping through, and edges.
	f.Add(d.LR, d.WarmupRatio, d.WeightDecay, d.MaxGradNorm, d.EvalSplit, d.FreezePercentile, 0.0,
		d.MaxLength, d.BatchSize, d.EvalBatchSize, d.GradAccum, d.Epochs, 0, d.FreezeIntervals, 0, d.LogEvery, uint64(42), "linear", "off")
	nan, inf := math.NaN(), math.Inf(1)
	f.Add(d.LR, nan, d.WeightDecay, d.MaxGradNorm, d.EvalSplit, d.FreezePercentile, 0.0,
		d.MaxLength, d.BatchSize, d.EvalBatchSize, d.GradAccum, d.Epochs, 0, d.FreezeIntervals, 0, d.LogEvery, uint64(42), "linear", "off")
	f.Add(nan, 0.1, -5.0, nan, 0.1, 50.0, 0.0, 128, 16, 64, 1, 3, 0, -5, -4, 10, uint64(42), "linear", "99")
	f.Add(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0, 0, 0, 0, 0, 0, 0, 0, uint64(0), "", "")
	f.Add(inf, -inf, inf, -inf, inf, inf, inf, -1, -1, -1, -1, -1, -1, -1, 100000, -1, uint64(1), "stepped", "auto")
	f.Add(5e-5, 0.999999, 0.0, 0.0, 0.999, 100.0, 1.0, 512, 1, 1, 1<<20, 1, 1, 1, 1024, 1, uint64(7), "constant", "schedule")
	f.Add(1e-300, 0.5, 1e300, 1e300, 1e-9, 1e-9, 0.5, 8, 1<<20, 1<<20, 1, 1<<20, 1<<40, 1<<40, 0, 1, uint64(math.MaxUint64), "linear", "3")
	f.Fuzz(func(t *testing.T, lr, warmup, wd, clip, evalSplit, pct, scaling float64,
		maxLen, batch, evalBatch, accum, epochs, maxSteps, intervals, threads, logEvery int, seed uint64, schedule, freeze string) {
		c := Defaults()
		c.Model, c.Train, c.Out = "m", "t.csv", "o"
		c.LR, c.WarmupRatio, c.WeightDecay, c.MaxGradNorm, c.EvalSplit, c.FreezePercentile = lr, warmup, wd, clip, evalSplit, pct
		c.ClusterScalingEfficiency = scaling
		c.MaxLength, c.BatchSize, c.EvalBatchSize, c.GradAccum, c.Epochs, c.MaxSteps = maxLen, batch, evalBatch, accum, epochs, maxSteps
		c.FreezeIntervals, c.Threads, c.LogEvery, c.Seed, c.Schedule, c.Freeze = intervals, threads, logEvery, seed, schedule, freeze
		err := c.Validate()
		if err != nil {
			var se *SettingsError
			if !errors.As(err, &se) || len(se.Problems) == 0 {
				t.Fatalf("Validate returned %T %v, want a *SettingsError naming the settings", err, err)
			}
			for _, p := range se.Problems {
				if p.Key == "" || p.Want == "" {
					t.Fatalf("a problem without key or explanation: %+v", p)
				}
			}
			return
		}
		if c.WithDefaults() != c {
			t.Fatalf("Validate accepted a value WithDefaults replaces:\n%+v\n%+v", c, c.WithDefaults())
		}
		for _, x := range []float64{c.LR, c.WarmupRatio, c.WeightDecay, c.MaxGradNorm, c.EvalSplit, c.FreezePercentile, c.ClusterScalingEfficiency} {
			if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
				t.Fatalf("accepted a NaN, infinite or negative setting: %+v", c)
			}
		}
		for _, n := range []int{c.MaxLength, c.BatchSize, c.EvalBatchSize, c.GradAccum, c.Epochs, c.FreezeIntervals, c.LogEvery} {
			if n < 1 {
				t.Fatalf("accepted a count below 1: %+v", c)
			}
		}
		if c.Threads < 0 || c.Threads > MaxThreads || c.MaxSteps < 0 || c.Seed == 0 {
			t.Fatalf("accepted threads %d, max-steps %d, seed %d", c.Threads, c.MaxSteps, c.Seed)
		}
		if _, err := c.FreezeConfig(); err != nil {
			t.Fatalf("accepted freeze %q that FreezeConfig refuses: %v", c.Freeze, err)
		}
		// The schedule the run would follow, for a run of a few steps as
		// train.go computes it.
		for _, total := range []int{1, 7, 1000} {
			warm := int(math.Round(c.WarmupRatio * float64(total)))
			for _, step := range []int{0, warm, total / 2, total - 1} {
				lr := learningRate(c.Schedule, c.LR, step, total, warm)
				if !(lr > 0) || math.IsInf(lr, 0) {
					t.Fatalf("step %d of %d (warmup %d): learning rate %v from %+v", step, total, warm, lr, c)
				}
			}
		}
	})
}
