package plan

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// handProfile is small enough to price by hand: 4 layers, 1,600 examples in batches of 16
// (100 steps), one step takes 4 s with nothing frozen and 1 s with 3 layers frozen.
func handProfile() Profile {
	return Profile{
		Model: "hand", Layers: 4, Examples: 1600, Epochs: 1, GlobalBatch: 16, Threads: 1,
		StepSeconds:            []float64{4, 3, 2, 1},
		GradBytes:              []int64{4e8, 3e8, 2e8, 1e8},
		CacheSecondsPerExample: []float64{0, 0, 0, 0},
	}
}

// free is a cluster with free communication and linear scaling.
func free(w int) Cluster {
	return Cluster{Workers: w, BandwidthBytesPerS: math.Inf(1), ScalingEfficiency: 1}
}

func near(a, b, rel float64) bool { return math.Abs(a-b) <= rel*math.Max(math.Abs(a), math.Abs(b)) }

func predict(t *testing.T, p Profile, s Schedule, c Cluster) Prediction {
	t.Helper()
	pr, err := Predict(p, s, c)
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

// With free communication and linear scaling a step on W workers takes T(k)/W, so freezing 3
// layers for the second half of the run gives
//
//	speedup = S·T(0) / (S/2·T(0) + S/2·T(3)) = 2·4 / (4 + 1) = 1.6,
//
// the step-weighted harmonic mean of the per-phase speedups T(0)/T(K). The world size cancels.
func TestTwoPhaseSpeedupByHand(t *testing.T) {
	for _, w := range []int{1, 2, 8, 16} {
		pr := predict(t, handProfile(), Schedule{{0, 0}, {0.5, 3}}, free(w))
		if !near(pr.Speedup, 1.6, 1e-12) {
			t.Errorf("%d workers: speedup %v, want 1.6", w, pr.Speedup)
		}
		if want := 100 * 4 / float64(w); !near(pr.Full.Seconds, want, 1e-12) {
			t.Errorf("%d workers: full fine-tuning %v s, want %v", w, pr.Full.Seconds, want)
		}
	}
}

// The same with three phases and uneven lengths: 1/speedup = Σ f_i · T(K_i)/T(0).
func TestSpeedupIsTheStepWeightedHarmonicMean(t *testing.T) {
	s := Schedule{{0, 0}, {0.2, 1}, {0.7, 2}}
	pr := predict(t, handProfile(), s, free(4))
	want := 1 / (0.2*4/4 + 0.5*3/4 + 0.3*2/4)
	if !near(pr.Speedup, want, 1e-12) {
		t.Errorf("speedup %v, want %v", pr.Speedup, want)
	}
	steps := []int{}
	for _, ph := range pr.Performance.Phases {
		steps = append(steps, ph.Steps)
	}
	if len(steps) != 3 || steps[0] != 20 || steps[1] != 50 || steps[2] != 30 {
		t.Errorf("phase steps %v, want [20 50 30]", steps)
	}
}

// With free communication and linear scaling a step costs T(k) worker-seconds on any number of
// workers, so releasing workers saves nothing beyond what freezing saves: efficiency mode's
// cost reduction equals performance mode's speedup. It still releases them: with 3 layers
// frozen 2 of 8 workers take T(3)/2 = 0.5 s a step, exactly a full fine-tuning step on 8.
func TestEfficiencyModeReleasesWorkersButPerfectScalingSavesNothingExtra(t *testing.T) {
	pr := predict(t, handProfile(), Schedule{{0, 0}, {0.5, 3}}, free(8))
	ph := pr.Efficiency.Phases
	if len(ph) != 2 || ph[0].Workers != 8 || ph[1].Workers != 2 {
		t.Fatalf("efficiency mode phases %+v, want 8 then 2 workers", ph)
	}
	if !near(ph[1].StepSeconds, pr.Full.Phases[0].StepSeconds, 1e-12) {
		t.Errorf("a step on 2 workers with K=3 takes %v s, want %v (a full step on 8)", ph[1].StepSeconds, pr.Full.Phases[0].StepSeconds)
	}
	if !near(pr.CostReduction, 1.6, 1e-12) {
		t.Errorf("cost reduction %v, want 1.6", pr.CostReduction)
	}
	if !near(pr.Efficiency.Seconds, pr.Full.Seconds, 1e-12) {
		t.Errorf("efficiency mode takes %v s, want full fine-tuning's %v s", pr.Efficiency.Seconds, pr.Full.Seconds)
	}
}

// A run that never freezes is full fine-tuning in every mode, whatever the cluster.
func TestNeverFreezingChangesNothing(t *testing.T) {
	c := Cluster{Workers: 16, BandwidthBytesPerS: 1.25e9, LatencyS: 50e-6, RestartS: 120, ScalingEfficiency: 0.8}
	for _, s := range []Schedule{nil, {{0, 0}}, {{0, 0}, {0.5, 0}}} {
		pr := predict(t, handProfile(), s, c)
		if math.Abs(pr.Speedup-1) > 1e-12 || math.Abs(pr.CostReduction-1) > 1e-12 {
			t.Errorf("%v: speedup %v, cost reduction %v, want 1 and 1", s, pr.Speedup, pr.CostReduction)
		}
		for _, ph := range pr.Efficiency.Phases {
			if ph.Workers != 16 || ph.RestartSeconds != 0 {
				t.Errorf("%v: efficiency phase %+v, want 16 workers and no restart", s, ph)
			}
		}
	}
}

// One ring all-reduce of G bytes on W workers: 2(W−1)/W·G/β + 2(W−1)·α.
func TestAllReduceByHand(t *testing.T) {
	c := Cluster{Workers: 8, BandwidthBytesPerS: 1e9, LatencyS: 1e-4, ScalingEfficiency: 1}
	pr := predict(t, handProfile(), Schedule{{0, 0}, {0.5, 2}}, c)
	full, k2 := pr.Full.Phases[0], pr.Performance.Phases[1]
	if want := 2*7.0/8*4e8/1e9 + 2*7*1e-4; !near(full.CommSeconds, want, 1e-12) {
		t.Errorf("all-reduce of 400 MB on 8 workers: %v s, want %v", full.CommSeconds, want)
	}
	if want := 2*7.0/8*2e8/1e9 + 2*7*1e-4; !near(k2.CommSeconds, want, 1e-12) {
		t.Errorf("all-reduce of 200 MB on 8 workers: %v s, want %v", k2.CommSeconds, want)
	}
	if want := 4.0/8 + full.CommSeconds; !near(full.StepSeconds, want, 1e-12) {
		t.Errorf("full step %v s, want compute + all-reduce = %v (no overlap)", full.StepSeconds, want)
	}
	one := predict(t, handProfile(), nil, Cluster{Workers: 1, BandwidthBytesPerS: 1e9, LatencyS: 1e-4})
	if c := one.Full.Phases[0].CommSeconds; c != 0 {
		t.Errorf("one worker all-reduces in %v s, want 0", c)
	}
}

// ScalingEfficiency e: w workers compute 1 + e·(w−1) times as fast as one.
func TestScalingEfficiency(t *testing.T) {
	c := free(8)
	c.ScalingEfficiency = 0.5
	pr := predict(t, handProfile(), nil, c)
	if want := 4 / (1 + 0.5*7); !near(pr.Full.Phases[0].StepSeconds, want, 1e-12) {
		t.Errorf("step %v s, want %v", pr.Full.Phases[0].StepSeconds, want)
	}
	c.ScalingEfficiency = 0 // means 1
	if pr := predict(t, handProfile(), nil, c); !near(pr.Full.Phases[0].StepSeconds, 0.5, 1e-12) {
		t.Errorf("ScalingEfficiency 0: step %v s, want 4/8", pr.Full.Phases[0].StepSeconds)
	}
}

// When the world size does not divide the batch, the worker with the largest shard sets the
// pace: 16 examples on 5 workers is 4 examples for the slowest, 4/16 of a one-worker step.
func TestUnevenShards(t *testing.T) {
	pr := predict(t, handProfile(), nil, free(5))
	if got := pr.Full.Phases[0].StepSeconds; !near(got, 4*4.0/16, 1e-12) {
		t.Errorf("step on 5 workers %v s, want 1", got)
	}
}

// The cache entering layer k is built once per move of the freeze point, sharded over the
// workers: C(k)·⌈N/W⌉. A run frozen from the start (static freezing) pays it before step 1.
func TestCacheIsBuiltOncePerMove(t *testing.T) {
	p := handProfile()
	p.CacheSecondsPerExample = []float64{0, 0.01, 0.02, 0.03}
	pr := predict(t, p, Schedule{{0, 1}, {0.5, 3}}, free(4))
	ph := pr.Performance.Phases
	if !near(ph[0].CacheSeconds, 0.01*400, 1e-12) || !near(ph[1].CacheSeconds, 0.03*400, 1e-12) {
		t.Errorf("cache seconds %v and %v, want 4 and 12", ph[0].CacheSeconds, ph[1].CacheSeconds)
	}
	want := 50*3.0/4 + 4 + 50*1.0/4 + 12
	if !near(pr.Performance.Seconds, want, 1e-12) {
		t.Errorf("performance mode %v s, want %v", pr.Performance.Seconds, want)
	}
	if !near(pr.Performance.WorkerHours, 4*want/3600, 1e-12) {
		t.Errorf("performance mode %v worker-hours, want %v", pr.Performance.WorkerHours, 4*want/3600)
	}
}

// Efficiency mode restarts at a smaller world size only where that saves more than the
// restart costs.
func TestEfficiencyModeSkipsRestartsThatDoNotPayOff(t *testing.T) {
	c := Cluster{Workers: 16, BandwidthBytesPerS: 1e9, LatencyS: 1e-4, ScalingEfficiency: 0.9}
	s := Schedule{{0, 0}, {0.5, 3}}
	cheap := predict(t, handProfile(), s, c)
	if w := cheap.Efficiency.Phases[1].Workers; w >= 16 {
		t.Fatalf("with free restarts efficiency mode keeps %d workers, want fewer than 16", w)
	}
	c.RestartS = 1e6
	dear := predict(t, handProfile(), s, c)
	if ph := dear.Efficiency.Phases[1]; ph.Workers != 16 || ph.RestartSeconds != 0 {
		t.Errorf("with 10⁶ s restarts efficiency mode's second phase is %+v, want 16 workers and no restart", ph)
	}
	if !near(dear.Efficiency.WorkerHours, dear.Performance.WorkerHours, 1e-12) {
		t.Errorf("without restarts efficiency mode is performance mode: %v vs %v worker-hours", dear.Efficiency.WorkerHours, dear.Performance.WorkerHours)
	}
}

// randomCase draws a plausible profile, schedule and cluster.
func randomCase(r *rand.Rand) (Profile, Schedule, Cluster) {
	layers := 2 + r.IntN(23)
	batch := []int{16, 32, 48, 64, 96, 128, 256}[r.IntN(7)]
	p := Profile{Model: "random", Layers: layers, Examples: 100 + r.IntN(100000), Epochs: 1 + r.IntN(4), GlobalBatch: batch, Threads: 1}
	t, g := 0.1+10*r.Float64(), int64(1e6+r.IntN(5e8))
	for k := 0; k < layers; k++ {
		p.StepSeconds = append(p.StepSeconds, t)
		p.GradBytes = append(p.GradBytes, g)
		c := 0.0
		if k > 0 {
			c = 0.01 * r.Float64()
		}
		p.CacheSecondsPerExample = append(p.CacheSecondsPerExample, c)
		t *= 0.6 + 0.45*r.Float64() // mostly shrinking, sometimes measured a little slower
		g = max(1, g-int64(r.Float64()*float64(g)/2))
	}
	var s Schedule
	k, prog := 0, 0.0
	for len(s) < layers && prog < 1 {
		s = append(s, Point{prog, k})
		prog += 0.01 + 0.3*r.Float64()
		k = min(layers-1, k+r.IntN(3))
	}
	c := Cluster{
		Workers:            1 + r.IntN(batch),
		BandwidthBytesPerS: math.Pow(10, 7+3*r.Float64()),
		LatencyS:           1e-3 * r.Float64(),
		RestartS:           300 * r.Float64(),
		ScalingEfficiency:  0.5 + 0.5*r.Float64(),
	}
	return p, s, c
}

// Keeping every worker is always open to efficiency mode, so it never costs more than
// performance mode; and none of its steps is slower than a full fine-tuning step.
func TestEfficiencyModeNeverCostsMoreThanPerformanceMode(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 500; i++ {
		p, s, c := randomCase(r)
		pr := predict(t, p, s, c)
		if pr.Efficiency.WorkerHours > pr.Performance.WorkerHours*(1+1e-9) {
			t.Fatalf("case %d: efficiency mode %v worker-hours > performance mode %v", i, pr.Efficiency.WorkerHours, pr.Performance.WorkerHours)
		}
		limit := pr.Full.Phases[0].StepSeconds * (1 + 1e-9)
		for _, ph := range pr.Efficiency.Phases {
			if ph.Workers > c.Workers || (ph.Workers < c.Workers && ph.StepSeconds > limit) {
				t.Fatalf("case %d: efficiency phase %+v against a full step of %v s on %d workers", i, ph, limit, c.Workers)
			}
		}
	}
}

// When freezing makes no step slower and the cache costs nothing to build, neither mode can
// lose to full fine-tuning: speedup ≥ 1 and cost reduction ≥ 1.
func TestFreezingNeverLosesWhenStepsShrinkAndCachingIsFree(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 500; i++ {
		p, s, c := randomCase(r)
		for k := range p.StepSeconds {
			p.CacheSecondsPerExample[k] = 0
			if k > 0 {
				p.StepSeconds[k] = min(p.StepSeconds[k], p.StepSeconds[k-1])
			}
		}
		pr := predict(t, p, s, c)
		if pr.Speedup < 1-1e-9 || pr.CostReduction < 1-1e-9 {
			t.Fatalf("case %d: speedup %v, cost reduction %v", i, pr.Speedup, pr.CostReduction)
		}
	}
}

// The model does not hide a bad trade: when building the cache costs more than freezing saves,
// both modes lose to full fine-tuning.
func TestExpensiveCachingShowsAsALoss(t *testing.T) {
	p := handProfile()
	p.CacheSecondsPerExample = []float64{0, 1, 1, 1}
	pr := predict(t, p, Schedule{{0, 0}, {0.9, 3}}, free(4))
	if pr.Speedup >= 1 || pr.CostReduction >= 1 {
		t.Errorf("speedup %v, cost reduction %v, want both below 1", pr.Speedup, pr.CostReduction)
	}
}

// More bandwidth never makes performance mode (or full fine-tuning) slower.
func TestMoreBandwidthNeverSlower(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 300; i++ {
		p, s, c := randomCase(r)
		slow := predict(t, p, s, c)
		c.BandwidthBytesPerS *= 1 + 10*r.Float64()
		fast := predict(t, p, s, c)
		if fast.Performance.Seconds > slow.Performance.Seconds || fast.Full.Seconds > slow.Full.Seconds {
			t.Fatalf("case %d: more bandwidth took performance mode from %v to %v s, full from %v to %v s",
				i, slow.Performance.Seconds, fast.Performance.Seconds, slow.Full.Seconds, fast.Full.Seconds)
		}
	}
}

// Phases add up to their mode, and every mode runs the same number of steps.
func TestPhasesAddUp(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 200; i++ {
		p, s, c := randomCase(r)
		pr := predict(t, p, s, c)
		for name, m := range map[string]Mode{"full": pr.Full, "performance": pr.Performance, "efficiency": pr.Efficiency} {
			steps, secs, wh := 0, 0.0, 0.0
			for _, ph := range m.Phases {
				steps += ph.Steps
				secs += ph.Seconds
				if own := float64(ph.Steps)*ph.StepSeconds + ph.CacheSeconds + ph.RestartSeconds; !near(own, ph.Seconds, 1e-12) {
					t.Fatalf("case %d, %s: phase %+v: Seconds is not Steps·StepSeconds + CacheSeconds + RestartSeconds", i, name, ph)
				}
				wh += ph.WorkerHours
			}
			if steps != pr.Steps || steps != p.Steps() || !near(secs, m.Seconds, 1e-12) || !near(wh, m.WorkerHours, 1e-12) {
				t.Fatalf("case %d, %s: %d steps (want %d), %v s (mode says %v), %v worker-hours (mode says %v)",
					i, name, steps, pr.Steps, secs, m.Seconds, wh, m.WorkerHours)
			}
		}
	}
}

func TestPredictRejects(t *testing.T) {
	p := handProfile()
	cases := []struct {
		name string
		s    Schedule
		c    Cluster
		want string
	}{
		{"more workers than examples per step", nil, free(32), "32 workers cannot share a global batch of 16"},
		{"a schedule past the last layer", Schedule{{0, 4}}, free(2), "freezes 4 layers, but the profile (4 layers)"},
		{"no workers", nil, free(0), "0 workers"},
		{"no bandwidth", nil, Cluster{Workers: 2}, "bandwidth 0"},
		{"scaling above 1", nil, Cluster{Workers: 2, BandwidthBytesPerS: 1, ScalingEfficiency: 2}, "scaling efficiency 2"},
		{"negative restart", nil, Cluster{Workers: 2, BandwidthBytesPerS: 1, RestartS: -1}, "restart -1"},
		{"an invalid schedule", Schedule{{0.5, 1}, {0.2, 2}}, free(2), "does not come after"},
	}
	for _, c := range cases {
		if _, err := Predict(p, c.s, c.c); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
	bad := p
	bad.StepSeconds = nil
	if _, err := Predict(bad, nil, free(2)); err == nil || !strings.Contains(err.Error(), "step_seconds") {
		t.Errorf("profile without step times: err = %v", err)
	}
}

// A job that froze enough layers gives back workers, as long as the step
// stays no slower than full fine-tuning's; with nothing frozen, or with
// too few steps left to repay a restart, it keeps them. (With linear
// scaling and free communication every world size costs the same
// worker-seconds; the saving comes from scaling losses, here 0.8.)
func TestWorldSizeFor(t *testing.T) {
	p := Profile{Model: "synthetic", Layers: 4, Examples: 6400, Epochs: 1, GlobalBatch: 64, Threads: 1,
		StepSeconds: []float64{8, 6, 4, 2}, GradBytes: []int64{400, 300, 200, 100}, CacheSecondsPerExample: []float64{0, 0, 0, 0}}
	c := Cluster{Workers: 16, BandwidthBytesPerS: math.Inf(1), RestartS: 10, ScalingEfficiency: 0.8}
	// Full fine-tuning's step on 16: 8/(1+0.8·15) = 0.615 s. The smallest
	// divisor w of 64 with T(k)/(1+0.8(w-1)) within it: k=3 (2 s) 4, k=2 (4 s) 8.
	for _, tc := range []struct{ k, current, remaining, want int }{
		{0, 16, 10000, 16}, // nothing frozen: full fine-tuning's size
		{3, 16, 10000, 4},
		{2, 16, 10000, 8},
		{3, 8, 10000, 4}, // shrinks further after an earlier shrink
		{3, 16, 0, 16},   // no steps left to repay the restart
	} {
		got, err := WorldSizeFor(p, c, tc.k, tc.current, tc.remaining)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("k=%d on %d workers with %d steps left: %d workers, want %d", tc.k, tc.current, tc.remaining, got, tc.want)
		}
	}
	if _, err := WorldSizeFor(p, c, 4, 16, 10); err == nil {
		t.Error("a freeze point past the profile was accepted")
	}
}
