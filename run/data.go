package run

import (
	"fmt"
	"slices"

	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/text"
	"github.com/autofreeze/autofreeze/trainable"
)

// split is one dataset, tokenized once, with labels as class ids.
type split struct {
	path     string
	examples []text.Example
	encs     []text.Encoding
	problem  model.Problem
	labels   []int64   // single-label class ids; nil for unlabelled data
	values   []float32 // multi-label 0/1 rows [examples][labels], regression scores; nil for unlabelled data
	skipped  int
	// population is how many examples there were before a limit sampled
	// these (the training data's size).
	population int
}

// datasetOptions are the options a config gives for reading any file.
func (c Config) datasetOptions(requireLabels bool) text.DatasetOptions {
	o := text.DatasetOptions{
		Format: c.Format, TextColumn: c.TextColumn, TextPairColumn: c.TextPairColumn,
		LabelColumn: c.LabelColumn, NoHeader: c.NoHeader, SkipBadRows: c.SkipBadRows,
		RequireLabels: requireLabels,
	}
	if cols := labelColumns(c.LabelColumn); len(cols) > 1 {
		o.LabelColumn, o.IndicatorColumns = "", cols
	}
	return o
}

// sample keeps a seeded random subset of limit examples, in file order.
func sample(ds *text.Dataset, limit int, seed uint64) *text.Dataset {
	if limit <= 0 || limit >= len(ds.Examples) {
		return ds
	}
	// Epoch -1 keeps this permutation apart from the training epochs'.
	idx := text.EpochOrder(len(ds.Examples), seed, -1)[:limit]
	slices.Sort(idx)
	out := *ds
	out.Examples = make([]text.Example, limit)
	for i, j := range idx {
		out.Examples[i] = ds.Examples[j]
	}
	return &out
}

// newSplit tokenizes a dataset and reads its labels as targets of problem
// over ls (ls nil: unlabelled data).
func newSplit(ds *text.Dataset, tok *text.Tokenizer, ls *text.LabelSet, problem model.Problem, maxLen int) (*split, error) {
	s := &split{path: ds.Path, examples: ds.Examples, skipped: ds.Skipped, problem: problem}
	s.encs = text.EncodeAll(tok, ds.Examples, maxLen)
	if ls == nil {
		return s, nil
	}
	var err error
	switch problem {
	case model.MultiLabel:
		s.values, err = ds.MultiHot(*ls)
	case model.Regression:
		s.values, err = ds.Scores()
	default:
		var ids []int
		if ids, err = ds.LabelIDs(*ls); err == nil {
			s.labels = make([]int64, len(ids))
			for i, id := range ids {
				s.labels[i] = int64(id)
			}
		}
	}
	return s, err
}

// labelled reports whether the split has targets.
func (s *split) labelled() bool { return s.labels != nil || s.values != nil }

// width is how many target values each row has (multi-label, regression).
func (s *split) width() int {
	if s.len() == 0 {
		return 0
	}
	return len(s.values) / s.len()
}

// targets are the training targets of rows idx.
func (s *split) targets(idx []int) trainable.Targets {
	tg := trainable.Targets{Problem: s.problem}
	if s.labels != nil {
		tg.Classes = make([]int64, len(idx))
		for i, j := range idx {
			tg.Classes[i] = s.labels[j]
		}
	}
	if w := s.width(); s.values != nil {
		tg.Values = make([]float32, 0, len(idx)*w)
		for _, j := range idx {
			tg.Values = append(tg.Values, s.values[j*w:(j+1)*w]...)
		}
	}
	return tg
}

func (s *split) len() int { return len(s.encs) }

// batch pads the encodings of rows idx into one batch, with their labels.
func (s *split) batch(tok *text.Tokenizer, idx []int) (text.Batch, []int64) {
	encs := make([]text.Encoding, len(idx))
	var labels []int64
	if s.labels != nil {
		labels = make([]int64, len(idx))
	}
	for i, j := range idx {
		encs[i] = s.encs[j]
		if labels != nil {
			labels[i] = s.labels[j]
		}
	}
	return tok.Pad(encs), labels
}

// lengthOrder returns the row indices sorted by token count (stable), so
// that evaluation batches waste little on padding.
func (s *split) lengthOrder() []int {
	idx := make([]int, s.len())
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return s.encs[a].Len() - s.encs[b].Len() })
	return idx
}

// loadTrainEval reads the training data, the evaluation data (a file, or a
// seeded split of the training data) and the head's outputs (headLabels),
// which come from the training data.
func loadTrainEval(c Config, tok *text.Tokenizer) (train, eval *split, labels text.LabelSet, err error) {
	trainDS, err := text.LoadDataset(c.Train, c.datasetOptions(true))
	if err != nil {
		return nil, nil, labels, err
	}
	var evalDS *text.Dataset
	if c.Eval != "" {
		if evalDS, err = text.LoadDataset(c.Eval, c.datasetOptions(true)); err != nil {
			return nil, nil, labels, err
		}
	} else {
		if trainDS, evalDS, err = text.Split(trainDS, c.EvalSplit, c.Seed); err != nil {
			return nil, nil, labels, fmt.Errorf("%s: holding out %g for evaluation: %w", c.Train, c.EvalSplit, err)
		}
	}
	population := len(trainDS.Examples)
	trainDS = sample(trainDS, c.TrainLimit, c.Seed)
	evalDS = sample(evalDS, c.EvalLimit, c.Seed+1)
	problem := c.problem()
	if labels, err = headLabels(trainDS, problem, c.LabelColumn); err != nil {
		return nil, nil, labels, err
	}
	if train, err = newSplit(trainDS, tok, &labels, problem, c.MaxLength); err != nil {
		return nil, nil, labels, err
	}
	train.population = population
	if eval, err = newSplit(evalDS, tok, &labels, problem, c.MaxLength); err != nil {
		return nil, nil, labels, err
	}
	return train, eval, labels, nil
}
