package trainable

import (
	"math"
	"strings"
	"testing"

	"github.com/autofreeze/autofreeze/model"
)

// The loss of each problem is the one Hugging Face's
// *ForSequenceClassification computes from the same logits: the mean
// binary cross-entropy over every row and label (BCEWithLogitsLoss) for
// multi-label, the mean squared error (MSELoss) for regression. The
// reference here is computed in float64 from the logits Logits returns.
func TestLossOfEachProblem(t *testing.T) {
	b, _ := tinyBatch(6, 10, 3)
	tests := []struct {
		problem   model.Problem
		numLabels int
		values    []float32
		want      func(logits []float32) float64
	}{
		{model.MultiLabel, 3, []float32{1, 0, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0, 1, 0, 0, 0, 0, 1}, func(l []float32) float64 {
			sum := 0.0
			for i, x := range l {
				y := []float32{1, 0, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0, 1, 0, 0, 0, 0, 1}[i]
				p := 1 / (1 + math.Exp(-float64(x)))
				sum -= float64(y)*math.Log(p) + float64(1-y)*math.Log(1-p)
			}
			return sum / float64(len(l))
		}},
		{model.Regression, 1, []float32{0.5, -1, 2, 3.25, 0, 1}, func(l []float32) float64 {
			sum := 0.0
			for i, x := range l {
				d := float64(x) - []float64{0.5, -1, 2, 3.25, 0, 1}[i]
				sum += d * d
			}
			return sum / float64(len(l))
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.problem), func(t *testing.T) {
			e := tinyEncoder(t, tt.numLabels)
			logits, err := e.Logits(b)
			if err != nil {
				t.Fatal(err)
			}
			tr := NewTrainer(e, OptimConfig{NoDropout: true})
			loss, err := tr.BackwardTargets(b, nil, 0, Targets{Problem: tt.problem, Values: tt.values}, 1)
			if err != nil {
				t.Fatal(err)
			}
			if want := tt.want(logits); math.Abs(loss-want) > 1e-5*math.Max(1, want) {
				t.Errorf("loss %.7f, want %.7f", loss, want)
			}
		})
	}
}

// Training on each problem's targets fits a batch it can memorise.
func TestEachProblemLearns(t *testing.T) {
	b, _ := tinyBatch(6, 10, 3)
	for _, tg := range []Targets{
		{Problem: model.MultiLabel, Values: []float32{1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0}},
		{Problem: model.Regression, Values: []float32{2, -1, 0.5, 3, -2, 1}},
	} {
		t.Run(string(tg.Problem), func(t *testing.T) {
			n := 1
			if tg.Problem == model.MultiLabel {
				n = 2
			}
			tr := NewTrainer(tinyEncoder(t, n), OptimConfig{NoDropout: true})
			var first, last float64
			for i := 0; i < 40; i++ {
				loss, err := tr.BackwardTargets(b, nil, 0, tg, 1)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tr.Step(1e-2); err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					first = loss
				}
				last = loss
			}
			if !(last < 0.3*first) {
				t.Errorf("loss did not fall: first %.4f, last %.4f", first, last)
			}
		})
	}
}

func TestTargetsThatDoNotFitAreRefused(t *testing.T) {
	b, _ := tinyBatch(6, 10, 3)
	tests := []struct {
		numLabels int
		tg        Targets
		want      string
	}{
		{3, Targets{Problem: model.MultiLabel, Values: make([]float32, 6*2)}, "targets for 4 rows for a batch of 6"},
		{1, Targets{Problem: model.Regression, Values: make([]float32, 5)}, "targets for 5 rows for a batch of 6"},
		{2, Targets{Problem: model.Regression, Values: make([]float32, 6)}, "regression needs a head with one output, this one has 2"},
		{2, Targets{Problem: model.SingleLabel, Classes: make([]int64, 7)}, "targets for 7 rows for a batch of 6"},
	}
	for _, tt := range tests {
		tr := NewTrainer(tinyEncoder(t, tt.numLabels), OptimConfig{})
		if _, err := tr.BackwardTargets(b, nil, 0, tt.tg, 1); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.tg.Problem, err, tt.want)
		}
	}
}
