package freeze

import (
	"errors"
	"strings"
	"testing"
)

// replayWith is replay with a Config of one's own, for traces that
// decide without errors.
func replayWith(t *testing.T, tr trace, cfg Config) []Decision {
	t.Helper()
	p, err := NewAuto(tr.Layers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out []Decision
	for i, o := range feed(p, tr) {
		if o.Decision == nil {
			t.Fatalf("interval %d: %s", i, o.Error)
		}
		out = append(out, *o.Decision)
	}
	return out
}

// TestMaxFrozenCapsK: with a cap, K follows the uncapped rule until the rule
// asks for more than the cap, then stays at the cap, and says so.
func TestMaxFrozenCapsK(t *testing.T) {
	tr := loadTrace(t, "testdata/bert12.json")
	free := replayWith(t, tr, Config{})
	if free[len(free)-1].K <= 4 {
		t.Fatalf("the uncapped rule ends at K=%d: the trace does not exercise a cap of 4", free[len(free)-1].K)
	}
	capped := replayWith(t, tr, Config{MaxFrozen: 4})
	hit := false
	for i, d := range capped {
		if d.K > 4 {
			t.Fatalf("interval %d: K=%d beyond the cap of 4", i, d.K)
		}
		if !hit && free[i].K <= 4 && d.K != free[i].K {
			t.Fatalf("interval %d: K=%d before the cap binds, the uncapped rule has %d", i, d.K, free[i].K)
		}
		if free[i].K > 4 && !hit {
			hit = true
			if d.K != 4 || !strings.Contains(d.Reason, "capped at 4") {
				t.Fatalf("interval %d: the rule asks for K=%d; capped decision K=%d, reason %q", i, free[i].K, d.K, d.Reason)
			}
		}
	}
	if !hit {
		t.Fatal("the cap never bound")
	}
}

// TestObserveNeverFreezes: --freeze observe decides on every interval's norms
// (the trace is in the decisions) but K stays 0.
func TestObserveNeverFreezes(t *testing.T) {
	tr := loadTrace(t, "testdata/bert6.json")
	ds := replayWith(t, tr, Config{Observe: true})
	would := false
	for i, d := range ds {
		if d.K != 0 {
			t.Fatalf("interval %d: observing, K=%d", i, d.K)
		}
		if len(d.Norms) != tr.Layers || d.Norms[tr.Layers-1] != float64(tr.Norms[i][tr.Layers-1]) {
			t.Fatalf("interval %d: the decision does not carry the interval's norms", i)
		}
		would = would || strings.Contains(d.Reason, "observing only")
	}
	if !would {
		t.Fatal("the rule never wanted to freeze on a trace where it does: no decision says it observes only")
	}
	if cfg, err := ParseFlag("observe"); err != nil || cfg.Mode != Auto || !cfg.Observe {
		t.Fatalf("ParseFlag(observe) = %+v, %v", cfg, err)
	}
}

func TestMaxFrozenOutOfRange(t *testing.T) {
	for _, n := range []int{-1, 6, 100} {
		if _, err := NewAuto(6, Config{MaxFrozen: n}); !errors.Is(err, ErrConfig) {
			t.Errorf("MaxFrozen %d of 6 layers: got %v, want ErrConfig", n, err)
		}
	}
}
