package freeze

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Policy decides the freeze point K. A Policy is not safe for concurrent use.
type Policy interface {
	// Observe takes the per-layer gradient norms of the interval that ended at step and
	// returns the decision. Static and schedule policies accept nil norms. On error the
	// policy's state is unchanged.
	Observe(step int, norms []float64) (Decision, error)
	// Frozen returns K, the number of leading encoder layers frozen now.
	Frozen() int
	// State returns everything needed to continue deciding after a restart.
	State() State
	// Restore replaces the policy's state with one from State of a policy with the same
	// configuration and layer count.
	Restore(State) error
}

// Sentinel errors, wrapped with details.
var (
	ErrConfig = errors.New("freeze: invalid configuration")
	ErrInput  = errors.New("freeze: invalid input")
	ErrState  = errors.New("freeze: state does not fit this policy")
)

// Defaults applied where a Config field is zero.
const (
	DefaultPercentile = 50
	DefaultIntervals  = 20
	DefaultNorm       = L1
	DefaultAlpha      = 1.0 / 3
)

// Mode names a policy.
type Mode int

const (
	Auto     Mode = iota // AutoFreeze's gradient-norm rule (the default)
	Static               // a fixed prefix frozen from the start
	Schedule             // PipeTransformer's α schedule
)

var modeNames = [...]string{Auto: "auto", Static: "static", Schedule: "schedule"}

