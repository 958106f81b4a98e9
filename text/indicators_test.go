package text

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// One 0/1 column per label (the Jigsaw layout) reads as the same label
// lists as a list column.
func TestIndicatorColumns(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "toxic.csv")
	os.WriteFile(csvPath, []byte("text,toxic,obscene,insult\nyou fool,1,0,1\nnice day,0,0,0\nwhat the,true,TRUE,false\n"), 0o644)
	jsonl := filepath.Join(dir, "toxic.jsonl")
	os.WriteFile(jsonl, []byte(`{"text": "you fool", "toxic": 1, "obscene": 0, "insult": 1}
{"text": "nice day", "toxic": 0, "obscene": 0, "insult": 0}
{"text": "what the", "toxic": 1, "obscene": 1, "insult": 0}
`), 0o644)
	for _, path := range []string{csvPath, jsonl} {
		ds, err := LoadDataset(path, DatasetOptions{IndicatorColumns: []string{"toxic", "obscene", "insult"}, RequireLabels: true})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ex := range ds.Examples {
			got = append(got, ex.Label)
		}
		want := []string{`["toxic","insult"]`, `[]`, `["toxic","obscene"]`}
		if !slices.Equal(got, want) {
			t.Errorf("%s: labels %q, want %q", path, got, want)
		}
		ls, err := ds.MultiLabelSet()
		if err != nil || !slices.Equal(ls.Names(), []string{"insult", "obscene", "toxic"}) {
			t.Errorf("%s: label set %v, %v", path, ls.Names(), err)
		}
	}

	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("text,toxic,insult\na,1,0\nb,0,maybe\nc,0,1\n"), 0o644)
	opts := DatasetOptions{IndicatorColumns: []string{"toxic", "insult"}, RequireLabels: true}
	if _, err := LoadDataset(bad, opts); err == nil || !strings.Contains(err.Error(), `bad.csv:3: label column "insult" holds "maybe"`) {
		t.Errorf("a bad cell: got %v", err)
	}
	opts.SkipBadRows = true
	ds, err := LoadDataset(bad, opts)
	if err != nil || len(ds.Examples) != 2 || ds.Skipped != 1 || len(ds.SkippedRows) != 1 || ds.SkippedRows[0].Line != 3 {
		t.Errorf("skipping the bad row: %v examples, %d skipped (%v), %v", len(ds.Examples), ds.Skipped, ds.SkippedRows, err)
	}
	opts.SkipBadRows = false
	opts.IndicatorColumns = []string{"toxic", "missing"}
	if _, err := LoadDataset(bad, opts); err == nil || !strings.Contains(err.Error(), `no column "missing"`) {
		t.Errorf("a missing column: got %v", err)
	}
}
