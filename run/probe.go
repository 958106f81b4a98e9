package run

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/autofreeze/autofreeze/internal/atomicfile"
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/probe"
	"github.com/autofreeze/autofreeze/text"
	"github.com/autofreeze/autofreeze/trainable"
)

// ProbeConfig is the frozen-encoder baseline: the pre-trained encoder's
// mean-pooled embeddings and a logistic regression on top (package probe),
// on exactly the training and held-out examples a `train` run with the
// same Config uses.
type ProbeConfig struct {
	Config // Model, Train, the data and split settings, MaxLength, EvalBatchSize, Threads, Seed
	// Test is the file the selected probe is scored on, a seeded sample of
	// TestLimit examples (0: all of it), as `eval --limit --seed` draws it.
	Test      string
	TestLimit int
	// Lambdas are the L2 penalties tried; the one with the lowest held-out
	// loss is selected (nil: 1e-4, 1e-3, 1e-2, 1e-1, 1).
	Lambdas []float64
}

// ProbeEval is one fitted penalty's held-out result, on the run's clock.
type ProbeEval struct {
	Step        int     `json:"step"` // the fit's number, from 1
	Lambda      float64 `json:"lambda"`
	Accuracy    float64 `json:"accuracy"`
	Loss        float64 `json:"loss"`
	WallSeconds float64 `json:"wall_seconds"` // since the clock started
	// Best: the lowest held-out loss so far (as in train's metrics.jsonl);
	// the last fit marked best is the one selected.
	Best bool `json:"best"`
}

// ProbeResult is what Probe writes to its output JSON. Its fields are those
// of the PyTorch baseline's result (scripts/pytorch_baseline.py), so the
// bench reads both alike.
type ProbeResult struct {
	WallSeconds  float64     `json:"wall_seconds"`  // embedding and fitting, the clock of the evaluations
	TrainSeconds float64     `json:"train_seconds"` // the same
	EmbedSeconds float64     `json:"embed_seconds"`
	Examples     int         `json:"examples"` // training examples embedded
	Eval         []ProbeEval `json:"eval"`
	Test         *struct {
		Accuracy float64 `json:"accuracy"`
		Examples int     `json:"examples"`
	} `json:"test,omitempty"`
}

// Probe fits the frozen-encoder baseline and writes its result to output.
// The clock starts once the model and data are loaded, as `train`'s does.
func Probe(ctx context.Context, c ProbeConfig, output string) (*ProbeResult, error) {
	cfg := c.Config.WithDefaults()
	lambdas := c.Lambdas
	if lambdas == nil {
		lambdas = []float64{1e-4, 1e-3, 1e-2, 1e-1, 1}
	}
	for _, l := range lambdas {
		if !(l > 0) || math.IsInf(l, 0) {
			return nil, badInput(fmt.Errorf("probe penalty %v: want positive numbers", l))
		}
	}
	if cfg.problem() != model.SingleLabel {
		return nil, badInput(fmt.Errorf("problem %s: the frozen-encoder probe is a logistic regression over classes; it fits single_label data only", cfg.Problem))
	}
	mcfg, err := model.LoadConfig(cfg.Model)
	if err != nil {
		return nil, badInput(err)
	}
	tok, err := text.LoadTokenizer(cfg.Model)
	if err != nil {
		return nil, badInput(err)
	}
	if err := cfg.checkModel(mcfg, tok); err != nil {
		return nil, badInput(err)
	}
	train, eval, labels, err := loadTrainEval(cfg, tok)
	if err != nil {
		return nil, badInput(err)
	}
	var test *split
	if c.Test != "" {
		ds, err := text.LoadDataset(c.Test, cfg.datasetOptions(true))
		if err != nil {
			return nil, badInput(err)
		}
		if test, err = newSplit(sample(ds, c.TestLimit, cfg.Seed), tok, &labels, model.SingleLabel, cfg.MaxLength); err != nil {
			return nil, badInput(err)
		}
	}
	w, err := model.LoadWeights(cfg.Model, mcfg)
	if err != nil {
		return nil, badInput(err)
	}
	trainable.SetThreads(cfg.Threads)
	enc, err := trainable.New(mcfg, w.Tensors, 0, trainable.Options{Seed: cfg.Seed})
	if err != nil {
		return nil, err
	}
	defer enc.Close()

	start := time.Now()
	res := &ProbeResult{Examples: train.len()}
	xTrain, err := meanPooled(ctx, enc, tok, train, cfg.EvalBatchSize)
	if err != nil {
		return nil, err
	}
	xEval, err := meanPooled(ctx, enc, tok, eval, cfg.EvalBatchSize)
	if err != nil {
		return nil, err
	}
	res.EmbedSeconds = time.Since(start).Seconds()
	yTrain, yEval := classIDs(train.labels), classIDs(eval.labels)
	var best *probe.Model
	bestLoss := math.Inf(1)
	for i, l := range lambdas {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m, err := probe.Fit(xTrain, yTrain, labels.Len(), probe.Options{Lambda: l})
		if err != nil {
			return nil, err
		}
		e := ProbeEval{Step: i + 1, Lambda: l, Accuracy: m.Accuracy(xEval, yEval), Loss: probeLoss(m, xEval, yEval), WallSeconds: time.Since(start).Seconds()}
		if e.Loss < bestLoss {
			best, bestLoss, e.Best = m, e.Loss, true
		}
		res.Eval = append(res.Eval, e)
	}
	res.WallSeconds = time.Since(start).Seconds()
	res.TrainSeconds = res.WallSeconds
	if test != nil {
		xTest, err := meanPooled(ctx, enc, tok, test, cfg.EvalBatchSize)
		if err != nil {
			return nil, err
		}
		res.Test = &struct {
			Accuracy float64 `json:"accuracy"`
			Examples int     `json:"examples"`
		}{best.Accuracy(xTest, classIDs(test.labels)), test.len()}
	}
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return nil, err
	}
	return res, atomicfile.WriteFile(output, append(data, '\n'))
}

// meanPooled embeds every example of s, in split order: the last layer's
// hidden states averaged over its real tokens (trainable.MeanPool).
func meanPooled(ctx context.Context, enc *trainable.Encoder, tok *text.Tokenizer, s *split, batchSize int) ([][]float32, error) {
	h := enc.Config().HiddenSize
	all := model.Range{Start: 0, End: enc.Config().NumLayers}
	out := make([][]float32, s.len())
	for _, rows := range evalBatches(s.lengthOrder(), batchSize) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b, _ := s.batch(tok, rows)
		hidden, err := enc.Hidden(b, all, nil)
		if err != nil {
			return nil, err
		}
		for i, row := range rows {
			out[row] = trainable.MeanPool(hidden, b, i, h)
		}
	}
	return out, nil
}

func classIDs(labels []int64) []int {
	out := make([]int, len(labels))
	for i, l := range labels {
		out[i] = int(l)
	}
	return out
}

// probeLoss is the mean cross-entropy of m on x.
func probeLoss(m *probe.Model, x [][]float32, y []int) float64 {
	total := 0.0
	for i, row := range x {
		l := m.Logits(row)
		hi := math.Inf(-1)
		for _, v := range l {
			hi = max(hi, v)
		}
		sum := 0.0
		for _, v := range l {
			sum += math.Exp(v - hi)
		}
		total += math.Log(sum) + hi - l[y[i]]
	}
	return total / float64(len(x))
}