func (m Mode) String() string {
	if m >= 0 && int(m) < len(modeNames) {
		return modeNames[m]
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// MarshalText writes the mode's name.
func (m Mode) MarshalText() ([]byte, error) {
	if m < 0 || int(m) >= len(modeNames) {
		return nil, fmt.Errorf("%w: unknown mode %d", ErrConfig, int(m))
	}
	return []byte(m.String()), nil
}

// UnmarshalText reads a name written by MarshalText.
func (m *Mode) UnmarshalText(b []byte) error {
	for i, name := range modeNames {
		if string(b) == name {
			*m = Mode(i)
			return nil
		}
	}
	return fmt.Errorf("%w: unknown mode %q (want auto, static or schedule)", ErrConfig, b)
}

// Config selects and tunes a policy. Its zero value is AutoFreeze as the reference code runs
// it: median threshold, L1 norms, 20 intervals.
type Config struct {
	Mode Mode
	// Percentile of the active layers' changes used as the threshold (Auto), in (0, 100].
	// Zero means 50, the median. (0 itself would never freeze anything.)
	Percentile float64
	// Norm the trainer must compute per layer (Auto). Zero means L1.
	Norm Norm
	// Intervals is the number of evaluation intervals in the whole run; see IntervalSteps.
	// Zero means 20.
	Intervals int
	// FrozenLayers is N for Static: layers [0, N) frozen from the start, 0 ≤ N ≤ L−1.
	FrozenLayers int
	// Alpha is the Schedule's fraction in (0, 1) of still-training layers frozen per phase.
	// Zero means 1/3.
	Alpha float64
	// MaxFrozen caps K for Auto: it never freezes more than this many layers. Zero means
	// L−1, every layer but the last.
	MaxFrozen int
	// StartFrozen is Auto's starting K: layers [0, StartFrozen) are frozen from the first
	// step, before any gradient is seen, and the rule decides among the others from there
	// (--freeze-start). Zero means none. At most MaxFrozen when that is set.
	StartFrozen int
	// Observe makes Auto decide on the norms as usual but never freeze (K stays 0): the
	// run costs full fine-tuning and records, in its decisions, the gradient-norm trace
	// and what the rule would have done. --freeze observe.
	Observe bool
}

// WithDefaults returns c with every zero field that has a default set to it.
func (c Config) WithDefaults() Config {
	if c.Percentile == 0 {
		c.Percentile = DefaultPercentile
	}
	if c.Norm == 0 {
		c.Norm = DefaultNorm
	}
	if c.Intervals == 0 {
		c.Intervals = DefaultIntervals
	}
	if c.Alpha == 0 {
		c.Alpha = DefaultAlpha
	}
	return c
}

// IntervalSteps is the number of training steps between two Observe calls:
// IntervalSteps(totalSteps, c.Intervals) with the default for a zero Intervals.
func (c Config) IntervalSteps(totalSteps int) int {
	return IntervalSteps(totalSteps, c.WithDefaults().Intervals)
}

// IntervalSteps returns totalSteps / intervals rounded down, as the reference code's
// int(epochs * steps_per_epoch / num_intervals), and at least 1. intervals ≤ 0 means the
// default 20. Rounding down means the trainer, observing whenever step % interval == 0,
// may observe once more than intervals times (105 steps in 20 intervals: every 5 steps,
// 21 observations); it never observes fewer.
func IntervalSteps(totalSteps, intervals int) int {
	if intervals <= 0 {
		intervals = DefaultIntervals
	}
	return max(totalSteps/intervals, 1)
}

// New returns the policy cfg selects for an encoder of layers layers.
func New(layers int, cfg Config) (Policy, error) {
	switch cfg.Mode {
	case Auto:
		return NewAuto(layers, cfg)
	case Static:
		return NewStatic(layers, cfg.FrozenLayers)
	case Schedule:
		return NewSchedule(layers, cfg.WithDefaults().Alpha)
	}
	return nil, fmt.Errorf("%w: unknown mode %d", ErrConfig, int(cfg.Mode))
}

// ParseFlag reads the --freeze flag: "auto", "observe" (Auto that never freezes),
// "schedule", "off" (Static with N = 0) or a number N (Static). It returns the Config with Mode and FrozenLayers set; N is checked
// against the layer count only by New.
func ParseFlag(s string) (Config, error) {
	switch s = strings.TrimSpace(s); s {
	case "auto":
		return Config{Mode: Auto}, nil
	case "observe":
		return Config{Mode: Auto, Observe: true}, nil
	case "schedule":
		return Config{Mode: Schedule}, nil
	case "off":
		return Config{Mode: Static}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return Config{}, fmt.Errorf("%w: --freeze %q: want auto, observe, schedule, off or a layer count ≥ 0", ErrConfig, s)
	}
	return Config{Mode: Static, FrozenLayers: n}, nil
}

// State is a policy's resumable state, JSON-serialisable for checkpoints. Restoring it into
// a policy built from the same Config and layer count continues with identical decisions.
type State struct {
	Mode     Mode `json:"policy"`
	Layers   int  `json:"layers"`
	K        int  `json:"k"`
	Phase    int  `json:"phase"`     // accepted Observe calls
	LastStep int  `json:"last_step"` // step of the last accepted call; 0 before the first
	// PrevNorms are the norms of the last interval (Auto), nil before the first.
	PrevNorms []float64 `json:"prev_norms,omitempty"`
	// The configuration that shapes decisions, checked by Restore.
	Percentile   float64 `json:"percentile,omitempty"`
	Norm         Norm    `json:"norm,omitempty"`
	FrozenLayers int     `json:"frozen_layers,omitempty"`
	StartFrozen  int     `json:"start_frozen,omitempty"`
	Alpha        float64 `json:"alpha,omitempty"`
}

// progress is the bookkeeping every policy shares: layer count, K, phase and last step.
type progress struct {
	layers, k, phase, lastStep int
}

// Frozen returns K, the number of leading encoder layers frozen now.
func (p *progress) Frozen() int { return p.k }

func newProgress(layers int) (progress, error) {
	if layers < 1 {
		return progress{}, fmt.Errorf("%w: %d encoder layers (want ≥ 1)", ErrConfig, layers)
	}
	return progress{layers: layers}, nil
}

// checkCall validates the step and, when non-nil or required, the norms.
func (p *progress) checkCall(step int, norms []float64, required bool) error {
	if step < 0 || (p.phase > 0 && step <= p.lastStep) {
		return fmt.Errorf("%w: step %d after step %d (steps must increase)", ErrInput, step, p.lastStep)
	}
	if norms == nil && !required {
		return nil
	}
	if len(norms) != p.layers {
		return fmt.Errorf("%w: %d norms for %d encoder layers", ErrInput, len(norms), p.layers)
	}
	return checkNorms(norms)
}

func checkNorms(norms []float64) error {
	for i, n := range norms {
		if math.IsNaN(n) || math.IsInf(n, 0) || n < 0 {
			return fmt.Errorf("%w: layer %d norm is %v (want finite and ≥ 0)", ErrInput, i, n)
		}
	}
	return nil
}

// decision starts a Decision for an accepted call and advances the bookkeeping.
func (p *progress) decision(mode Mode, step int, newK int) Decision {
	d := Decision{
		Step:      step,
		Phase:     p.phase + 1,
		Policy:    mode,
		Layers:    p.layers,
		OldK:      p.k,
		K:         newK,
		Threshold: nan,
	}
	d.EmbeddingsFrozen = newK >= 1
	p.k, p.phase, p.lastStep = newK, p.phase+1, step
	return d
}

func (p progress) state(mode Mode) State {
	return State{Mode: mode, Layers: p.layers, K: p.k, Phase: p.phase, LastStep: p.lastStep}
}

// restore checks the parts of s every policy shares and returns the progress it holds.
func (p progress) restore(mode Mode, s State) (progress, error) {
	switch {
	case s.Mode != mode:
		return p, fmt.Errorf("%w: state of a %v policy, this one is %v", ErrState, s.Mode, mode)
	case s.Layers != p.layers:
		return p, fmt.Errorf("%w: state for %d layers, this policy has %d", ErrState, s.Layers, p.layers)
	case s.K < 0 || s.K > p.layers-1:
		return p, fmt.Errorf("%w: K = %d outside [0, %d]", ErrState, s.K, p.layers-1)
	case s.Phase < 0 || s.LastStep < 0:
		return p, fmt.Errorf("%w: phase %d, last step %d", ErrState, s.Phase, s.LastStep)
	}
	return progress{layers: p.layers, k: s.K, phase: s.Phase, lastStep: s.LastStep}, nil
}
