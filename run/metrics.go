package run

import (
	"math"
	"slices"

	"github.com/autofreeze/autofreeze/model"
)

// Metrics are the evaluation metrics of a head: Loss is the training
// loss's (cross-entropy, binary cross-entropy, squared error) mean.
type Metrics struct {
	Loss float64 `json:"loss"`
	// Accuracy is the fraction of examples predicted right; for
	// multi-label data, with every label right (exact match). 0 for
	// regression.
	Accuracy float64 `json:"accuracy"`
	// MacroF1 is the mean of the per-class (per-label) F1 scores.
	MacroF1 float64 `json:"macro_f1"`
	// MCC is Matthews' correlation coefficient, for binary tasks only.
	MCC *float64 `json:"mcc,omitempty"`
	// MicroF1 and LabelF1 (in the order of Labels) are multi-label only.
	MicroF1 *float64  `json:"micro_f1,omitempty"`
	LabelF1 []float64 `json:"label_f1,omitempty"`
	Labels  []string  `json:"labels,omitempty"`
	// Pearson's and Spearman's correlations of predictions and scores are
	// regression only (Loss is then the mean squared error); nil where a
	// side is constant.
	Pearson  *float64 `json:"pearson,omitempty"`
	Spearman *float64 `json:"spearman,omitempty"`
	Examples int      `json:"examples"`

	problem model.Problem
}

// Field is one named metric.
type Field struct {
	Name  string
	Value float64
}

// Fields are the metrics that mean something for the problem, in the order
// to show them.
func (m Metrics) Fields() []Field {
	fs := []Field{{"loss", m.Loss}}
	switch m.problem {
	case model.Regression:
		fs = append(fs, Field{"mse", m.Loss})
		for _, c := range []struct {
			name string
			v    *float64
		}{{"pearson", m.Pearson}, {"spearman", m.Spearman}} {
			if c.v != nil {
				fs = append(fs, Field{c.name, *c.v})
			}
		}
		return fs
	case model.MultiLabel:
		fs = append(fs, Field{"exact_match", m.Accuracy})
		if m.MicroF1 != nil { // nil with no examples
			fs = append(fs, Field{"micro_f1", *m.MicroF1})
		}
		return append(fs, Field{"macro_f1", m.MacroF1})
	}
	fs = append(fs, Field{"accuracy", m.Accuracy}, Field{"macro_f1", m.MacroF1})
	if m.MCC != nil {
		fs = append(fs, Field{"mcc", *m.MCC})
	}
	return fs
}

// classification computes accuracy, macro-F1 and (for two classes) MCC
// from true and predicted class ids.
func classification(truth, pred []int, numLabels int) Metrics {
	m := Metrics{Examples: len(truth), problem: model.SingleLabel}
	if len(truth) == 0 {
		return m
	}
	conf := make([][]int, numLabels) // conf[true][pred]
	for i := range conf {
		conf[i] = make([]int, numLabels)
	}
	correct := 0
	for i, t := range truth {
		conf[t][pred[i]]++
		if t == pred[i] {
			correct++
		}
	}
	m.Accuracy = float64(correct) / float64(len(truth))
	f1sum := 0.0
	for c := 0; c < numLabels; c++ {
		tp := conf[c][c]
		fp, fn := 0, 0
		for o := 0; o < numLabels; o++ {
			if o != c {
				fp += conf[o][c]
				fn += conf[c][o]
			}
		}
		if d := 2*tp + fp + fn; d > 0 {
			f1sum += 2 * float64(tp) / float64(d)
		}
	}
	m.MacroF1 = f1sum / float64(numLabels)
	if numLabels == 2 {
		tp, tn := float64(conf[1][1]), float64(conf[0][0])
		fp, fn := float64(conf[0][1]), float64(conf[1][0])
		mcc := 0.0
		if d := math.Sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)); d > 0 {
			mcc = (tp*tn - fp*fn) / d
		}
		m.MCC = &mcc
	}
	return m
}

// softmax returns the probabilities of one row of logits.
func softmax(logits []float32) []float64 {
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, float64(v))
	}
	out := make([]float64, len(logits))
	sum := 0.0
	for i, v := range logits {
		out[i] = math.Exp(float64(v) - mx)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// crossEntropy is -log p(label) of one row of logits.
func crossEntropy(logits []float32, label int) float64 {
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, float64(v))
	}
	sum := 0.0
	for _, v := range logits {
		sum += math.Exp(float64(v) - mx)
	}
	return -(float64(logits[label]) - mx - math.Log(sum))
}

