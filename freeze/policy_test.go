package freeze

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
)

func TestIntervalSteps(t *testing.T) {
	tests := []struct{ total, intervals, want int }{
		{2000, 20, 100},
		{105, 20, 5}, // rounds down: 21 observations over 105 steps
		{119, 20, 5},
		{19, 20, 1}, // at least one step
		{0, 20, 1},
		{1000, 0, 50}, // 0 means the default 20
		{1000, -3, 50},
		{1000, 1, 1000},
	}
	for _, tc := range tests {
		if got := IntervalSteps(tc.total, tc.intervals); got != tc.want {
			t.Errorf("IntervalSteps(%d, %d) = %d, want %d", tc.total, tc.intervals, got, tc.want)
		}
	}
	if got := (Config{}).IntervalSteps(2000); got != 100 {
		t.Errorf("Config{}.IntervalSteps(2000) = %d, want 100", got)
	}
	if got := (Config{Intervals: 8}).IntervalSteps(2000); got != 250 {
		t.Errorf("Config{Intervals: 8}.IntervalSteps(2000) = %d, want 250", got)
	}
}

func TestZeroConfigIsTheReference(t *testing.T) {
	p, err := New(12, Config{})
	if err != nil {
		t.Fatal(err)
	}
	a, ok := p.(*AutoPolicy)
	if !ok || a.percentile != 50 || a.norm != L1 || a.Frozen() != 0 {
		t.Errorf("New(12, Config{}) = %#v", p)
	}
	c := Config{}.WithDefaults()
	if c.Mode != Auto || c.Percentile != 50 || c.Norm != L1 || c.Intervals != 20 || c.Alpha != 1.0/3 {
		t.Errorf("defaults %+v", c)
	}
	if _, err := New(12, Config{Mode: 9}); !errors.Is(err, ErrConfig) {
		t.Errorf("unknown mode: %v", err)
	}
}

func TestParseFlag(t *testing.T) {
	tests := []struct {
		in   string
		want Config
	}{
		{"auto", Config{Mode: Auto}},
		{"schedule", Config{Mode: Schedule}},
		{"off", Config{Mode: Static}},
		{"0", Config{Mode: Static}},
		{"3", Config{Mode: Static, FrozenLayers: 3}},
	}
	for _, tc := range tests {
		got, err := ParseFlag(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseFlag(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "-1", "x", "3.5", "Auto"} {
		if _, err := ParseFlag(in); !errors.Is(err, ErrConfig) {
			t.Errorf("ParseFlag(%q) error %v, want ErrConfig", in, err)
		}
	}
}

func TestModeAndNormText(t *testing.T) {
	for _, m := range []Mode{Auto, Static, Schedule} {
		b, err := m.MarshalText()
		var back Mode
		if err != nil || back.UnmarshalText(b) != nil || back != m {
			t.Errorf("mode %v: %q, %v -> %v", m, b, err, back)
		}
	}
	for _, n := range []Norm{L1, L2} {
		b, err := n.MarshalText()
		var back Norm
		if err != nil || back.UnmarshalText(b) != nil || back != n {
			t.Errorf("norm %v: %q, %v -> %v", n, b, err, back)
		}
	}
	if n, err := ParseNorm("L2"); err != nil || n != L2 {
		t.Errorf("ParseNorm(L2) = %v, %v", n, err)
	}
	var n Norm
	if err := json.Unmarshal([]byte(`"l3"`), &n); err == nil {
		t.Error("accepted norm l3")
	}
	var m Mode
	if err := json.Unmarshal([]byte(`"sometimes"`), &m); err == nil {
		t.Error("accepted mode sometimes")
	}
	if _, err := Norm(0).MarshalText(); err == nil {
		t.Error("wrote the unset norm")
	}
}

func TestNormCombine(t *testing.T) {
	params := []float64{3, 4, 12}
	if got := L1.Combine(params); got != 19 {
		t.Errorf("L1 = %v, want 19", got)
	}
	if got := L2.Combine(params); got != 13 {
		t.Errorf("L2 = %v, want 13", got)
	}
	if got := Norm(0).Combine(params); got != 19 {
		t.Errorf("default = %v, want the L1 19", got)
	}
	if got := L2.Combine(nil); got != 0 || math.Signbit(got) {
		t.Errorf("L2 of nothing = %v", got)
	}
}
