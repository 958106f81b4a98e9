package freeze

import (
	"errors"
	"testing"
)

// TestStartFrozenThenRule: with StartFrozen = 2, K is 2 before the first
// decision; the rule then decides among layers 2.. only, exactly as it would
// on the trace with layers 0 and 1 reporting no norm, and K never drops below
// the start.
func TestStartFrozenThenRule(t *testing.T) {
	tr := loadTrace(t, "testdata/imdb_minilm6.json")
	p, err := NewAuto(tr.Layers, Config{StartFrozen: 2})
	if err != nil {
		t.Fatal(err)
	}
	if p.Frozen() != 2 {
		t.Fatalf("before any decision K=%d, want the start of 2", p.Frozen())
	}
	ds := replayWith(t, tr, Config{StartFrozen: 2})
	if ds[0].K != 2 || ds[0].OldK != 2 {
		t.Fatalf("first interval (baseline only): K %d→%d, want 2→2", ds[0].OldK, ds[0].K)
	}
	moved := false
	for i, d := range ds {
		if d.K < 2 {
			t.Fatalf("interval %d: K=%d below the start", i, d.K)
		}
		if d.Norms[0] != 0 || d.Norms[1] != 0 {
			t.Fatalf("interval %d: frozen layers 0-1 report norms %v", i, d.Norms[:2])
		}
		moved = moved || d.K > 2
	}
	if !moved {
		t.Fatal("the rule never froze beyond the start on a trace where it freezes")
	}

	// The same decisions as a policy without a start fed the trace with
	// layers 0-1 zeroed and the search starting at 2: compare with the
	// threshold computed by hand at the first real decision.
	r := changes(ds[0].Norms, ds[1].Norms)
	thr, err := Percentile(r[2:], 50)
	if err != nil {
		t.Fatal(err)
	}
	want := 2
	for want < tr.Layers-1 && r[want] < thr {
		want++
	}
	if ds[1].K != want || float64(ds[1].Threshold) != thr {
		t.Fatalf("second interval: K=%d threshold %v, want K=%d threshold %v (median of layers 2-5 only)", ds[1].K, ds[1].Threshold, want, thr)
	}
}

func TestStartFrozenRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"negative", Config{StartFrozen: -1}},
		{"the last layer", Config{StartFrozen: 6}},
		{"beyond the cap", Config{StartFrozen: 3, MaxFrozen: 2}},
		{"while observing", Config{StartFrozen: 1, Observe: true}},
	} {
		if _, err := NewAuto(6, c.cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s (%+v): got %v, want ErrConfig", c.name, c.cfg, err)
		}
	}
	if p, err := NewAuto(6, Config{StartFrozen: 2, MaxFrozen: 2}); err != nil || p.Frozen() != 2 {
		t.Errorf("start = cap = 2: %v, K=%d", err, p.Frozen())
	}
}

// TestStartFrozenResume: the start is part of the state; a state restores
// into a policy with the same start and continues identically, and is
// refused by one with another start.
func TestStartFrozenResume(t *testing.T) {
	tr := loadTrace(t, "testdata/imdb_minilm6.json")
	want := replayWith(t, tr, Config{StartFrozen: 2})
	p, _ := NewAuto(tr.Layers, Config{StartFrozen: 2})
	half := len(tr.Norms) / 2
	for _, o := range feed(p, trace{Layers: tr.Layers, StepsPerInterval: tr.StepsPerInterval, Norms: tr.Norms[:half]}) {
		if o.Decision == nil {
			t.Fatal(o.Error)
		}
	}
	st := p.State()
	if st.StartFrozen != 2 {
		t.Fatalf("state's start %d, want 2", st.StartFrozen)
	}
	other, _ := NewAuto(tr.Layers, Config{})
	if err := other.Restore(st); !errors.Is(err, ErrState) {
		t.Fatalf("restoring a start-2 state into a policy without a start: %v, want ErrState", err)
	}
	q, _ := NewAuto(tr.Layers, Config{StartFrozen: 2})
	if err := q.Restore(st); err != nil {
		t.Fatal(err)
	}
	for i := half; i < len(tr.Norms); i++ {
		norms := make([]float64, tr.Layers)
		for j, v := range tr.Norms[i] {
			if j >= q.Frozen() {
				norms[j] = float64(v)
			}
		}
		d, err := q.Observe((i+1)*tr.StepsPerInterval, norms)
		if err != nil {
			t.Fatal(err)
		}
		if d.K != want[i].K || d.Reason != want[i].Reason {
			t.Fatalf("interval %d after resume: K=%d %q, uninterrupted K=%d %q", i, d.K, d.Reason, want[i].K, want[i].Reason)
		}
	}
}