func argmax(xs []float32) int {
	best := 0
	for i, v := range xs {
		if v > xs[best] {
			best = i
		}
	}
	return best
}

// multiLabel scores logits [rows][labels] against 0/1 truth (row-major):
// a label is predicted when its logit is above 0 (probability above 1/2).
func multiLabel(truth []float32, logits [][]float32, numLabels int) Metrics {
	m := Metrics{Examples: len(logits), problem: model.MultiLabel}
	tp, fp, fn := make([]int, numLabels), make([]int, numLabels), make([]int, numLabels)
	exact, loss := 0, 0.0
	for i, row := range logits {
		all := true
		for j, x := range row {
			y := truth[i*numLabels+j]
			loss += binaryCrossEntropy(x, y)
			switch pred := x > 0; {
			case pred && y == 1:
				tp[j]++
			case pred:
				fp[j]++
				all = false
			case y == 1:
				fn[j]++
				all = false
			}
		}
		if all {
			exact++
		}
	}
	if len(logits) == 0 {
		return m
	}
	m.Loss = loss / float64(len(logits)*numLabels)
	m.Accuracy = float64(exact) / float64(len(logits))
	m.LabelF1 = make([]float64, numLabels)
	sumTP, sumFP, sumFN := 0, 0, 0
	for j := range numLabels {
		m.LabelF1[j] = f1(tp[j], fp[j], fn[j])
		m.MacroF1 += m.LabelF1[j] / float64(numLabels)
		sumTP, sumFP, sumFN = sumTP+tp[j], sumFP+fp[j], sumFN+fn[j]
	}
	micro := f1(sumTP, sumFP, sumFN)
	m.MicroF1 = &micro
	return m
}

// f1 is 2TP/(2TP+FP+FN), 0 when there is nothing to count (as
// scikit-learn's zero_division=0).
func f1(tp, fp, fn int) float64 {
	if d := 2*tp + fp + fn; d > 0 {
		return 2 * float64(tp) / float64(d)
	}
	return 0
}

// binaryCrossEntropy is the loss of one logit x against y in [0, 1], in
// the form that never overflows: max(x,0) - x*y + log(1 + e^-|x|).
func binaryCrossEntropy(x, y float32) float64 {
	xf, yf := float64(x), float64(y)
	return math.Max(xf, 0) - xf*yf + math.Log1p(math.Exp(-math.Abs(xf)))
}

// regression scores predictions against true scores: the mean squared
// error and both correlations.
func regression(truth, pred []float32) Metrics {
	m := Metrics{Examples: len(truth), problem: model.Regression}
	if len(truth) == 0 {
		return m
	}
	x, y := make([]float64, len(truth)), make([]float64, len(truth))
	for i := range truth {
		x[i], y[i] = float64(pred[i]), float64(truth[i])
		d := x[i] - y[i]
		m.Loss += d * d
	}
	m.Loss /= float64(len(truth))
	if r, ok := pearson(x, y); ok {
		m.Pearson = &r
	}
	if r, ok := pearson(ranks(x), ranks(y)); ok {
		m.Spearman = &r
	}
	return m
}

// pearson is the correlation of x and y; false when either is constant.
func pearson(x, y []float64) (float64, bool) {
	n := float64(len(x))
	mx, my := 0.0, 0.0
	for i := range x {
		mx += x[i] / n
		my += y[i] / n
	}
	sxy, sxx, syy := 0.0, 0.0, 0.0
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return 0, false
	}
	return sxy / math.Sqrt(sxx*syy), true
}

// ranks are 1-based ranks of xs, ties sharing their mean rank (as
// Spearman's correlation needs).
func ranks(xs []float64) []float64 {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case xs[a] < xs[b]:
			return -1
		case xs[a] > xs[b]:
			return 1
		}
		return 0
	})
	out := make([]float64, len(xs))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && xs[idx[j+1]] == xs[idx[i]] {
			j++
		}
		mean := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			out[idx[k]] = mean
		}
		i = j + 1
	}
	return out
}
