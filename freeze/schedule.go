package freeze

import "fmt"

// SchedulePolicy freezes on a fixed geometric schedule, the α term of PipeTransformer's
// freeze algorithm (He, Li, Soltanolkotabi and Avestimehr, ICML 2021, Eq. 1). Each Observe
// call ends one phase T and sets
//
//	K(T) = min(K(T−1) + ⌊α·(L − K(T−1))⌋, L−1),   K(0) = 0, 0 < α < 1,
//
// freezing a fraction α of the layers still training, so without the rounding
// L − K(T) = (1−α)^T·L. Rounding down is the cautious choice and ends the schedule early:
// once α·(L−K) < 1 nothing more freezes (L = 12, α = 1/3: K = 4, 6, 8, 9, 10, 10, ...).
// Since α < 1, ⌊α·(L−K)⌋ ≤ L−K−1: the last encoder layer always trains, as in the other
// policies, and the min with L−1 never binds.
//
// What this leaves out: the paper's Eq. 1, as we recall it, also bounds K(T) by a
// gradient-norm term (the arg min of the active layers' gradient norms). We could not check
// that term against the paper's text offline, and its index range includes the last frozen
// layer, whose gradient is zero, so any reading of it would be our own. Gradient-driven
// freezing is what AutoPolicy does; this policy is the schedule alone and ignores the norms.
// DefaultAlpha (1/3) is our choice, not a value taken from the paper.
//
// A phase is one Observe call, so its length is the trainer's interval. With the default 20
// intervals, α = 1/3 takes 12 layers to K = 10 within the first quarter of training; set
// Config.Intervals to the number of epochs for one phase per epoch.
type SchedulePolicy struct {
	progress
	alpha float64
}

// NewSchedule returns the α schedule for layers encoder layers; alpha 0 means DefaultAlpha.
func NewSchedule(layers int, alpha float64) (*SchedulePolicy, error) {
	p, err := newProgress(layers)
	if err != nil {
		return nil, err
	}
	if alpha == 0 {
		alpha = DefaultAlpha
	}
	if !(alpha > 0 && alpha < 1) {
		return nil, fmt.Errorf("%w: alpha %v outside (0, 1)", ErrConfig, alpha)
	}
	return &SchedulePolicy{progress: p, alpha: alpha}, nil
}

// Observe ends a phase and advances K by the schedule. Norms may be nil; if given, they are
// checked and otherwise ignored.
func (s *SchedulePolicy) Observe(step int, norms []float64) (Decision, error) {
	if err := s.checkCall(step, norms, false); err != nil {
		return Decision{}, err
	}
	// The 1e-9 keeps a product that is an integer in exact arithmetic (3 · 1/3) from
	// rounding down to one less; the min keeps it from pushing α close to 1 past L−1.
	active := s.layers - s.k
	inc := min(int(s.alpha*float64(active)+1e-9), active-1)
	reason := fmt.Sprintf("phase %d: K + ⌊α·(L−K)⌋ = %d + ⌊%.4g·%d⌋ = %d",
		s.phase+1, s.k, s.alpha, active, s.k+inc)
	if inc == 0 {
		reason += ": no change"
	}
	d := s.decision(Schedule, step, s.k+inc)
	d.Alpha = s.alpha
	d.Reason = reason
	return d, nil
}

// State returns K, the phase and α.
func (s *SchedulePolicy) State() State {
	st := s.state(Schedule)
	st.Alpha = s.alpha
	return st
}

// Restore continues from st, which must come from a SchedulePolicy with the same layer count
// and α.
func (s *SchedulePolicy) Restore(st State) error {
	p, err := s.restore(Schedule, st)
	if err != nil {
		return err
	}
	if st.Alpha != s.alpha {
		return fmt.Errorf("%w: state scheduled with alpha %v, this policy uses %v", ErrState, st.Alpha, s.alpha)
	}
	s.progress = p
	return nil
}
