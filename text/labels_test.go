package text

import (
	"slices"
	"testing"
)

func examplesWithLabels(labels ...string) *Dataset {
	ds := &Dataset{Path: "train.csv"}
	for i, l := range labels {
		ds.Examples = append(ds.Examples, Example{ID: i, Line: i + 2, Text: "t", Label: l, HasLabel: true})
	}
	return ds
}

func TestLabelSetOrder(t *testing.T) {
	tests := []struct {
		labels []string
		want   []string
	}{
		{[]string{"pos", "neg", "pos"}, []string{"neg", "pos"}},
		{[]string{"10", "2", "1", "-3", "2"}, []string{"-3", "1", "2", "10"}}, // numeric when all are integers
		{[]string{"10", "2", "x"}, []string{"10", "2", "x"}},                  // else byte order
		{[]string{"1", "01", "+1"}, []string{"+1", "01", "1"}},                // equal numbers: byte order
		{[]string{"Sports", "World", "Business", "Sci/Tech"}, []string{"Business", "Sci/Tech", "Sports", "World"}},
	}
	for _, tt := range tests {
		ls, err := examplesWithLabels(tt.labels...).LabelSet()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ls.Names(), tt.want) || ls.Len() != len(tt.want) {
			t.Errorf("%v: got %v, want %v", tt.labels, ls.Names(), tt.want)
		}
		for i, name := range tt.want {
			if id, ok := ls.ID(name); !ok || id != i {
				t.Errorf("ID(%q) = %d, %v", name, id, ok)
			}
		}
	}
}

func TestLabelIDs(t *testing.T) {
	ls, err := examplesWithLabels("neg", "pos").LabelSet()
	if err != nil {
		t.Fatal(err)
	}
	ids, err := examplesWithLabels("pos", "neg", "pos").LabelIDs(ls)
	if err != nil || !slices.Equal(ids, []int{1, 0, 1}) {
		t.Errorf("got %v, %v", ids, err)
	}
	eval := examplesWithLabels("pos", "neutral")
	eval.Path = "eval.csv"
	_, err = eval.LabelIDs(ls)
	if want := `eval.csv:3: label "neutral" never seen in training data (known: neg, pos)`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	unlabelled := examplesWithLabels("pos")
	unlabelled.Examples[0].HasLabel = false
	if _, err := unlabelled.LabelSet(); err == nil || err.Error() != "train.csv:2: row has no label; training data needs one in every row" {
		t.Errorf("got %v", err)
	}
}

func TestNewLabelSet(t *testing.T) {
	ls, err := NewLabelSet([]string{"pos", "neg"}) // a saved order is kept
	if err != nil || !slices.Equal(ls.Names(), []string{"pos", "neg"}) {
		t.Fatalf("got %v, %v", ls.Names(), err)
	}
	for _, bad := range [][]string{{"a", "a"}, {"a", ""}} {
		if _, err := NewLabelSet(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestSplit(t *testing.T) {
	labels := make([]string, 1000)
	for i := range labels {
		labels[i] = []string{"neg", "pos"}[i%2]
	}
	ds := examplesWithLabels(labels...)
	train, eval, err := Split(ds, 0.1, 42)
	if err != nil {
		t.Fatal(err)
	}
	if len(train.Examples) != 900 || len(eval.Examples) != 100 {
		t.Fatalf("sizes %d + %d", len(train.Examples), len(eval.Examples))
	}
	var all []int
	for _, part := range []*Dataset{train, eval} {
		prev := -1
		for _, ex := range part.Examples {
			if ex.ID <= prev {
				t.Fatal("not in file order")
			}
			prev = ex.ID
			all = append(all, ex.ID)
		}
	}
	slices.Sort(all)
	if len(slices.Compact(all)) != 1000 {
		t.Error("the parts overlap or miss examples")
	}
	train2, eval2, _ := Split(ds, 0.1, 42)
	if !slices.Equal(eval.Examples, eval2.Examples) || !slices.Equal(train.Examples, train2.Examples) {
		t.Error("same seed, different split")
	}
	if _, eval3, _ := Split(ds, 0.1, 43); slices.Equal(eval.Examples, eval3.Examples) {
		t.Error("different seeds, same split")
	}
	if _, tiny, _ := Split(examplesWithLabels("a", "b"), 0.01, 1); len(tiny.Examples) != 1 {
		t.Error("a tiny fraction still gives one eval example")
	}
	for _, f := range []float64{0, 1, -0.5, 2} {
		if _, _, err := Split(ds, f, 1); err == nil {
			t.Errorf("fraction %v: no error", f)
		}
	}
	if _, _, err := Split(examplesWithLabels("a"), 0.5, 1); err == nil {
		t.Error("one example: no error")
	}
}
