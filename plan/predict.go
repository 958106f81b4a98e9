package plan

import (
	"errors"
	"fmt"
	"math"
)

// Cluster is the data-parallel cluster a prediction is for. A worker is one data-parallel
// replica (a GPU, or a CPU process with its own threads) that holds the whole model and
// computes 1/Workers of every global batch.
type Cluster struct {
	Workers int // W, the world size of full fine-tuning and performance mode
	// BandwidthBytesPerS is each worker's link bandwidth for the ring all-reduce, in bytes per
	// second. math.Inf(1) models free communication.
	BandwidthBytesPerS float64
	LatencyS           float64 // seconds per message hop of the ring
	RestartS           float64 // efficiency mode: seconds to checkpoint and restart at another world size
	// ScalingEfficiency e is the fraction of a worker's compute each added worker contributes:
	// w workers compute 1 + e·(w−1) times as fast as one. 1 is linear scaling; 0 means 1.
	ScalingEfficiency float64
}

// Phase is a stretch of steps with the same freeze point and world size.
type Phase struct {
	K              int     // layers frozen
	Workers        int     // world size
	Steps          int     // optimizer steps
	StepSeconds    float64 // seconds per step: compute + CommSeconds
	CommSeconds    float64 // seconds per step spent in the all-reduce
	CacheSeconds   float64 // building the cache entering layer K before the phase (0 if K did not move)
	CacheWorkers   int     // workers that built it
	RestartSeconds float64 // checkpoint and restart before the phase (efficiency mode)
	Seconds        float64 // Steps·StepSeconds + CacheSeconds + RestartSeconds
	WorkerHours    float64
}

// Mode is one way of running the job, priced.
type Mode struct {
	Seconds     float64
	WorkerHours float64
	Phases      []Phase
}

// Prediction compares the two AutoFreeze modes with full fine-tuning on one cluster.
type Prediction struct {
	Cluster                       Cluster
	Steps                         int // optimizer steps of every mode
	Full, Performance, Efficiency Mode
	Speedup                       float64 // Full.Seconds / Performance.Seconds
	CostReduction                 float64 // Full.WorkerHours / Efficiency.WorkerHours
}

// tolerance is the relative slack for "no slower than" and "costs the same".
const tolerance = 1e-9

func (c Cluster) validate() error {
	switch {
	case c.Workers < 1:
		return fmt.Errorf("cluster: %d workers, want ≥ 1", c.Workers)
	case !(c.BandwidthBytesPerS > 0):
		return fmt.Errorf("cluster: bandwidth %v bytes/s, want > 0 (+Inf for free communication)", c.BandwidthBytesPerS)
	case !(c.LatencyS >= 0) || math.IsInf(c.LatencyS, 0):
		return fmt.Errorf("cluster: latency %v s, want a number ≥ 0", c.LatencyS)
	case !(c.RestartS >= 0) || math.IsInf(c.RestartS, 0):
		return fmt.Errorf("cluster: restart %v s, want a number ≥ 0", c.RestartS)
	case !(c.ScalingEfficiency >= 0 && c.ScalingEfficiency <= 1):
		return fmt.Errorf("cluster: scaling efficiency %v, want a fraction in (0, 1] (0 means 1)", c.ScalingEfficiency)
	}
	return nil
}

// model holds what Predict's formulas read.
type model struct {
	p Profile
	c Cluster
}

func (m model) efficiency() float64 {
	if m.c.ScalingEfficiency == 0 {
		return 1
	}
	return m.c.ScalingEfficiency
}

// comm is one ring all-reduce of the gradients with k layers frozen on w workers.
func (m model) comm(k, w int) float64 {
	fw := float64(w)
	return 2*(fw-1)/fw*float64(m.p.GradBytes[k])/m.c.BandwidthBytesPerS + 2*(fw-1)*m.c.LatencyS
}

// compute is one step's forward and backward on the largest of w shards of the global batch.
func (m model) compute(k, w int) float64 {
	b := m.p.GlobalBatch
	imbalance := float64(ceilDiv(b, w)*w) / float64(b)
	return m.p.StepSeconds[k] * imbalance / (1 + m.efficiency()*float64(w-1))
}

func (m model) step(k, w int) float64 { return m.compute(k, w) + m.comm(k, w) }

// cache is the wall time of building the cache entering layer k on b workers.
func (m model) cache(k, b int) float64 {
	return m.p.CacheSecondsPerExample[k] * float64(ceilDiv(m.p.Examples, b))
}

