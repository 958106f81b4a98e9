// Package report reads a run directory's metrics.jsonl and turns it into
// what a person looks at: a one-screen text summary and a PNG of training
// loss, evaluation accuracy and the number of frozen layers against wall
// time. It is pure Go (gonum/plot), so reports can be redrawn anywhere.
package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Point is one logged training step.
type Point struct {
	Step          int     `json:"step"`
	Elapsed       float64 `json:"elapsed_s"`
	Loss          float64 `json:"loss"`
	ExamplesPerS  float64 `json:"examples_per_s"`
	Frozen        int     `json:"frozen_layers"`
	LearningRate  float64 `json:"lr"`
	Epoch         int     `json:"epoch"`
	Type          string  `json:"type"`
	Accuracy      float64 `json:"accuracy"`
	MacroF1       float64 `json:"macro_f1"`
	Best          bool    `json:"best"`
	EvalSeconds   float64 `json:"eval_seconds"`
	K             int     `json:"k"`
	OldK          int     `json:"old_k"`
	Event         string  `json:"event"`
	Bytes         int64   `json:"bytes"`
	BuildSeconds  float64 `json:"build_seconds"`
	FromLayer     int     `json:"from_layer"`
	Engine        string  `json:"engine"`
	Reason        string  `json:"reason"`
	Layers        int     `json:"layers"`
	TotalSteps    int     `json:"total_steps"`
	TrainExamples int     `json:"train_examples"`
	Stopped       string  `json:"stopped"`
}

// Run is a parsed metrics.jsonl.
type Run struct {
	Dir       string
	Name      string
	Steps     []Point // type "step"
	Evals     []Point // type "eval"
	Freezes   []Point // freeze decisions that moved K
	Caches    []Point // cache events
	Layers    int
	Total     int // planned optimizer steps
	TrainSize int
	End       *Point
}

// Load reads RUN_DIR/metrics.jsonl. A torn last line (a killed run) is
// skipped; any other malformed line is an error naming its line.
func Load(dir string) (*Run, error) {
	path := filepath.Join(dir, "metrics.jsonl")
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := &Run{Dir: dir, Name: filepath.Base(dir)}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var pending error
	for line := 1; sc.Scan(); line++ {
		if pending != nil {
			return nil, pending
		}
		var p Point
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			pending = fmt.Errorf("%s:%d: %v", path, line, err)
			continue
		}
		switch p.Type {
		case "start":
			r.Layers, r.Total, r.TrainSize = p.Layers, p.TotalSteps, p.TrainExamples
		case "step":
			r.Steps = append(r.Steps, p)
		case "eval":
			r.Evals = append(r.Evals, p)
		case "freeze":
			if p.K != p.OldK {
				r.Freezes = append(r.Freezes, p)
			}
		case "cache":
			r.Caches = append(r.Caches, p)
		case "end":
			end := p
			r.End = &end
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(r.Steps) == 0 {
		return nil, fmt.Errorf("%s: no training steps logged", path)
	}
	return r, nil
}

// Elapsed is the run's wall time so far.
func (r *Run) Elapsed() float64 {
	if r.End != nil {
		return r.End.Elapsed
	}
	t := r.Steps[len(r.Steps)-1].Elapsed
	for _, e := range r.Evals {
		t = max(t, e.Elapsed)
	}
	return t
}

// Best is the evaluation with the lowest loss (marked best), or nil.
func (r *Run) Best() *Point {
	var best *Point
	for i := range r.Evals {
		if r.Evals[i].Best {
			best = &r.Evals[i]
		}
	}
	return best
}

// LastEval is the final evaluation, or nil.
func (r *Run) LastEval() *Point {
	if len(r.Evals) == 0 {
		return nil
	}
	return &r.Evals[len(r.Evals)-1]
}

// FinalFrozen is the number of frozen layers at the end.
func (r *Run) FinalFrozen() int { return r.Steps[len(r.Steps)-1].Frozen }

// IdealSpeedup is the speedup over full fine-tuning that the observed
// freeze timeline implies if a step cost only its trainable layers' share
// (L-K)/L of a full step, with no cache or export overhead: the number of
// steps over the sum of the steps' shares. Steps between two logged points
// take the later point's K.
func (r *Run) IdealSpeedup() float64 {
	if r.Layers == 0 {
		return 1
	}
	prev := 0
	cost := 0.0
	for _, p := range r.Steps {
		n := p.Step - prev
		cost += float64(n) * float64(r.Layers-p.Frozen) / float64(r.Layers)
		prev = p.Step
	}
	if cost == 0 {
		return 1
	}
	return float64(prev) / cost
}

// CacheBytes is the size of the last cache built.
func (r *Run) CacheBytes() int64 {
	var b int64
	for _, c := range r.Caches {
		if c.Event == "built" {
			b = c.Bytes
		}
	}
	return b
}

// sortedByElapsed returns the points in time order.
func sortedByElapsed(ps []Point) []Point {
	out := append([]Point(nil), ps...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Elapsed < out[j].Elapsed })
	return out
}
