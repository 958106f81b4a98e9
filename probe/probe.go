// Package probe fits the baseline that users pick when fine-tuning is too
// slow: a frozen encoder's pooled embeddings fed to multinomial logistic
// regression (a "linear probe"). It is pure Go: the embeddings come from
// elsewhere (package run), and the fit is L-BFGS on the L2-regularised
// cross-entropy, with the features standardised on the training set, as
// scikit-learn's StandardScaler + LogisticRegression would do it.
//
// AutoFreeze has to beat this baseline's accuracy to be worth its cost:
// embedding once and fitting a linear model takes a fraction of one
// fine-tuning epoch.
package probe

import (
	"errors"
	"fmt"
	"math"
)

// Model is a fitted probe: logits = W·((x − Mean) / Scale) + B.
type Model struct {
	Mean, Scale []float64
	W           [][]float64 // [classes][features]
	B           []float64
	Lambda      float64
}

// Options of a fit; zero values mean the defaults.
type Options struct {
	// Lambda is the L2 penalty on W per example (scikit-learn's
	// 1 / (C · n)); 0 means 1e-3.
	Lambda float64
	// MaxIter bounds the L-BFGS iterations (default 500).
	MaxIter int
}

// ErrInput is wrapped by every error about the data given to Fit.
var ErrInput = errors.New("probe: invalid input")

// Fit fits a probe of classes classes to the rows x (all of one length)
// with labels y in [0, classes).
func Fit(x [][]float32, y []int, classes int, o Options) (*Model, error) {
	if o.Lambda == 0 {
		o.Lambda = 1e-3
	}
	if o.MaxIter == 0 {
		o.MaxIter = 500
	}
	if !(o.Lambda > 0) || math.IsInf(o.Lambda, 0) {
		return nil, fmt.Errorf("%w: lambda %v: want a positive number", ErrInput, o.Lambda)
	}
	if len(x) == 0 || len(x) != len(y) {
		return nil, fmt.Errorf("%w: %d rows and %d labels", ErrInput, len(x), len(y))
	}
	if classes < 2 {
		return nil, fmt.Errorf("%w: %d classes: want at least 2", ErrInput, classes)
	}
	d := len(x[0])
	for i, row := range x {
		if len(row) != d {
			return nil, fmt.Errorf("%w: row %d has %d features, row 0 has %d", ErrInput, i, len(row), d)
		}
		if y[i] < 0 || y[i] >= classes {
			return nil, fmt.Errorf("%w: row %d has label %d outside [0, %d)", ErrInput, i, y[i], classes)
		}
		for _, v := range row {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("%w: row %d has a non-finite feature", ErrInput, i)
			}
		}
	}
	m := &Model{Lambda: o.Lambda}
	m.Mean, m.Scale = standardise(x)
	z := make([][]float64, len(x))
	for i, row := range x {
		z[i] = m.scale(row)
	}
	obj := func(theta, grad []float64) float64 { return loss(theta, grad, z, y, classes, o.Lambda) }
	theta := lbfgs(obj, make([]float64, classes*(d+1)), o.MaxIter)
	m.W = make([][]float64, classes)
	for c := range m.W {
		m.W[c] = theta[c*(d+1) : c*(d+1)+d]
	}
	m.B = make([]float64, classes)
	for c := range m.B {
		m.B[c] = theta[c*(d+1)+d]
	}
	return m, nil
}

// standardise returns each feature's mean and standard deviation (1 where
// a feature is constant).
func standardise(x [][]float32) (mean, scale []float64) {
	d := len(x[0])
	mean, scale = make([]float64, d), make([]float64, d)
	for _, row := range x {
		for j, v := range row {
			mean[j] += float64(v)
		}
	}
	n := float64(len(x))
	for j := range mean {
		mean[j] /= n
	}
	for _, row := range x {
		for j, v := range row {
			dv := float64(v) - mean[j]
			scale[j] += dv * dv
		}
	}
	for j := range scale {
		scale[j] = math.Sqrt(scale[j] / n)
		if scale[j] == 0 {
			scale[j] = 1
		}
	}
	return mean, scale
}

func (m *Model) scale(row []float32) []float64 {
	z := make([]float64, len(row))
	for j, v := range row {
		z[j] = (float64(v) - m.Mean[j]) / m.Scale[j]
	}
	return z
}

// Logits returns the class scores of one row.
func (m *Model) Logits(row []float32) []float64 {
	z := m.scale(row)
	out := make([]float64, len(m.W))
	for c, w := range m.W {
		s := m.B[c]
		for j, v := range z {
			s += w[j] * v
		}
		out[c] = s
	}
	return out
}

// Predict returns the most likely class of one row.
func (m *Model) Predict(row []float32) int {
	l := m.Logits(row)
	best := 0
	for c := range l {
		if l[c] > l[best] {
			best = c
		}
	}
	return best
}

// Accuracy is the share of rows whose predicted class is their label.
func (m *Model) Accuracy(x [][]float32, y []int) float64 {
	if len(x) == 0 {
		return 0
	}
	right := 0
	for i, row := range x {
		if m.Predict(row) == y[i] {
			right++
		}
	}
	return float64(right) / float64(len(x))
}

// loss is the mean cross-entropy of the softmax of theta's logits plus
// lambda/2·|W|², and its gradient into grad. theta holds, per class, its
// d weights then its bias (the bias is not penalised).
func loss(theta, grad []float64, z [][]float64, y []int, classes int, lambda float64) float64 {
	d := len(z[0])
	for i := range grad {
		grad[i] = 0
	}
	logits := make([]float64, classes)
	total := 0.0
	for i, row := range z {
		hi := math.Inf(-1)
		for c := 0; c < classes; c++ {
			w := theta[c*(d+1) : c*(d+1)+d]
			s := theta[c*(d+1)+d]
			for j, v := range row {
				s += w[j] * v
			}
			logits[c] = s
			hi = max(hi, s)
		}
		sum := 0.0
		for c := range logits {
			logits[c] = math.Exp(logits[c] - hi)
			sum += logits[c]
		}
		total += math.Log(sum) + hi - (math.Log(logits[y[i]]) + hi)
		for c := range logits {
			p := logits[c] / sum
			if c == y[i] {
				p--
			}
			g := grad[c*(d+1) : c*(d+1)+d+1]
			for j, v := range row {
				g[j] += p * v
			}
			g[d] += p
		}
	}
	n := float64(len(z))
	reg := 0.0
	for c := 0; c < classes; c++ {
		for j := 0; j <= d; j++ {
			k := c*(d+1) + j
			grad[k] /= n
			if j < d {
				grad[k] += lambda * theta[k]
				reg += theta[k] * theta[k]
			}
		}
	}
	return total/n + lambda/2*reg
}
