package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"

	"github.com/autofreeze/autofreeze/internal/atomicfile"
)

// Profile is what one worker measured: how long an optimizer step takes at each freeze point,
// how many gradient bytes it would all-reduce, and what building the activation cache costs.
// `autofreeze plan profile` writes it as JSON.
type Profile struct {
	Model       string `json:"model"`
	Layers      int    `json:"layers"`       // encoder layers L
	Examples    int    `json:"examples"`     // training examples per epoch N
	Epochs      int    `json:"epochs"`       // E
	GlobalBatch int    `json:"global_batch"` // examples per optimizer step B, over all workers
	Threads     int    `json:"threads"`      // CPU threads the measurement used (a record, not used by the model)

	// StepSeconds[k] is the measured time of one optimizer step of GlobalBatch examples on one
	// worker with layers [0, k) frozen, k = 0..Layers−1; for k > 0 the prefix's output is read
	// from the activation cache.
	StepSeconds []float64 `json:"step_seconds"`
	// GradBytes[k] is the size of the gradients all-reduced with k layers frozen: 4 bytes per
	// trainable parameter (fp32). It never grows with k.
	GradBytes []int64 `json:"grad_bytes"`
	// CacheSecondsPerExample[k] is the time one worker needs to compute the activations
	// entering layer k for one example (ONNX Runtime), paid once when the freeze point moves
	// to k. CacheSecondsPerExample[0] is 0: nothing is cached with nothing frozen.
	CacheSecondsPerExample []float64 `json:"cache_seconds_per_example"`
}

// remeasure is the advice every profile error ends with.
const remeasure = "measure it again with `autofreeze plan profile`"

// FieldError is a profile value that cannot be used. Field is the JSON name.
type FieldError struct {
	Path  string // the file, when the profile came from one
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	where := "profile"
	if e.Path != "" {
		where = "profile " + e.Path
	}
	return fmt.Sprintf("%s: %s: %s; %s", where, e.Field, e.Msg, remeasure)
}

// Validate reports the first value the cost model cannot use.
func (p Profile) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case p.Model == "":
		return bad("model", "missing (the model directory or name the profile was measured with)")
	case p.Layers < 1:
		return bad("layers", "is %d, want the number of encoder layers (≥ 1)", p.Layers)
	case p.Examples < 1:
		return bad("examples", "is %d, want the training examples per epoch (≥ 1)", p.Examples)
	case p.Epochs < 1:
		return bad("epochs", "is %d, want ≥ 1", p.Epochs)
	case p.GlobalBatch < 1:
		return bad("global_batch", "is %d, want the examples per optimizer step (≥ 1)", p.GlobalBatch)
	case p.Threads < 1:
		return bad("threads", "is %d, want the CPU threads the measurement used (≥ 1)", p.Threads)
	}
	perK := fmt.Sprintf("one per freeze point k = 0..%d (layers = %d)", p.Layers-1, p.Layers)
	if len(p.StepSeconds) != p.Layers {
		return bad("step_seconds", "has %d values, want %s", len(p.StepSeconds), perK)
	}
	for k, s := range p.StepSeconds {
		if !(s > 0) || math.IsInf(s, 0) {
			return bad("step_seconds", "[%d] is %v, want a positive number of seconds", k, s)
		}
	}
	if len(p.GradBytes) != p.Layers {
		return bad("grad_bytes", "has %d values, want %s", len(p.GradBytes), perK)
	}
	for k, b := range p.GradBytes {
		if b <= 0 {
			return bad("grad_bytes", "[%d] is %d, want a positive byte count (the head always trains)", k, b)
		}
		if k > 0 && b > p.GradBytes[k-1] {
			return bad("grad_bytes", "[%d] = %d is more than [%d] = %d; freezing a layer cannot add trainable parameters", k, b, k-1, p.GradBytes[k-1])
		}
	}
	if len(p.CacheSecondsPerExample) != p.Layers {
		return bad("cache_seconds_per_example", "has %d values, want %s", len(p.CacheSecondsPerExample), perK)
	}
	for k, s := range p.CacheSecondsPerExample {
		if !(s >= 0) || math.IsInf(s, 0) {
			return bad("cache_seconds_per_example", "[%d] is %v, want a number of seconds ≥ 0", k, s)
		}
		if k == 0 && s != 0 {
			return bad("cache_seconds_per_example", "[0] is %v, want 0 (nothing is cached with nothing frozen)", s)
		}
	}
	return nil
}

// Steps is the number of optimizer steps in the run: Epochs·⌈Examples/GlobalBatch⌉ (the last,
// partial batch of an epoch is a step of its own, as in training).
func (p Profile) Steps() int {
	return p.Epochs * ((p.Examples + p.GlobalBatch - 1) / p.GlobalBatch)
}

// ReadProfile reads and validates a profile written by [Profile.Write]. Fields it does not know
// are ignored, so newer profiles stay readable.
func ReadProfile(path string) (Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Profile{}, fmt.Errorf("profile: %w", err)
	}
	var p Profile
	if err := json.Unmarshal(data, &p); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return Profile{}, fmt.Errorf("profile %s:%d: not valid JSON: %v; %s", path, lineOf(data, syn.Offset), err, remeasure)
		case errors.As(err, &typ):
			return Profile{}, &FieldError{Path: path, Field: typ.Field, Msg: fmt.Sprintf("want %s, got a JSON %s", typ.Type, typ.Value)}
		}
		return Profile{}, fmt.Errorf("profile %s: %w; %s", path, err, remeasure)
	}
	if err := p.Validate(); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			fe.Path = path
		}
		return Profile{}, err
	}
	return p, nil
}

// Write validates p and writes it to path as indented JSON, atomically: a reader sees the old
// file or the new one, never part of one.
func (p Profile) Write(path string) error {
	if err := p.Validate(); err != nil {
		return err
	}
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(data, '\n'))
}

// lineOf is the 1-based line holding byte offset off of data.
func lineOf(data []byte, off int64) int {
	off = min(max(off, 0), int64(len(data)))
	return 1 + bytes.Count(data[:off], []byte{'\n'})
}
