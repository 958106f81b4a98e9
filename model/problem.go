package model

import (
	"fmt"
	"strings"
)

// Problem is what a classification head is trained for: Hugging Face's
// problem_type in config.json, which also picks the loss.
type Problem string

const (
	// SingleLabel: one class per example; softmax cross-entropy.
	SingleLabel Problem = "single_label_classification"
	// MultiLabel: any subset of the classes per example; sigmoid per class,
	// binary cross-entropy (BCEWithLogitsLoss).
	MultiLabel Problem = "multi_label_classification"
	// Regression: one real score per example from a one-output head; mean
	// squared error.
	Regression Problem = "regression"
)

// ParseProblem reads a problem by its short name (single_label,
// multi_label, regression) or by Hugging Face's name; "" is SingleLabel.
func ParseProblem(s string) (Problem, error) {
	switch strings.TrimSpace(s) {
	case "", "single_label", string(SingleLabel):
		return SingleLabel, nil
	case "multi_label", string(MultiLabel):
		return MultiLabel, nil
	case "regression":
		return Regression, nil
	}
	return "", fmt.Errorf("problem %q: want single_label, multi_label or regression", s)
}

// Short is the problem's name in autofreeze's flags and config files.
func (p Problem) Short() string {
	switch p {
	case MultiLabel:
		return "multi_label"
	case Regression:
		return "regression"
	}
	return "single_label"
}
