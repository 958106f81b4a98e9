package run

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"

	"github.com/autofreeze/autofreeze/internal/atomicfile"
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/text"
	"github.com/autofreeze/autofreeze/trainable"
)

// InferenceConfig says how to run a trained checkpoint over a data file.
type InferenceConfig struct {
	Model string // a checkpoint (Hugging Face classification model directory)
	Data  string
	// Data format and columns, as in Config.
	Format, TextColumn, TextPairColumn, LabelColumn string
	NoHeader, SkipBadRows                           bool
	// MaxLength 0 means the length the checkpoint was trained with (or 128).
	MaxLength int
	BatchSize int // 0 means 64
	Threads   int
	// BF16 runs the model in mixed precision (Config.Precision).
	BF16 bool
	// Limit evaluates a seeded random sample of that many examples (0: all).
	Limit int
	Seed  uint64
}

// classifier is a checkpoint loaded for inference.
type classifier struct {
	enc     *trainable.Encoder
	tok     *text.Tokenizer
	labels  text.LabelSet
	problem model.Problem
	maxLen  int
}

func loadClassifier(c InferenceConfig) (*classifier, error) {
	cl, err := loadClassifierFiles(c)
	return cl, badInput(err)
}

func loadClassifierFiles(c InferenceConfig) (*classifier, error) {
	cfg, err := model.LoadConfig(c.Model)
	if err != nil {
		return nil, err
	}
	problem := cfg.HeadProblem()
	switch {
	case len(cfg.Labels) == 0:
		return nil, fmt.Errorf("%s: config.json has no id2label: not a classification checkpoint (train one with `autofreeze train`)", c.Model)
	case problem == model.SingleLabel && len(cfg.Labels) < 2:
		return nil, fmt.Errorf("%s: config.json's id2label has one label; a single-label classifier has at least 2 (problem_type regression has one)", c.Model)
	case problem == model.Regression && len(cfg.Labels) != 1:
		return nil, fmt.Errorf("%s: config.json says problem_type regression but id2label has %d labels; a regression head has one output", c.Model, len(cfg.Labels))
	}
	labels, err := text.NewLabelSet(cfg.Labels)
	if err != nil {
		return nil, fmt.Errorf("%s: id2label: %w", c.Model, err)
	}
	w, err := model.LoadWeights(c.Model, cfg)
	if err != nil {
		return nil, err
	}
	if _, ok := w.Tensors[model.ClassifierWeight]; !ok {
		return nil, fmt.Errorf("%s: the weights have no classification head (%s)", c.Model, model.ClassifierWeight)
	}
	tok, err := text.LoadTokenizer(c.Model)
	if err != nil {
		return nil, err
	}
	if err := c.check(cfg, tok); err != nil {
		return nil, err
	}
	trainable.SetThreads(c.Threads)
	enc, err := trainable.New(cfg, w.Tensors, labels.Len(), trainable.Options{BF16: c.BF16})
	if err != nil {
		return nil, err
	}
	maxLen := c.MaxLength
	if maxLen == 0 {
		maxLen = 128
		if st, err := loadTrainerState(c.Model); err == nil && st.MaxLength > 0 {
			maxLen = st.MaxLength
		}
	}
	return &classifier{enc: enc, tok: tok, labels: labels, problem: problem, maxLen: maxLen}, nil
}

func (c InferenceConfig) datasetOptions(requireLabels bool) text.DatasetOptions {
	return Config{Format: c.Format, TextColumn: c.TextColumn, TextPairColumn: c.TextPairColumn,
		LabelColumn: c.LabelColumn, NoHeader: c.NoHeader, SkipBadRows: c.SkipBadRows}.datasetOptions(requireLabels)
}

func (c InferenceConfig) batchSize() int {
	if c.BatchSize > 0 {
		return c.BatchSize
	}
	return 64
}

// Evaluate computes a checkpoint's metrics on a labelled data file.
func Evaluate(c InferenceConfig) (Metrics, error) {
	cl, err := loadClassifier(c)
	if err != nil {
		return Metrics{}, err
	}
	defer cl.enc.Close()
	ds, err := text.LoadDataset(c.Data, c.datasetOptions(true))
	if err != nil {
		return Metrics{}, badInput(err)
	}
	ds = sample(ds, c.Limit, c.Seed)
	s, err := newSplit(ds, cl.tok, &cl.labels, cl.problem, cl.maxLen)
	if err != nil {
		return Metrics{}, badInput(err)
	}
	m, _, err := evaluate(cl.enc, cl.tok, s, c.batchSize())
	if cl.problem == model.MultiLabel {
		m.Labels = cl.labels.Names()
	}
	return m, err
}

// Prediction is one line of `autofreeze predict` output for a
// single-label classifier.
type Prediction struct {
	ID            int       `json:"id"`
	Label         string    `json:"label"`
	Logits        []float32 `json:"logits"`
	Probabilities []float64 `json:"probabilities"`
}

// MultiLabelPrediction is one line of `predict` output for a multi-label
// classifier: the labels whose probability is above 1/2 (maybe none), and
// every label's probability, in label order.
type MultiLabelPrediction struct {
	ID            int       `json:"id"`
	Labels        []string  `json:"labels"`
	Logits        []float32 `json:"logits"`
	Probabilities []float64 `json:"probabilities"`
}

// ScorePrediction is one line of `predict` output for a regression head.
type ScorePrediction struct {
	ID    int     `json:"id"`
	Score float32 `json:"score"`
}

// Predict writes one prediction per example of a data file (labels not
// needed) to output as JSON Lines, in file order, and returns how many.
func Predict(c InferenceConfig, output string) (int, error) {
	cl, err := loadClassifier(c)
	if err != nil {
		return 0, err
	}
	defer cl.enc.Close()
	ds, err := text.LoadDataset(c.Data, c.datasetOptions(false))
	if err != nil {
		return 0, badInput(err)
	}
	s, err := newSplit(ds, cl.tok, nil, cl.problem, cl.maxLen)
	if err != nil {
		return 0, err
	}
	_, logits, err := evaluate(cl.enc, cl.tok, s, c.batchSize())
	if err != nil {
		return 0, err
	}
	err = atomicfile.Write(output, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		enc := json.NewEncoder(bw)
		for i, l := range logits {
			if err := enc.Encode(cl.prediction(s.examples[i].ID, l)); err != nil {
				return err
			}
		}
		return bw.Flush()
	})
	return len(logits), err
}

// prediction is what predict writes for one example's logits.
func (cl *classifier) prediction(id int, logits []float32) any {
	names := cl.labels.Names()
	switch cl.problem {
	case model.Regression:
		return ScorePrediction{ID: id, Score: logits[0]}
	case model.MultiLabel:
		p := MultiLabelPrediction{ID: id, Labels: []string{}, Logits: logits, Probabilities: make([]float64, len(logits))}
		for j, x := range logits {
			p.Probabilities[j] = 1 / (1 + math.Exp(-float64(x)))
			if x > 0 {
				p.Labels = append(p.Labels, names[j])
			}
		}
		return p
	}
	return Prediction{ID: id, Label: names[argmax(logits)], Logits: logits, Probabilities: softmax(logits)}
}
