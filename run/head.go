package run

import (
	"fmt"
	"strings"

	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/text"
)

// problem is the head's problem (Config.Problem; SingleLabel when unset).
func (c Config) problem() model.Problem {
	p, err := model.ParseProblem(c.Problem)
	if err != nil {
		return model.SingleLabel // Validate refuses it first
	}
	return p
}

// headLabels are the names of the head's outputs, from the training data:
// the classes (single label), every label named in the label lists
// (multi-label), or one output named after the label column (regression).
func headLabels(train *text.Dataset, problem model.Problem, labelColumn string) (text.LabelSet, error) {
	switch problem {
	case model.MultiLabel:
		return train.MultiLabelSet()
	case model.Regression: // newSplit reads (and checks) the scores
		return text.NewLabelSet([]string{orDefault(labelColumn, "label")})
	}
	ls, err := train.LabelSet()
	if err != nil {
		return ls, err
	}
	if ls.Len() < 2 {
		return ls, fmt.Errorf("%s: the training data has %d label(s) (%v); a classifier needs at least 2", train.Path, ls.Len(), ls.Names())
	}
	return ls, nil
}

// labelColumns splits a label-column setting: several comma-separated
// names are multi-label data with one 0/1 column per label.
func labelColumns(setting string) []string {
	if !strings.Contains(setting, ",") {
		return []string{setting}
	}
	cols := strings.Split(setting, ",")
	for i := range cols {
		cols[i] = strings.TrimSpace(cols[i])
	}
	return cols
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
