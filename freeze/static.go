package freeze

import "fmt"

// StaticPolicy freezes a fixed prefix of N layers from the start (--freeze N), the baseline
// the AutoFreeze paper compares against. N = 0 is fine-tuning without freezing.
type StaticPolicy struct {
	progress
}

// NewStatic freezes layers [0, n) of layers encoder layers; 0 ≤ n ≤ layers−1, since the
// last encoder layer always trains.
func NewStatic(layers, n int) (*StaticPolicy, error) {
	p, err := newProgress(layers)
	if err != nil {
		return nil, err
	}
	if n < 0 || n > layers-1 {
		return nil, fmt.Errorf("%w: --freeze %d: a %d-layer encoder can freeze 0 to %d layers (its last layer always trains)",
			ErrConfig, n, layers, layers-1)
	}
	p.k = n
	return &StaticPolicy{p}, nil
}

// Observe never changes K. Norms may be nil; if given, they are checked.
func (s *StaticPolicy) Observe(step int, norms []float64) (Decision, error) {
	if err := s.checkCall(step, norms, false); err != nil {
		return Decision{}, err
	}
	d := s.decision(Static, step, s.k)
	if s.k == 0 {
		d.Reason = "static: nothing frozen"
	} else {
		d.Reason = fmt.Sprintf("static: embeddings and %s frozen from the start", layerRange(0, s.k))
	}
	return d, nil
}

// State returns N and the phase.
func (s *StaticPolicy) State() State {
	st := s.state(Static)
	st.FrozenLayers = s.k
	return st
}

// Restore continues from st, which must come from a StaticPolicy with the same layer count
// and N.
func (s *StaticPolicy) Restore(st State) error {
	p, err := s.restore(Static, st)
	if err != nil {
		return err
	}
	if st.FrozenLayers != s.k || st.K != s.k {
		return fmt.Errorf("%w: state froze %d layers, this policy freezes %d", ErrState, st.FrozenLayers, s.k)
	}
	s.progress = p
	return nil
}
