package freeze

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"testing"
)

func TestScheduleSequence(t *testing.T) {
	tests := []struct {
		layers int
		alpha  float64
		want   []int // K after phases 1, 2, ...
	}{
		// 12 layers, α = 1/3: 0 + ⌊12/3⌋ = 4, 4 + ⌊8/3⌋ = 6, 6 + 2 = 8, 8 + ⌊4/3⌋ = 9,
		// 9 + 3/3 = 10 (exactly 1, kept from rounding down to 0), then ⌊2/3⌋ = 0 stops it.
		{12, 1.0 / 3, []int{4, 6, 8, 9, 10, 10, 10}},
		// α = 1/2 reaches the cap: 6, 9, 10, 11 (⌊1/2⌋ = 0 at one layer left anyway).
		{12, 0.5, []int{6, 9, 10, 11, 11}},
		// 6 layers (MiniLM): 0.5 gives 3, 4, 5.
		{6, 0.5, []int{3, 4, 5, 5}},
		// α large: ⌊0.9·12⌋ = 10, then 10 + ⌊1.8⌋ = 11 = L−1, where it stays.
		{12, 0.9, []int{10, 11, 11}},
		// α small: ⌊0.05·12⌋ = 0, so nothing ever freezes.
		{12, 0.05, []int{0, 0, 0}},
		// One layer: nothing can freeze.
		{1, 0.5, []int{0, 0}},
	}
	for _, tc := range tests {
		p, err := NewSchedule(tc.layers, tc.alpha)
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for phase := range tc.want {
			d, err := p.Observe(phase+1, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d.K != p.Frozen() || d.Alpha != tc.alpha || d.Phase != phase+1 {
				t.Errorf("decision %+v", d)
			}
			got = append(got, d.K)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("L=%d α=%v: K = %v, want %v", tc.layers, tc.alpha, got, tc.want)
		}
	}
}

// Without rounding, L − K(T) = (1−α)^T·L; with it, K(T) stays within one layer per phase
// of that and never above it.
func TestScheduleFollowsGeometricDecay(t *testing.T) {
	for _, alpha := range []float64{0.2, 0.25, 1.0 / 3, 0.5, 0.7} {
		p, _ := NewSchedule(24, alpha)
		for phase := 1; phase <= 6; phase++ {
			d, _ := p.Observe(phase, nil)
			exact := 24 - math.Pow(1-alpha, float64(phase))*24
			if float64(d.K) > exact+1e-9 || float64(d.K) < exact-float64(phase) {
				t.Errorf("α=%v phase %d: K=%d, geometric %.3f", alpha, phase, d.K, exact)
			}
		}
	}
}

func TestScheduleReasons(t *testing.T) {
	p, _ := NewSchedule(6, 0.5)
	var reasons []string
	for phase := 1; phase <= 4; phase++ {
		d, _ := p.Observe(phase*10, nil)
		reasons = append(reasons, d.Reason)
	}
	want := []string{
		"phase 1: K + ⌊α·(L−K)⌋ = 0 + ⌊0.5·6⌋ = 3",
		"phase 2: K + ⌊α·(L−K)⌋ = 3 + ⌊0.5·3⌋ = 4",
		"phase 3: K + ⌊α·(L−K)⌋ = 4 + ⌊0.5·2⌋ = 5",
		"phase 4: K + ⌊α·(L−K)⌋ = 5 + ⌊0.5·1⌋ = 5: no change",
	}
	if !slices.Equal(reasons, want) {
		t.Errorf("reasons\n%q\nwant\n%q", reasons, want)
	}
	q, _ := NewSchedule(4, 0.9)
	d, _ := q.Observe(1, nil)
	if d.K != 3 || d.Reason != "phase 1: K + ⌊α·(L−K)⌋ = 0 + ⌊0.9·4⌋ = 3" {
		t.Errorf("%+v", d)
	}
	d, _ = q.Observe(2, nil)
	if d.K != 3 || d.Reason != "phase 2: K + ⌊α·(L−K)⌋ = 3 + ⌊0.9·1⌋ = 3: no change" {
		t.Errorf("%+v", d)
	}
	r, _ := NewSchedule(3, 0.99)
	d, _ = r.Observe(1, nil)
	if d.K != 2 || d.Reason != "phase 1: K + ⌊α·(L−K)⌋ = 0 + ⌊0.99·3⌋ = 2" {
		t.Errorf("%+v", d)
	}
}

func TestScheduleRejectsAndDefaults(t *testing.T) {
	for _, alpha := range []float64{-0.1, 1, 1.5, math.NaN()} {
		if _, err := NewSchedule(12, alpha); !errors.Is(err, ErrConfig) {
			t.Errorf("NewSchedule(12, %v) error %v, want ErrConfig", alpha, err)
		}
	}
	p, err := New(12, Config{Mode: Schedule})
	if err != nil {
		t.Fatal(err)
	}
	if p.(*SchedulePolicy).alpha != DefaultAlpha {
		t.Errorf("zero Alpha gave %v", p.(*SchedulePolicy).alpha)
	}
	if _, err := p.Observe(1, []float64{1, 2}); !errors.Is(err, ErrInput) {
		t.Errorf("wrong norm count: %v", err)
	}
}

func TestScheduleRestore(t *testing.T) {
	whole, _ := NewSchedule(12, 0.25)
	var want []Decision
	for phase := 1; phase <= 8; phase++ {
		d, _ := whole.Observe(phase, nil)
		want = append(want, d)
	}
	for cut := 0; cut <= 8; cut++ {
		p, _ := NewSchedule(12, 0.25)
		for phase := 1; phase <= cut; phase++ {
			p.Observe(phase, nil)
		}
		b, _ := json.Marshal(p.State())
		var s State
		json.Unmarshal(b, &s)
		q, _ := NewSchedule(12, 0.25)
		if err := q.Restore(s); err != nil {
			t.Fatal(err)
		}
		for phase := cut + 1; phase <= 8; phase++ {
			d, _ := q.Observe(phase, nil)
			if !sameDecision(d, want[phase-1]) {
				t.Errorf("cut %d phase %d: %+v, want %+v", cut, phase, d, want[phase-1])
			}
		}
	}
	other, _ := NewSchedule(12, 0.5)
	if err := other.Restore(whole.State()); !errors.Is(err, ErrState) {
		t.Errorf("restoring α=0.25 into α=0.5: %v", err)
	}
}

func sameDecision(a, b Decision) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
