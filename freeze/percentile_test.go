package freeze

import (
	"errors"
	"math"
	"testing"
)

// The want values are numpy 2.4's, printed by
//
//	python3 -c "import numpy as np; print(repr(float(np.percentile(XS, P))))"
//
// and compared bit for bit.
func TestPercentileMatchesNumpy(t *testing.T) {
	tests := []struct {
		xs   []float64
		p    float64
		want float64
	}{
		{[]float64{1, 2, 3, 4}, 50, 2.5},
		{[]float64{3, 1, 2}, 50, 2.0},
		{[]float64{1, 2, 3, 4, 5}, 25, 2.0},
		{[]float64{15, 20, 35, 40, 50}, 40, 29.0},
		{[]float64{0.1, 0.2, 0.7}, 30, 0.16},
		{[]float64{0.1, 0.7}, 75, 0.5499999999999999}, // numpy's b − (b−a)(1−t) branch
		{[]float64{0.1, 0.7}, 62.5, 0.475},
		{[]float64{7}, 33, 7},
		{[]float64{0.0312, 0.044, 0.0101, 0.0205, 0.5}, 50, 0.0312},
		{[]float64{0.0312, 0.044, 0.0101, 0.0205, 0.5}, 90, 0.3176},
		{[]float64{0.0312, 0.044, 0.0101, 0.0205, 0.5}, 33.3, 0.024052399999999998},
		{[]float64{0.9, 0.3, 0.6, 0.1, 0.8, 0.2, 0.7}, 0, 0.1},
		{[]float64{0.9, 0.3, 0.6, 0.1, 0.8, 0.2, 0.7}, 100, 0.9},
		{[]float64{0.9, 0.3, 0.6, 0.1, 0.8, 0.2, 0.7}, 66.7, 0.7002},
		{[]float64{1e-300, 3e-300, 2.5}, 12.5, 1.5e-300},
		{[]float64{0, 0, 0, 0.0833}, 50, 0},
	}
	for _, tc := range tests {
		in := append([]float64(nil), tc.xs...)
		got, err := Percentile(in, tc.p)
		if err != nil {
			t.Errorf("Percentile(%v, %v): %v", tc.xs, tc.p, err)
			continue
		}
		if math.Float64bits(got) != math.Float64bits(tc.want) {
			t.Errorf("Percentile(%v, %v) = %v, numpy says %v", tc.xs, tc.p, got, tc.want)
		}
		for i := range in {
			if in[i] != tc.xs[i] {
				t.Fatalf("Percentile reordered its input: %v", in)
			}
		}
	}
}

// Where numpy returns NaN (it computes ∞−∞ or ∞·0), Percentile returns a value the data
// supports. numpy's answers are in the comments.
func TestPercentileInfinities(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		xs   []float64
		p    float64
		want float64
	}{
		{[]float64{1, inf}, 0, 1},        // numpy: nan
		{[]float64{1, inf}, 25, inf},     // numpy: inf
		{[]float64{1, inf}, 75, inf},     // numpy: nan
		{[]float64{inf, inf}, 50, inf},   // numpy: nan
		{[]float64{1, 2, inf}, 50, 2},    // numpy: nan
		{[]float64{1, 2, inf}, 100, inf}, // numpy: nan
	}
	for _, tc := range tests {
		got, err := Percentile(tc.xs, tc.p)
		if err != nil || got != tc.want {
			t.Errorf("Percentile(%v, %v) = %v, %v; want %v", tc.xs, tc.p, got, err, tc.want)
		}
	}
}

func TestPercentileRejects(t *testing.T) {
	tests := []struct {
		xs []float64
		p  float64
	}{
		{nil, 50},
		{[]float64{1, math.NaN()}, 50},
		{[]float64{1}, -1},
		{[]float64{1}, 100.5},
		{[]float64{1}, math.NaN()},
	}
	for _, tc := range tests {
		if _, err := Percentile(tc.xs, tc.p); !errors.Is(err, ErrInput) {
			t.Errorf("Percentile(%v, %v) error = %v, want ErrInput", tc.xs, tc.p, err)
		}
	}
}
