package freeze

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// AutoPolicy is AutoFreeze's rule as the authors' code runs it. Each call after the first
// compares every layer's norm with the previous interval's:
//
//	r_i = |prev_i − cur_i| / prev_i     (0 when cur_i = 0: frozen layers report 0)
//	thr = Percentile(r[K:], p)          (p = 50: the median of the layers still training)
//	K'  = the first i ≥ K with r_i ≥ thr, at most L−1
//
// so the longest run of active layers whose change is below the threshold freezes, several
// layers at once if they qualify, and a layer never freezes before the ones in front of it.
// The first call only stores the norms. K starts at 0, or at Config.StartFrozen: a prefix
// frozen before any gradient is seen, from which the rule goes on (see the package doc).
//
// Where this differs from the reference code, on purpose:
//   - The search starts at K, not at layer 0. The reference searches from 0, where frozen
//     layers have r = 0, so a threshold of 0 (half the active layers reporting a zero norm)
//     would move K back to 0, unfreezing layers it has long stopped training.
//   - prev_i = 0 with cur_i > 0 gives r_i = +Inf ("still changing") where the reference
//     divides by zero and stops. A layer whose gradient has just appeared has not converged;
//     counting it as unchanged would freeze it on no evidence.
//   - K is capped at L−1 explicitly; the reference gets the same cap from the percentile
//     never exceeding the largest change.
type AutoPolicy struct {
	progress
	percentile float64
	norm       Norm
	maxK       int       // the cap on K: Config.MaxFrozen, L−1, or 0 when observing
	start      int       // K before the first decision: Config.StartFrozen
	prev       []float64 // nil until the first call
}

// NewAuto returns AutoFreeze's policy for layers encoder layers; of cfg it uses Percentile
// and Norm (zero means the default).
func NewAuto(layers int, cfg Config) (*AutoPolicy, error) {
	p, err := newProgress(layers)
	if err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if !(cfg.Percentile > 0 && cfg.Percentile <= 100) {
		return nil, fmt.Errorf("%w: percentile %v outside (0, 100]", ErrConfig, cfg.Percentile)
	}
	if cfg.Norm != L1 && cfg.Norm != L2 {
		return nil, fmt.Errorf("%w: unknown norm %v", ErrConfig, cfg.Norm)
	}
	maxK := layers - 1
	switch {
	case cfg.MaxFrozen < 0 || cfg.MaxFrozen > layers-1:
		return nil, fmt.Errorf("%w: at most %d frozen layers asked of %d layers: want 1 to %d (the last layer always trains)", ErrConfig, cfg.MaxFrozen, layers, layers-1)
	case cfg.Observe:
		maxK = 0
	case cfg.MaxFrozen > 0:
		maxK = cfg.MaxFrozen
	}
	switch {
	case cfg.StartFrozen < 0 || cfg.StartFrozen > layers-1:
		return nil, fmt.Errorf("%w: %d layers frozen from the start asked of %d layers: want 0 to %d (the last layer always trains)", ErrConfig, cfg.StartFrozen, layers, layers-1)
	case cfg.Observe && cfg.StartFrozen > 0:
		return nil, fmt.Errorf("%w: observing (--freeze observe) freezes nothing, so it cannot start with %d layers frozen", ErrConfig, cfg.StartFrozen)
	case cfg.StartFrozen > maxK:
		return nil, fmt.Errorf("%w: %d layers frozen from the start, more than the cap of %d (--freeze-max)", ErrConfig, cfg.StartFrozen, maxK)
	}
	p.k = cfg.StartFrozen
	return &AutoPolicy{progress: p, percentile: cfg.Percentile, norm: cfg.Norm, maxK: maxK, start: cfg.StartFrozen}, nil
}

// Observe takes one norm per encoder layer, of the kind the Config named, for the interval
// that ended at step. Norms must be finite and ≥ 0; frozen layers should report 0.
func (a *AutoPolicy) Observe(step int, norms []float64) (Decision, error) {
	if err := a.checkCall(step, norms, true); err != nil {
		return Decision{}, err
	}
	cur := slices.Clone(norms)
	var r []float64
	thr, newK, reason := math.NaN(), a.k, "first interval: storing baseline"
	if a.prev != nil {
		r = changes(a.prev, cur)
		var err error
		if thr, err = Percentile(r[a.k:], a.percentile); err != nil {
			return Decision{}, err
		}
		for newK < a.layers-1 && r[newK] < thr {
			newK++
		}
		reason = a.explain(r, thr, newK)
		if newK > a.maxK {
			reason += fmt.Sprintf("; capped at %d frozen layers", a.maxK)
			if a.maxK == 0 {
				reason += " (observing only: --freeze observe)"
			}
			newK = max(a.maxK, a.k)
		}
	}
	d := a.decision(Auto, step, newK)
	d.Norm, d.Norms, d.Percentile = a.norm, cur, a.percentile
	d.Threshold, d.Reason = Float(thr), reason
	if r != nil {
		d.Changes = make([]Float, len(r))
		for i, v := range r {
			d.Changes[i] = Float(v)
		}
	}
	a.prev = cur
	return d, nil
}

