package plan

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// Point says that from Progress on (the fraction of the run's optimizer steps already done,
// 0..1) the first K encoder layers are frozen.
type Point struct {
	Progress float64 `json:"progress"`
	K        int     `json:"k"`
}

// Schedule is the freeze point over a run: points in increasing Progress with K never
// decreasing. Before the first point nothing is frozen; an empty schedule never freezes.
type Schedule []Point

// Validate reports the first point that breaks the rules above.
func (s Schedule) Validate() error {
	for i, pt := range s {
		if !(pt.Progress >= 0 && pt.Progress <= 1) {
			return fmt.Errorf("schedule point %d: progress %v is outside [0, 1]", i, pt.Progress)
		}
		if pt.K < 0 {
			return fmt.Errorf("schedule point %d: K = %d is negative", i, pt.K)
		}
		if i == 0 {
			continue
		}
		if prev := s[i-1]; pt.Progress <= prev.Progress {
			return fmt.Errorf("schedule point %d: progress %v does not come after %v", i, pt.Progress, prev.Progress)
		} else if pt.K < prev.K {
			return fmt.Errorf("schedule point %d: K goes back from %d to %d; layers are only ever frozen front to back", i, prev.K, pt.K)
		}
	}
	return nil
}

// MaxK is the largest K the schedule reaches (0 for an empty one).
func (s Schedule) MaxK() int {
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1].K
}

// ScheduleFromMetrics reads the freeze schedule of a training run from its metrics.jsonl.
//
// It needs the "start" record (for total_steps) before any other, and takes every "freeze"
// record whose k differs from old_k as a point at Progress = step/total_steps: the decision
// is made after optimizer step `step`, so the steps after it train with k frozen. The K before
// the first change is that change's old_k or, for a run that never changes it (static
// freezing), the frozen_layers of the first "step" record. Every "step" record must agree with
// the points (it reports the K its step trained with), which catches two runs' logs appended
// into one. A freeze on the last step changes nothing that is trained and is dropped. Other
// record types ("eval", "cache", "checkpoint", "resume", "end", ...) are ignored. A line that is
// not a JSON object with a "type", or a record missing a field this needs, is an error naming
// path:line.
func ScheduleFromMetrics(path string) (Schedule, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	type change struct{ step, oldK, k, line int }
	type observed struct{ step, k, line int }
	var (
		total   = 0
		changes []change
		steps   []observed
		last    = 0 // the largest step of a step or freeze record so far
		kNow    = -1
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s", path, line, fmt.Sprintf(format, args...))
		}
		var rec struct {
			Type         *string `json:"type"`
			Step         *int    `json:"step"`
			TotalSteps   *int    `json:"total_steps"`
			FrozenLayers *int    `json:"frozen_layers"`
			K            *int    `json:"k"`
			OldK         *int    `json:"old_k"`
		}
		if err := json.Unmarshal(raw, &rec); err != nil {
			return nil, bad("not a metrics record: %v", err)
		}
		if rec.Type == nil {
			return nil, bad("record has no \"type\"")
		}
		typ := *rec.Type
		if typ == "start" {
			if total > 0 {
				return nil, bad("a second start record: the file holds more than one run")
			}
			if rec.TotalSteps == nil || *rec.TotalSteps < 1 {
				return nil, bad("start record without a positive total_steps")
			}
			total = *rec.TotalSteps
			continue
		}
		if typ != "step" && typ != "freeze" {
			continue
		}
		if total == 0 {
			return nil, bad("%s record before the start record", typ)
		}
		if rec.Step == nil {
			return nil, bad("%s record without \"step\"", typ)
		}
		n := *rec.Step
		if n < 0 || n > total {
			return nil, bad("step %d is outside 0..total_steps (%d)", n, total)
		}
		if n < last {
			return nil, bad("step %d comes after step %d: the file holds more than one run", n, last)
		}
		last = n
		switch typ {
		case "step":
			if rec.FrozenLayers == nil || *rec.FrozenLayers < 0 {
				return nil, bad("step record without a frozen_layers ≥ 0")
			}
			steps = append(steps, observed{n, *rec.FrozenLayers, line})
		case "freeze":
			if rec.K == nil || rec.OldK == nil {
				return nil, bad("freeze record without k and old_k")
			}
			oldK, k := *rec.OldK, *rec.K
			if oldK < 0 || k < oldK {
				return nil, bad("freeze record moves K from %d to %d; it only ever grows from 0", oldK, k)
			}
			if kNow >= 0 && oldK != kNow {
				return nil, bad("freeze record has old_k %d, but K was %d", oldK, kNow)
			}
			kNow = k
			if k != oldK {
				changes = append(changes, change{n, oldK, k, line})
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if total == 0 {
		return nil, fmt.Errorf("%s: no start record; is this a training run's metrics.jsonl?", path)
	}

	k0 := 0
	switch {
	case len(changes) > 0:
		k0 = changes[0].oldK
	case len(steps) > 0:
		k0 = steps[0].k
	}
	s := Schedule{{Progress: 0, K: k0}}
	for _, c := range changes {
		if c.step >= total {
			continue
		}
		pt := Point{Progress: float64(c.step) / float64(total), K: c.k}
		if s[len(s)-1].Progress == pt.Progress { // two changes after the same step
			s[len(s)-1] = pt
			continue
		}
		s = append(s, pt)
	}
	// Each step record reports the K its step trained with: the K of the last change made
	// before that step.
	for _, o := range steps {
		want := k0
		for _, c := range changes {
			if c.step < o.step {
				want = c.k
			}
		}
		if o.k != want {
			return nil, fmt.Errorf("%s:%d: frozen_layers is %d at step %d, but the freeze records put K at %d for that step", path, o.line, o.k, o.step, want)
		}
	}
	return s, s.Validate()
}