// segment is a schedule phase before a world size is chosen for it.
type segment struct{ k, steps int }

// segments splits the run's steps at the schedule's points.
func segments(s Schedule, total int) []segment {
	pts := s
	if len(pts) == 0 || pts[0].Progress > 0 {
		pts = append(Schedule{{Progress: 0, K: 0}}, pts...)
	}
	segs := make([]segment, len(pts))
	for i, pt := range pts {
		end := total
		if i+1 < len(pts) {
			end = int(math.Round(pts[i+1].Progress * float64(total)))
		}
		start := int(math.Round(pt.Progress * float64(total)))
		segs[i] = segment{k: pt.K, steps: end - start}
	}
	return segs
}

// phase prices one segment on w workers, coming from world size prevW and freeze point prevK.
func (m model) phase(seg segment, w, prevW, prevK int) Phase {
	ph := Phase{K: seg.k, Workers: w, Steps: seg.steps, StepSeconds: m.step(seg.k, w), CommSeconds: m.comm(seg.k, w)}
	ws := float64(w) * float64(seg.steps) * ph.StepSeconds
	builder := max(w, prevW)
	if seg.k > prevK {
		ph.CacheSeconds = m.cache(seg.k, builder)
		ph.CacheWorkers = builder
		ws += float64(builder) * ph.CacheSeconds
	}
	if w != prevW {
		ph.RestartSeconds = m.c.RestartS
		ws += float64(builder) * ph.RestartSeconds
	}
	ph.Seconds = float64(seg.steps)*ph.StepSeconds + ph.CacheSeconds + ph.RestartSeconds
	ph.WorkerHours = ws / 3600
	return ph
}

func mode(phases []Phase) Mode {
	md := Mode{Phases: phases}
	for _, ph := range phases {
		md.Seconds += ph.Seconds
		md.WorkerHours += ph.WorkerHours
	}
	return md
}

// Predict prices full fine-tuning, performance mode and efficiency mode for profile p,
// schedule s and cluster c, following the model in the package documentation.
func Predict(p Profile, s Schedule, c Cluster) (Prediction, error) {
	if err := p.Validate(); err != nil {
		return Prediction{}, err
	}
	if err := s.Validate(); err != nil {
		return Prediction{}, err
	}
	if err := c.validate(); err != nil {
		return Prediction{}, err
	}
	if k := s.MaxK(); k >= p.Layers {
		return Prediction{}, fmt.Errorf("the schedule freezes %d layers, but the profile (%d layers) has step times for k = 0..%d only", k, p.Layers, p.Layers-1)
	}
	if c.Workers > p.GlobalBatch {
		return Prediction{}, fmt.Errorf("%d workers cannot share a global batch of %d examples (each needs at least one); profile with a global batch of at least %d", c.Workers, p.GlobalBatch, c.Workers)
	}
	m := model{p, c}
	W, total := c.Workers, p.Steps()
	segs := segments(s, total)

	full := mode([]Phase{m.phase(segment{k: 0, steps: total}, W, W, 0)})

	perf := make([]Phase, len(segs))
	for i, seg := range segs {
		perf[i] = m.phase(seg, W, W, prevK(segs, i))
	}
	eff, err := m.efficiencyMode(segs)
	if err != nil {
		return Prediction{}, err
	}
	pr := Prediction{Cluster: c, Steps: total, Full: full, Performance: mode(perf), Efficiency: mode(eff)}
	pr.Speedup = pr.Full.Seconds / pr.Performance.Seconds
	pr.CostReduction = pr.Full.WorkerHours / pr.Efficiency.WorkerHours
	return pr, nil
}

func prevK(segs []segment, i int) int {
	if i == 0 {
		return 0
	}
	return segs[i-1].k
}

// candidates are the world sizes efficiency mode may use: the divisors of the global batch up
// to W (every worker gets the same share), and W itself. Ascending.
func candidates(batch, W int) []int {
	var ws []int
	for d := 1; d <= W; d++ {
		if batch%d == 0 {
			ws = append(ws, d)
		}
	}
	if ws[len(ws)-1] != W {
		ws = append(ws, W)
	}
	return ws
}