// changes returns r_i = |prev_i − cur_i| / prev_i, 0 where cur_i = 0, +Inf where only
// prev_i is 0.
func changes(prev, cur []float64) []float64 {
	r := make([]float64, len(cur))
	for i, c := range cur {
		switch {
		case c == 0:
			r[i] = 0
		case prev[i] == 0:
			r[i] = math.Inf(1)
		default:
			r[i] = math.Abs(prev[i]-c) / prev[i]
		}
	}
	return r
}

// explain writes the reason for moving K from a.k to newK, before a.k changes.
func (a *AutoPolicy) explain(r []float64, thr float64, newK int) string {
	last := a.layers - 1
	if a.k == last {
		return fmt.Sprintf("only the last encoder layer (%d) trains, and it never freezes: no change (K=%d)", last, a.k)
	}
	name := "median"
	if a.percentile != 50 {
		name = fmt.Sprintf("p%g", a.percentile)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s change of active %s is %.4g; ", name, layerRange(a.k, a.layers), thr)
	if newK == a.k {
		fmt.Fprintf(&b, "%s at %.4g ≥ threshold: no change (K=%d)", layerRange(a.k, a.k+1), r[a.k], a.k)
		return b.String()
	}
	fmt.Fprintf(&b, "%s below it (%s); ", layerRange(a.k, newK), values(r[a.k:newK]))
	// r[newK] ≥ thr even at the cap: a percentile never exceeds the largest change.
	fmt.Fprintf(&b, "%s at %.4g ≥ threshold; ", layerRange(newK, newK+1), r[newK])
	fmt.Fprintf(&b, "K %d→%d", a.k, newK)
	if a.k == 0 {
		b.WriteString(", embeddings frozen with layer 0")
	}
	if newK == last {
		fmt.Fprintf(&b, "; only the last encoder layer (%d) trains from now on", last)
	}
	return b.String()
}

// layerRange names layers [from, to): "layer 3" or "layers 0-2".
func layerRange(from, to int) string {
	if to-from == 1 {
		return fmt.Sprintf("layer %d", from)
	}
	return fmt.Sprintf("layers %d-%d", from, to-1)
}

func values(vs []float64) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = fmt.Sprintf("%.4g", v)
	}
	return strings.Join(s, ", ")
}

// State returns K, the phase and the previous interval's norms.
func (a *AutoPolicy) State() State {
	s := a.state(Auto)
	s.PrevNorms = slices.Clone(a.prev)
	s.Percentile, s.Norm, s.StartFrozen = a.percentile, a.norm, a.start
	return s
}

// Restore continues from s, which must come from an AutoPolicy with the same layer count,
// percentile and norm.
func (a *AutoPolicy) Restore(s State) error {
	p, err := a.restore(Auto, s)
	if err != nil {
		return err
	}
	if s.Percentile != a.percentile || s.Norm != a.norm {
		return fmt.Errorf("%w: state decided with the p%v %v threshold, this policy uses p%v %v",
			ErrState, s.Percentile, s.Norm, a.percentile, a.norm)
	}
	if s.StartFrozen != a.start || s.K < a.start {
		return fmt.Errorf("%w: state started with %d layers frozen and has K=%d, this policy starts with %d (--freeze-start)",
			ErrState, s.StartFrozen, s.K, a.start)
	}
	var prev []float64
	if s.Phase > 0 {
		if len(s.PrevNorms) != a.layers {
			return fmt.Errorf("%w: %d previous norms for %d layers", ErrState, len(s.PrevNorms), a.layers)
		}
		if err := checkNorms(s.PrevNorms); err != nil {
			return fmt.Errorf("%w: previous norms: %v", ErrState, err)
		}
		prev = slices.Clone(s.PrevNorms)
	} else if len(s.PrevNorms) > 0 {
		return fmt.Errorf("%w: previous norms before the first interval", ErrState)
	}
	a.progress, a.prev = p, prev
	return nil
}
