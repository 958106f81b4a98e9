package run

import "math"

// Metrics are the evaluation metrics of a classifier.
type Metrics struct {
	Loss     float64 `json:"loss"`
	Accuracy float64 `json:"accuracy"`
	MacroF1  float64 `json:"macro_f1"`
	// MCC is Matthews' correlation coefficient, for binary tasks only.
	MCC      *float64 `json:"mcc,omitempty"`
	Examples int      `json:"examples"`
}

// classification computes accuracy, macro-F1 and (for two classes) MCC
// from true and predicted class ids.
func classification(truth, pred []int, numLabels int) Metrics {
	m := Metrics{Examples: len(truth)}
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
