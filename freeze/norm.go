package freeze

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Norm is the kind of gradient norm the trainer computes for each encoder layer. The zero
// value means the default, L1.
//
// A layer's norm is taken over its accumulated gradient as one vector: for L1 the sum of the
// absolute values of all its parameters' gradients (what the reference code sums, parameter
// by parameter), for L2 the square root of the sum of their squares. Combine turns
// per-parameter norms into the layer's norm. Changes are relative, so the choice only
// matters through how each norm weighs large against small entries.
type Norm int

const (
	L1 Norm = 1 + iota // sum of |g|, as the reference code (the default)
	L2                 // sqrt of the sum of g²
)

func (n Norm) String() string {
	switch n {
	case 0:
		return "default"
	case L1:
		return "l1"
	case L2:
		return "l2"
	}
	return "Norm(" + strconv.Itoa(int(n)) + ")"
}

// MarshalText writes "l1" or "l2".
func (n Norm) MarshalText() ([]byte, error) {
	if n != L1 && n != L2 {
		return nil, fmt.Errorf("%w: norm %v cannot be written", ErrConfig, n)
	}
	return []byte(n.String()), nil
}

// UnmarshalText reads "l1" or "l2" (any case).
func (n *Norm) UnmarshalText(b []byte) error {
	v, err := ParseNorm(string(b))
	if err == nil {
		*n = v
	}
	return err
}

// ParseNorm reads "l1" or "l2" (any case).
func ParseNorm(s string) (Norm, error) {
	switch strings.ToLower(s) {
	case "l1":
		return L1, nil
	case "l2":
		return L2, nil
	}
	return 0, fmt.Errorf("%w: unknown norm %q (want l1 or l2)", ErrConfig, s)
}

// Combine returns the layer's norm from the same norm of each of its parameters' gradients:
// their sum for L1, the root of their sum of squares for L2 (the zero value counts as L1).
func (n Norm) Combine(paramNorms []float64) float64 {
	var sum float64
	for _, p := range paramNorms {
		if n == L2 {
			sum += p * p
		} else {
			sum += p
		}
	}
	if n == L2 {
		return math.Sqrt(sum)
	}
	return sum
}
