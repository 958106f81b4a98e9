package probe

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// blobs draws n rows of d features per class, class c centred at c·sep on
// every feature, with unit noise.
func blobs(n, d, classes int, sep float64, seed uint64) ([][]float32, []int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	var x [][]float32
	var y []int
	for c := 0; c < classes; c++ {
		for i := 0; i < n; i++ {
			row := make([]float32, d)
			for j := range row {
				row[j] = float32(float64(c)*sep + rng.NormFloat64() + 5) // off-centre: standardising matters
			}
			x, y = append(x, row), append(y, c)
		}
	}
	return x, y
}

// TestGradientMatchesFiniteDifferences checks loss's analytic gradient.
func TestGradientMatchesFiniteDifferences(t *testing.T) {
	x, y := blobs(10, 4, 3, 1, 1)
	m := &Model{}
	m.Mean, m.Scale = standardise(x)
	z := make([][]float64, len(x))
	for i := range x {
		z[i] = m.scale(x[i])
	}
	rng := rand.New(rand.NewPCG(2, 2))
	theta := make([]float64, 3*5)
	for i := range theta {
		theta[i] = rng.NormFloat64()
	}
	grad := make([]float64, len(theta))
	loss(theta, grad, z, y, 3, 0.1)
	scratch := make([]float64, len(theta))
	for i := range theta {
		const h = 1e-6
		old := theta[i]
		theta[i] = old + h
		up := loss(theta, scratch, z, y, 3, 0.1)
		theta[i] = old - h
		down := loss(theta, scratch, z, y, 3, 0.1)
		theta[i] = old
		if fd := (up - down) / (2 * h); math.Abs(fd-grad[i]) > 1e-6 {
			t.Fatalf("parameter %d: gradient %v, finite difference %v", i, grad[i], fd)
		}
	}
}

// TestFitReachesTheOptimum: the fitted parameters zero the gradient of the
// regularised loss (it is strictly convex, so that is its minimum), and
// the probe separates well-separated classes.
func TestFitReachesTheOptimum(t *testing.T) {
	x, y := blobs(200, 8, 3, 1.5, 3)
	m, err := Fit(x, y, 3, Options{Lambda: 1e-2})
	if err != nil {
		t.Fatal(err)
	}
	d := len(x[0])
	theta := make([]float64, 0, 3*(d+1))
	for c := range m.W {
		theta = append(append(theta, m.W[c]...), m.B[c])
	}
	z := make([][]float64, len(x))
	for i := range x {
		z[i] = m.scale(x[i])
	}
	grad := make([]float64, len(theta))
	loss(theta, grad, z, y, 3, 1e-2)
	if g := maxAbs(grad); g > 1e-5 {
		t.Fatalf("largest gradient component at the fit is %g, want ≈ 0", g)
	}
	if acc := m.Accuracy(x, y); acc < 0.95 {
		t.Fatalf("training accuracy %.3f on well-separated blobs", acc)
	}
	xt, yt := blobs(100, 8, 3, 1.5, 4)
	if acc := m.Accuracy(xt, yt); acc < 0.93 {
		t.Fatalf("held-out accuracy %.3f on well-separated blobs", acc)
	}
}

// TestStrongerPenaltyShrinksWeights: more L2 penalty, smaller weights.
func TestStrongerPenaltyShrinksWeights(t *testing.T) {
	x, y := blobs(50, 4, 2, 1, 5)
	norm := func(lambda float64) float64 {
		m, err := Fit(x, y, 2, Options{Lambda: lambda})
		if err != nil {
			t.Fatal(err)
		}
		s := 0.0
		for _, w := range m.W {
			s += dot(w, w)
		}
		return s
	}
	if weak, strong := norm(1e-4), norm(1); !(strong < weak/10) {
		t.Fatalf("|W|² with lambda 1 is %g, with 1e-4 %g: want far smaller", strong, weak)
	}
}

func TestFitRefusesBadInput(t *testing.T) {
	nan := float32(math.NaN())
	for _, tc := range []struct {
		name    string
		x       [][]float32
		y       []int
		classes int
		o       Options
	}{
		{"no rows", nil, nil, 2, Options{}},
		{"labels and rows differ", [][]float32{{1}, {2}}, []int{0}, 2, Options{}},
		{"one class", [][]float32{{1}}, []int{0}, 1, Options{}},
		{"label out of range", [][]float32{{1}, {2}}, []int{0, 2}, 2, Options{}},
		{"ragged rows", [][]float32{{1, 2}, {2}}, []int{0, 1}, 2, Options{}},
		{"NaN feature", [][]float32{{1}, {nan}}, []int{0, 1}, 2, Options{}},
		{"negative lambda", [][]float32{{1}, {2}}, []int{0, 1}, 2, Options{Lambda: -1}},
	} {
		if _, err := Fit(tc.x, tc.y, tc.classes, tc.o); !errors.Is(err, ErrInput) {
			t.Errorf("%s: got %v, want ErrInput", tc.name, err)
		}
	}
}
