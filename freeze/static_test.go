package freeze

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
)

func TestStatic(t *testing.T) {
	for _, n := range []int{0, 1, 11} {
		p, err := NewStatic(12, n)
		if err != nil {
			t.Fatalf("NewStatic(12, %d): %v", n, err)
		}
		if p.Frozen() != n {
			t.Errorf("Frozen() = %d before any interval, want %d", p.Frozen(), n)
		}
		for step := 1; step <= 3; step++ {
			var norms []float64 // the trainer need not compute norms for a static policy
			if step == 2 {
				norms = make([]float64, 12)
			}
			d, err := p.Observe(step*100, norms)
			if err != nil {
				t.Fatal(err)
			}
			if d.OldK != n || d.K != n || d.Changed() || d.EmbeddingsFrozen != (n > 0) || d.Phase != step {
				t.Errorf("N=%d step %d: %+v", n, step, d)
			}
		}
	}
	p, _ := NewStatic(12, 2)
	d, _ := p.Observe(1, nil)
	if d.Reason != "static: embeddings and layers 0-1 frozen from the start" {
		t.Errorf("reason %q", d.Reason)
	}
}

func TestStaticRejects(t *testing.T) {
	for _, n := range []int{-1, 12, 13} {
		if _, err := NewStatic(12, n); !errors.Is(err, ErrConfig) {
			t.Errorf("NewStatic(12, %d) error %v, want ErrConfig", n, err)
		}
	}
	if _, err := New(12, Config{Mode: Static, FrozenLayers: 12}); err == nil ||
		err.Error() != "freeze: invalid configuration: --freeze 12: a 12-layer encoder can freeze 0 to 11 layers (its last layer always trains)" {
		t.Errorf("error %v", err)
	}
	p, _ := NewStatic(3, 1)
	for _, norms := range [][]float64{{1, 2}, {1, math.NaN(), 3}} {
		if _, err := p.Observe(1, norms); !errors.Is(err, ErrInput) {
			t.Errorf("Observe(%v) error %v, want ErrInput", norms, err)
		}
	}
}

func TestStaticRestore(t *testing.T) {
	p, _ := NewStatic(6, 2)
	p.Observe(10, nil)
	b, _ := json.Marshal(p.State())
	var s State
	json.Unmarshal(b, &s)

	q, _ := NewStatic(6, 2)
	if err := q.Restore(s); err != nil {
		t.Fatal(err)
	}
	a, _ := p.Observe(20, nil)
	c, _ := q.Observe(20, nil)
	if !sameDecision(a, c) {
		t.Errorf("resumed %+v, uninterrupted %+v", c, a)
	}
	other, _ := NewStatic(6, 3)
	if err := other.Restore(s); !errors.Is(err, ErrState) {
		t.Errorf("restoring N=2 into N=3: %v", err)
	}
}
