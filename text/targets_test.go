package text

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseLabelList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  string
	}{
		{in: `["sports", "politics"]`, want: []string{"sports", "politics"}},
		{in: `[0, 3]`, want: []string{"0", "3"}},
		{in: `[]`, want: nil},
		{in: `sports, politics ,tech`, want: []string{"sports", "politics", "tech"}},
		{in: `toxic`, want: []string{"toxic"}},
		{in: `a,a,b`, want: []string{"a", "b"}}, // a set: duplicates once
		{in: `a,,b`, err: `label list "a,,b" has an empty name`},
		{in: `["a", 1.5]`, err: `item 1.5 is not a name or an integer`},
		{in: `[unquoted]`, err: `is not a JSON array of names`},
	}
	for _, tt := range tests {
		got, err := ParseLabelList(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: got %v, %v; want an error with %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// A multi-label JSONL file and the same labels as CSV give the same label
// set and the same 0/1 targets.
func TestMultiHotFromJSONLAndCSV(t *testing.T) {
	dir := t.TempDir()
	jsonl := filepath.Join(dir, "train.jsonl")
	csvPath := filepath.Join(dir, "train.csv")
	os.WriteFile(jsonl, []byte(`{"text": "a", "label": ["insult", "toxic"]}
{"text": "b", "label": []}
{"text": "c", "label": ["obscene"]}
`), 0o644)
	os.WriteFile(csvPath, []byte("text,label\na,\"toxic,insult\"\nb,[]\nc,obscene\n"), 0o644)
	want := []float32{1, 0, 1, 0, 0, 0, 0, 1, 0} // insult, obscene, toxic
	for _, path := range []string{jsonl, csvPath} {
		ds, err := LoadDataset(path, DatasetOptions{RequireLabels: true})
		if err != nil {
			t.Fatal(err)
		}
		ls, err := ds.MultiLabelSet()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ls.Names(), []string{"insult", "obscene", "toxic"}) {
			t.Errorf("%s: labels %v", path, ls.Names())
		}
		got, err := ds.MultiHot(ls)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: got %v, %v; want %v", path, got, err, want)
		}
	}
	eval := examplesWithLabels("toxic", "spam")
	eval.Path = "eval.csv"
	ls, _ := NewLabelSet([]string{"insult", "toxic"})
	if _, err := eval.MultiHot(ls); err == nil || err.Error() != `eval.csv:3: label "spam" never seen in training data (known: insult, toxic)` {
		t.Errorf("unknown label: got %v", err)
	}
	if _, err := examplesWithLabels("a", "x,,y").MultiLabelSet(); err == nil || !strings.HasPrefix(err.Error(), "train.csv:3: label list") {
		t.Errorf("bad list: got %v", err)
	}
}

func TestScores(t *testing.T) {
	got, err := examplesWithLabels("3.8", " -1 ", "2e-1", "0").Scores()
	if err != nil || !slices.Equal(got, []float32{3.8, -1, 0.2, 0}) {
		t.Errorf("got %v, %v", got, err)
	}
	for _, bad := range []string{"high", "NaN", "inf", "1e40"} {
		_, err := examplesWithLabels("1", bad).Scores()
		if err == nil || !strings.HasPrefix(err.Error(), "train.csv:3: score") {
			t.Errorf("%q: got %v", bad, err)
		}
	}
}

// Single-label training data that looks like another problem's is refused
// with the flag that reads it.
func TestLabelSetPointsToOtherProblems(t *testing.T) {
	_, err := examplesWithLabels("pos", `["pos","neg"]`).LabelSet()
	if err == nil || !strings.Contains(err.Error(), "--problem multi_label") {
		t.Errorf("list: got %v", err)
	}
	_, err = examplesWithLabels("1", "3.5", "2").LabelSet()
	if err == nil || err.Error() != "train.csv:3: label 3.5 is a fraction and every label is a number: these look like scores; for regression pass --problem regression (class names are words or integers)" {
		t.Errorf("scores: got %v", err)
	}
	if _, err := examplesWithLabels("0.5", "x").LabelSet(); err != nil {
		t.Errorf("a fraction among words is a class name: %v", err)
	}
}
