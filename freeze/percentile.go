package freeze

import (
	"fmt"
	"math"
	"slices"
)

// Percentile returns the p-th percentile (0 ≤ p ≤ 100) of xs as numpy.percentile does by
// default (method "linear", type 7 of Hyndman and Fan), which the reference code calls:
// sort xs, take the virtual index h = (n−1)·(p/100), and interpolate linearly between the
// values at floor(h) and floor(h)+1 with weight h − floor(h). The interpolation is numpy's
// own (a + (b−a)·t below t = 0.5, b − (b−a)·(1−t) from it), so finite results agree with
// numpy bit for bit.
//
// Infinite values are where numpy goes wrong: it computes ∞ − ∞ or ∞·0 and returns NaN even
// for percentile([1, 2, ∞], 50). Here a weight of zero, or two equal neighbours, returns the
// neighbour itself, and interpolating towards an infinity with a positive weight returns
// that infinity, so the result is always one the data supports. NaN in xs, an empty xs, or p
// outside [0, 100] is an error.
func Percentile(xs []float64, p float64) (float64, error) {
	if len(xs) == 0 {
		return 0, fmt.Errorf("%w: percentile of no values", ErrInput)
	}
	if !(p >= 0 && p <= 100) {
		return 0, fmt.Errorf("%w: percentile %v outside [0, 100]", ErrInput, p)
	}
	if slices.ContainsFunc(xs, math.IsNaN) {
		return 0, fmt.Errorf("%w: percentile of NaN", ErrInput)
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	h := float64(len(s)-1) * (p / 100)
	lo := math.Floor(h)
	i := int(lo)
	j := min(i+1, len(s)-1)
	return lerp(s[i], s[j], h-lo), nil
}

// lerp is numpy's _lerp, with the infinite cases described at Percentile.
func lerp(a, b, t float64) float64 {
	switch {
	case t == 0 || a == b:
		return a
	case math.IsInf(b, 0):
		return b
	case math.IsInf(a, 0):
		return a
	}
	d := b - a
	// The explicit float64 conversions forbid fusing into an FMA, which numpy does not do.
	if t >= 0.5 {
		return b - float64(d*(1-t))
	}
	return a + float64(d*t)
}
