package text

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// load writes content to a file of the given name and loads it.
func load(t *testing.T, name, content string, opts DatasetOptions) (*Dataset, error) {
	t.Helper()
	dir := writeFiles(t, map[string]string{name: content})
	ds, err := LoadDataset(filepath.Join(dir, name), opts)
	if err != nil {
		// Make messages independent of the temporary directory.
		return ds, errors.New(strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), ""))
	}
	return ds, err
}

func TestLoadDataset(t *testing.T) {
	labelled := DatasetOptions{RequireLabels: true}
	tests := []struct {
		name    string
		file    string
		content string
		opts    DatasetOptions
		want    []Example
	}{
		{
			name: "CSV with quoting, CRLF and a BOM", file: "train.csv", opts: labelled,
			content: "\ufefftext,label\r\n" +
				"\"Great, really great.\",pos\r\n" +
				"\"Two\nlines, \"\"quoted\"\"\",neg\r\n" +
				"Plain,pos\r\n",
			want: []Example{
				{ID: 0, Line: 2, Text: "Great, really great.", Label: "pos", HasLabel: true},
				{ID: 1, Line: 3, Text: "Two\nlines, \"quoted\"", Label: "neg", HasLabel: true},
				{ID: 2, Line: 5, Text: "Plain", Label: "pos", HasLabel: true},
			},
		},
		{
			name: "CSV columns in any order, extra columns ignored", file: "train.csv", opts: labelled,
			content: "id,label,text\n7,1,first\n8,0,second\n",
			want: []Example{
				{ID: 0, Line: 2, Text: "first", Label: "1", HasLabel: true},
				{ID: 1, Line: 3, Text: "second", Label: "0", HasLabel: true},
			},
		},
		{
			name: "CSV without a header, columns by index", file: "ag.csv",
			opts:    DatasetOptions{NoHeader: true, TextColumn: "1", TextPairColumn: "2", LabelColumn: "0", RequireLabels: true},
			content: "3,Wall St.,Bears claw back\n4,Mars,Rover lands\n",
			want: []Example{
				{ID: 0, Line: 1, Text: "Wall St.", TextPair: "Bears claw back", HasPair: true, Label: "3", HasLabel: true},
				{ID: 1, Line: 2, Text: "Mars", TextPair: "Rover lands", HasPair: true, Label: "4", HasLabel: true},
			},
		},
		{
			name: "TSV keeps quotes as text and skips blank lines", file: "dev.tsv", opts: labelled,
			content: "text\tlabel\n\"Quoted\" start\tpos\n\nsecond\tneg\n",
			want: []Example{
				{ID: 0, Line: 2, Text: "\"Quoted\" start", Label: "pos", HasLabel: true},
				{ID: 1, Line: 4, Text: "second", Label: "neg", HasLabel: true},
			},
		},
		{
			name: "JSONL with string and integer labels", file: "train.jsonl", opts: labelled,
			content: `{"text": "good <br />film", "label": "pos"}` + "\n\n" +
				`{"label": 7, "text": "seven", "extra": [1, 2]}` + "\n" +
				`{"text": "minus", "label": -1}`,
			want: []Example{
				{ID: 0, Line: 1, Text: "good <br />film", Label: "pos", HasLabel: true},
				{ID: 1, Line: 3, Text: "seven", Label: "7", HasLabel: true},
				{ID: 2, Line: 4, Text: "minus", Label: "-1", HasLabel: true},
			},
		},
		{
			name: "prediction data needs no labels", file: "new.jsonl",
			content: `{"text": "no label"}` + "\n" + `{"text": "has one", "label": "pos"}` + "\n",
			want: []Example{
				{ID: 0, Line: 1, Text: "no label"},
				{ID: 1, Line: 2, Text: "has one", Label: "pos", HasLabel: true},
			},
		},
		{
			name: "prediction CSV without a label column", file: "new.csv",
			content: "text\nfirst\n",
			want:    []Example{{ID: 0, Line: 2, Text: "first"}},
		},
		{
			name: "format given, extension ignored", file: "data.txt", opts: DatasetOptions{Format: "tsv"},
			content: "text\nonly\n",
			want:    []Example{{ID: 0, Line: 2, Text: "only"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, err := load(t, tt.file, tt.content, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ds.Examples, tt.want) {
				t.Errorf("got  %+v\nwant %+v", ds.Examples, tt.want)
			}
			if ds.Skipped != 0 || ds.HasPair != (tt.opts.TextPairColumn != "") {
				t.Errorf("skipped %d, HasPair %v", ds.Skipped, ds.HasPair)
			}
		})
	}
}

func TestLoadDatasetErrors(t *testing.T) {
	labelled := DatasetOptions{RequireLabels: true}
	tests := []struct {
		file    string
		content string
		opts    DatasetOptions
		want    string // the error, or its start when it ends in "..."
	}{
		{"a.csv", "text,label\nok,pos\nthree,fields,here\n", labelled, "a.csv:3: wrong number of fields, want 2 as in the first row; ..."},
		{"a.csv", "text,label\nsay \"hi\",pos\n", labelled, "a.csv:2: broken quoting: a \" in an unquoted field (line 2, column 5); ..."},
		{"a.csv", "text,label\nok,pos\n\"never closed,pos\nmore,neg\n", labelled, "a.csv:3: broken quoting: a quoted field does not end where it should ..."},
		{"a.csv", "text,label\ncaf\xe9,pos\n", labelled, "a.csv:2: invalid UTF-8 in column \"text\" at byte 3; ..."},
		{"a.csv", "text,label\n  ,pos\n", labelled, "a.csv:2: empty text in column \"text\"; remove the row or fill it in"},
		{"a.csv", "text,label\nfine,\n", labelled, "a.csv:2: missing label in column \"label\"; every training and evaluation row needs one"},
		{"a.csv", "review,sentiment\nx,pos\n", labelled, "a.csv:1: no column \"text\" in the header (columns: review, sentiment); ..."},
		{"a.csv", "text\nx\n", labelled, "a.csv:1: no column \"label\" in the header (columns: text); ..."},
		{"a.csv", "text,text,label\nx,y,z\n", labelled, "a.csv:1: column \"text\" appears twice in the header; rename one"},
		{"a.csv", "", labelled, "a.csv: empty file; want a header row (e.g. text,label) and one row per example"},
		{"a.csv", "text,label\n", labelled, "a.csv: no data rows; want a CSV file with one example per row"},
		{"a.csv", "x,y\n", DatasetOptions{NoHeader: true}, "a.csv:1: a file without a header needs the text column as a 0-based index (e.g. \"0\")"},
		{"a.csv", "x,y\n", DatasetOptions{NoHeader: true, TextColumn: "2"}, "a.csv:1: the text column 2 does not exist: the first row has 2 fields"},
		{"a.tsv", "text\tlabel\na\tb\tc\n", labelled, "a.tsv:2: 3 tab-separated fields, want 2 as in the first row; ..."},
		{"a.jsonl", "{\"text\": \"ok\", \"label\": \"pos\"}\n{\"text\": \"broken\", \"label\": }\n", labelled, "a.jsonl:2: invalid JSON at column 29: ..."},
		{"a.jsonl", "{\"text\": \"x\", \"label\": {\"name\": \"pos\"}}\n", labelled, "a.jsonl:1: field \"label\" is an object, want a string, a number or a list (omit the field for unlabeled rows)"},
		{"a.jsonl", "{\"text\": \"x\", \"label\": [1.5]}\n", labelled, "a.jsonl:1: field \"label\": an item is 1.5, not an integer; a label list holds names or integers"},
		{"a.jsonl", "{\"text\": \"x\", \"label\": [[\"a\"]]}\n", labelled, "a.jsonl:1: field \"label\": an item is an array, want a string or an integer; a label list holds names or integers"},
		{"a.jsonl", "{\"text\": \"x\", \"label\": null}\n", labelled, "a.jsonl:1: field \"label\" is null, want ..."},
		{"a.jsonl", "{\"text\": \"x\", \"label\": true}\n", labelled, "a.jsonl:1: field \"label\" is a boolean, want ..."},
		{"a.jsonl", "{\"text\": 42, \"label\": \"pos\"}\n", labelled, "a.jsonl:1: field \"text\" is a number, want a string"},
		{"a.jsonl", "{\"review\": \"x\", \"label\": \"pos\"}\n", labelled, "a.jsonl:1: no \"text\" field (fields: label, review); name the text field in the options"},
		{"a.jsonl", "{\"text\": \"x\"}\n", labelled, "a.jsonl:1: no \"label\" field (fields: text); every training and evaluation row needs a label"},
		{"a.jsonl", "{\"text\": \"x\", \"label\": 1}\n[\"text\", \"label\"]\n", labelled, "a.jsonl:2: the line is a JSON array, not an object; each line must be one JSON object"},
		{"a.jsonl", "{\"text\": \"caf\xe9\", \"label\": \"pos\"}\n", labelled, "a.jsonl:1: invalid UTF-8 at byte 13; ..."},
		{"a.jsonl", "\n\n", labelled, "a.jsonl: no data rows; want a JSONL file with one example per row"},
		{"a.json", "[{\"text\": \"x\"}]", labelled, "a.json: a JSON array; write one object per line (JSON Lines), e.g. jq -c '.[]' a.json > data.jsonl"},
		{"a.xml", "<x/>", labelled, "a.xml: cannot tell the format from the extension; ..."},
	}
	for _, tt := range tests {
		_, err := load(t, tt.file, tt.content, tt.opts)
		if err == nil {
			t.Errorf("%q: no error, want %s", tt.content, tt.want)
			continue
		}
		got := err.Error()
		if prefix, ok := strings.CutSuffix(tt.want, "..."); ok {
			if !strings.HasPrefix(got, prefix) {
				t.Errorf("%q:\n got %s\nwant %s", tt.content, got, tt.want)
			}
		} else if got != tt.want {
			t.Errorf("%q:\n got %s\nwant %s", tt.content, got, tt.want)
		}
	}
}

func TestRowErrorIsTyped(t *testing.T) {
	_, err := LoadDataset(filepath.Join(writeFiles(t, map[string]string{"a.csv": "text,label\n,pos\n"}), "a.csv"), DatasetOptions{})
	var re *RowError
	if !errors.As(err, &re) || re.Line != 2 || !strings.HasSuffix(re.File, "a.csv") || re.Reason == "" {
		t.Fatalf("got %#v", err)
	}
	if re.Error() != fmt.Sprintf("%s:2: %s", re.File, re.Reason) {
		t.Errorf("Error() = %q", re.Error())
	}
}

func TestSkipBadRows(t *testing.T) {
	content := "text,label\n" +
		"good one,pos\n" + // ID 0
		",neg\n" + // ID 1: empty text
		"a,b,c\n" + // ID 2: field count
		"good two,neg\n" + // ID 3
		"no label,\n" // ID 4
	ds, err := load(t, "a.csv", content, DatasetOptions{SkipBadRows: true, RequireLabels: true})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int
	for _, ex := range ds.Examples {
		ids = append(ids, ex.ID)
	}
	if !slices.Equal(ids, []int{0, 3}) || ds.Skipped != 3 || len(ds.SkippedRows) != 3 {
		t.Fatalf("ids %v, skipped %d %v", ids, ds.Skipped, ds.SkippedRows)
	}
	var lines []int
	for _, e := range ds.SkippedRows {
		lines = append(lines, e.Line)
	}
	if !slices.Equal(lines, []int{3, 4, 6}) {
		t.Errorf("skipped lines %v", lines)
	}

	_, err = load(t, "b.csv", "text,label\n,x\n,y\n", DatasetOptions{SkipBadRows: true})
	if err == nil || !strings.HasPrefix(err.Error(), "b.csv: no usable rows: all 2 were bad; the first: ") {
		t.Errorf("all bad: %v", err)
	}

	var many strings.Builder
	many.WriteString("text\n")
	for range MaxSkippedKept + 50 {
		many.WriteString("\"\"\n")
	}
	many.WriteString("last\n")
	ds, err = load(t, "c.csv", many.String(), DatasetOptions{SkipBadRows: true})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Skipped != MaxSkippedKept+50 || len(ds.SkippedRows) != MaxSkippedKept || ds.Examples[0].ID != MaxSkippedKept+50 {
		t.Errorf("skipped %d, kept %d, id %d", ds.Skipped, len(ds.SkippedRows), ds.Examples[0].ID)
	}
}

func TestIMDb(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(repoRoot(t), ".deps", "data", "imdb")
	if _, err := os.Stat(filepath.Join(dir, "train.jsonl")); err != nil {
		t.Skipf("%s is missing: run `make setup`", dir)
	}
	var trainLabels LabelSet
	for _, name := range []string{"train.jsonl", "test.jsonl"} {
		ds, err := LoadDataset(filepath.Join(dir, name), DatasetOptions{RequireLabels: true})
		if err != nil {
			t.Fatal(err)
		}
		counts := map[string]int{}
		for _, ex := range ds.Examples {
			counts[ex.Label]++
		}
		if len(ds.Examples) != 25000 || counts["neg"] != 12500 || counts["pos"] != 12500 || len(counts) != 2 {
			t.Errorf("%s: %d rows, labels %v", name, len(ds.Examples), counts)
		}
		if name == "train.jsonl" {
			if trainLabels, err = ds.LabelSet(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(trainLabels.Names(), []string{"neg", "pos"}) {
				t.Errorf("labels %v", trainLabels.Names())
			}
		} else if _, err := ds.LabelIDs(trainLabels); err != nil {
			t.Error(err)
		}
	}
}

// FuzzReadDataset checks that no input makes a reader panic, and that what
// loads is well formed.
func FuzzReadDataset(f *testing.F) {
	seeds := []string{
		"text,label\nhello,pos\n\"a,b\",neg\n",
		"text,label\n\"unclosed,pos\n",
		"text\tlabel\nx\ty\n",
		"{\"text\": \"x\", \"label\": 1}\n{\"text\": \"y\", \"label\": \"z\"}\n",
		"{\"text\": \"x\", \"label\": {}}\n",
		"\ufefftext,label\r\nx,y\r\n",
		"[1, 2]",
	}
	for _, s := range seeds {
		for _, format := range []string{"csv", "tsv", "jsonl"} {
			f.Add([]byte(s), format, false)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, format string, skip bool) {
		if _, err := datasetFormat("x", format); err != nil {
			return
		}
		ds, err := readDataset("fuzz", strings.NewReader(string(data)), format, DatasetOptions{SkipBadRows: skip})
		if err != nil {
			return
		}
		if len(ds.Examples) == 0 {
			t.Fatal("loaded with no examples")
		}
		prev := -1
		for _, ex := range ds.Examples {
			if strings.TrimSpace(ex.Text) == "" || !utf8Valid(ex.Text, ex.Label) || ex.ID <= prev || ex.Line < 1 {
				t.Fatalf("bad example %+v", ex)
			}
			prev = ex.ID
		}
	})
}

func utf8Valid(ss ...string) bool {
	for _, s := range ss {
		if invalidUTF8(s) >= 0 {
			return false
		}
	}
	return true
}
