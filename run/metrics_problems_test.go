package run

import (
	"math"
	"slices"
	"testing"
)

func TestMultiLabelMetrics(t *testing.T) {
	// Three examples, two labels. Predicted (logit > 0) against true:
	// row 0 [1 0] vs [1 0] exact; row 1 [1 1] vs [0 1]; row 2 [0 0] vs [1 0].
	truth := []float32{1, 0, 0, 1, 1, 0}
	logits := [][]float32{{2, -1}, {0.5, 3}, {-2, -0.5}}
	m := multiLabel(truth, logits, 2)
	// Label 0: TP 1, FP 1, FN 1 -> F1 1/2. Label 1: TP 1 -> F1 1.
	// Micro: TP 2, FP 1, FN 1 -> 2/3.
	if !slices.Equal(m.LabelF1, []float64{0.5, 1}) || m.MacroF1 != 0.75 || math.Abs(*m.MicroF1-2.0/3) > 1e-12 || math.Abs(m.Accuracy-1.0/3) > 1e-12 {
		t.Errorf("got label F1 %v, macro %v, micro %v, exact match %v", m.LabelF1, m.MacroF1, *m.MicroF1, m.Accuracy)
	}
	want := 0.0
	for i, row := range logits {
		for j, x := range row {
			p := 1 / (1 + math.Exp(-float64(x)))
			y := float64(truth[i*2+j])
			want -= y*math.Log(p) + (1-y)*math.Log(1-p)
		}
	}
	if want /= 6; math.Abs(m.Loss-want) > 1e-12 {
		t.Errorf("loss %v, want %v", m.Loss, want)
	}
	if fs := multiLabel(nil, nil, 2).Fields(); len(fs) != 3 {
		t.Errorf("no examples: fields %v", fs)
	}
	if bce := binaryCrossEntropy(-1000, 1); bce != 1000 {
		t.Errorf("binary cross-entropy of a far-off logit: %v, want 1000 (no overflow)", bce)
	}
}

func TestRegressionMetrics(t *testing.T) {
	truth := []float32{1, 2, 3, 4, 5}
	pred := []float32{1.5, 1.5, 3.5, 5, 4}
	m := regression(truth, pred)
	// Squared errors .25 .25 .25 1 1 -> 0.55.
	// Pearson from the deviations (-2 -1 0 1 2) and (-1.6 -1.6 .4 1.9 .9):
	// 8.5 / sqrt(10 * 9.7). Spearman from ranks (1 2 3 4 5) and
	// (1.5 1.5 3 5 4): 8.5 / sqrt(10 * 9.5).
	if math.Abs(m.Loss-0.55) > 1e-6 || math.Abs(*m.Pearson-8.5/math.Sqrt(97)) > 1e-6 || math.Abs(*m.Spearman-8.5/math.Sqrt(95)) > 1e-12 {
		t.Errorf("mse %v, pearson %v, spearman %v", m.Loss, *m.Pearson, *m.Spearman)
	}
	if c := regression(truth, []float32{2, 2, 2, 2, 2}); c.Pearson != nil || c.Spearman != nil {
		t.Errorf("a constant prediction has no correlation; got %v, %v", c.Pearson, c.Spearman)
	}
	if fs := m.Fields(); len(fs) != 4 || fs[1].Name != "mse" || fs[2].Name != "pearson" || fs[3].Name != "spearman" {
		t.Errorf("fields %v", fs)
	}
}