// efficiencyMode chooses a world size per segment: the sequence with the fewest
// worker-seconds among those whose every step is no slower than a full fine-tuning step on W
// workers (the world size is W until something is frozen), found by dynamic programming over
// segments × candidate world sizes. Between equal costs it prefers holding fewer workers.
func (m model) efficiencyMode(segs []segment) ([]Phase, error) {
	W := m.c.Workers
	ws := candidates(m.p.GlobalBatch, W)
	limit := m.step(0, W) * (1 + tolerance)
	allowed := func(k, w int) bool { return w == W || (k > 0 && m.step(k, w) <= limit) }

	type cell struct {
		ok         bool
		cost, held float64 // worker-seconds so far; Σ world size over segments so far
		from       int     // index into ws of the previous segment's world size
		ph         Phase
	}
	better := func(cost, held float64, c cell) bool {
		if !c.ok {
			return true
		}
		if d := cost - c.cost; math.Abs(d) > tolerance*math.Max(math.Abs(cost), math.Abs(c.cost)) {
			return d < 0
		}
		return held < c.held
	}
	table := make([][]cell, len(segs))
	for i, seg := range segs {
		table[i] = make([]cell, len(ws))
		for j, w := range ws {
			if !allowed(seg.k, w) {
				continue
			}
			for jp, wp := range ws {
				var before cell
				switch {
				case i == 0 && wp == W:
					before = cell{ok: true}
				case i > 0:
					before = table[i-1][jp]
				}
				if !before.ok {
					continue
				}
				ph := m.phase(seg, w, wp, prevK(segs, i))
				cost, held := before.cost+ph.WorkerHours*3600, before.held+float64(w)
				if better(cost, held, table[i][j]) {
					table[i][j] = cell{ok: true, cost: cost, held: held, from: jp, ph: ph}
				}
			}
		}
	}
	last := table[len(segs)-1]
	best := -1
	for j, c := range last {
		if c.ok && (best < 0 || better(c.cost, c.held, last[best])) {
			best = j
		}
	}
	if best < 0 { // W is always allowed, so this cannot happen
		return nil, errors.New("plan: efficiency mode found no world sizes")
	}
	phases := make([]Phase, len(segs))
	for i, j := len(segs)-1, best; i >= 0; i-- {
		phases[i] = table[i][j].ph
		j = table[i][j].from
	}
	return phases, nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// DefaultCluster is the cluster a training run in efficiency mode assumes
// when it decides how many workers to keep: 10 Gbit/s per worker, 50 µs
// per hop, a minute to restart, linear scaling. Workers is left to fill in.
func DefaultCluster() Cluster {
	return Cluster{BandwidthBytesPerS: 10e9 / 8, LatencyS: 50e-6, RestartS: 60, ScalingEfficiency: 1}
}

// With returns c with the settings that are not zero replaced, in the
// units people quote: link bandwidth in Gbit/s, latency in µs, restart in
// seconds, scaling efficiency as a fraction.
func (c Cluster) With(bandwidthGbps, latencyUs, restartSeconds, scalingEfficiency float64) Cluster {
	if bandwidthGbps != 0 {
		c.BandwidthBytesPerS = bandwidthGbps * 1e9 / 8
	}
	if latencyUs != 0 {
		c.LatencyS = latencyUs * 1e-6
	}
	if restartSeconds != 0 {
		c.RestartS = restartSeconds
	}
	if scalingEfficiency != 0 {
		c.ScalingEfficiency = scalingEfficiency
	}
	return c
}

// WorldSizeFor is efficiency mode's choice as a job runs: the freeze point
// has just moved to k, with remaining steps left, on current workers of a
// job that started (as full fine-tuning would run) on c.Workers. Among the
// world sizes no larger than current whose step is no slower than full
// fine-tuning's on c.Workers, it returns the one with the fewest
// worker-seconds for the rest of the run (assuming k stays), counting a
// restart when the size changes. It returns current when nothing is
// cheaper.
func WorldSizeFor(p Profile, c Cluster, k, current, remaining int) (int, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	if err := c.validate(); err != nil {
		return 0, err
	}
	if k < 0 || k >= p.Layers {
		return 0, fmt.Errorf("plan: freeze point %d outside the profile's 0..%d", k, p.Layers-1)
	}
	if current < 1 || current > c.Workers {
		return 0, fmt.Errorf("plan: %d current workers of a job that started on %d", current, c.Workers)
	}
	m := model{p: p, c: c}
	limit := m.step(0, c.Workers) * (1 + tolerance)
	best, bestCost := current, float64(remaining)*m.step(k, current)*float64(current)
	for _, w := range candidates(p.GlobalBatch, current) {
		if w == current || m.step(k, w) > limit {
			continue
		}
		cost := float64(remaining)*m.step(k, w)*float64(w) + c.RestartS*float64(current)
		if cost < bestCost*(1-tolerance) {
			best, bestCost = w, cost
		}
	}
	return best, nil
}
