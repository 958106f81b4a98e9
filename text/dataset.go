package text

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// Example is one row of a dataset.
type Example struct {
	ID       int    // 0-based index among the file's data rows, bad rows included: stable across loads
	Line     int    // 1-based line where the row starts (Parquet: 1-based row)
	Text     string // the text column
	TextPair string // the text pair column, when HasPair
	HasPair  bool
	Label    string // as written; an integer label in JSONL is its decimal form
	HasLabel bool
}

// DatasetOptions says how to read a dataset file. The zero value reads a
// file with a header (CSV, TSV) or keys (JSONL) "text" and "label".
type DatasetOptions struct {
	// Format is "csv", "tsv", "jsonl" or "parquet"; "" picks by extension:
	// .csv, .tsv, .jsonl, .ndjson or .json (which must hold JSON Lines too),
	// .parquet.
	Format string
	// TextColumn names the text column ("" means "text").
	TextColumn string
	// TextPairColumn names the second text of a pair task ("" means none).
	TextPairColumn string
	// LabelColumn names the label column ("" means "label"; optional unless
	// RequireLabels).
	LabelColumn string
	// NoHeader reads a CSV or TSV file whose first row is data. Columns are
	// then named by 0-based index written as a number ("0", "1"); TextColumn
	// is required, and LabelColumn when labels are.
	NoHeader bool
	// IndicatorColumns, for multi-label data with one column per label
	// (1/0, true/false), names those columns; each example's Label is then
	// the JSON list of the columns that are true (ParseLabelList), and
	// LabelColumn is not used.
	IndicatorColumns []string
	// SkipBadRows skips malformed rows instead of stopping; they are counted
	// in Dataset.Skipped and the first ones kept in Dataset.SkippedRows.
	SkipBadRows bool
	// RequireLabels makes a missing label column or an empty label an error
	// (training and evaluation data); prediction data leaves it false.
	RequireLabels bool
}

// MaxSkippedKept is how many skipped rows a Dataset keeps for reporting.
const MaxSkippedKept = 100

// Dataset is the rows of one file, in file order.
type Dataset struct {
	Path        string
	Examples    []Example
	HasPair     bool       // every example has a TextPair
	Skipped     int        // rows skipped by SkipBadRows
	SkippedRows []RowError // the first MaxSkippedKept of them
}

// RowError is a malformed row or header: Error() reads "FILE:LINE: REASON",
// and the reason says what to do. In a Parquet file, LINE is the 1-based row.
type RowError struct {
	File   string
	Line   int
	Reason string
}

func (e *RowError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason) }

// LoadDataset reads a CSV, TSV, JSON Lines or Parquet dataset.
func LoadDataset(path string, opts DatasetOptions) (*Dataset, error) {
	if len(opts.IndicatorColumns) > 0 {
		return loadIndicators(path, opts)
	}
	format, err := datasetFormat(path, opts.Format)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if format == "parquet" {
		return loadParquet(path, f, opts)
	}
	return readDataset(path, f, format, opts)
}

func datasetFormat(path, format string) (string, error) {
	if format == "" {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".csv":
			format = "csv"
		case ".tsv":
			format = "tsv"
		case ".jsonl", ".ndjson", ".json":
			format = "jsonl"
		case ".parquet":
			format = "parquet"
		default:
			return "", fmt.Errorf("%s: cannot tell the format from the extension; name it .csv, .tsv, .jsonl or .parquet, or give the format", path)
		}
	}
	switch format {
	case "csv", "tsv", "jsonl", "parquet":
		return format, nil
	}
	return "", fmt.Errorf("%s: unknown dataset format %q (want csv, tsv, jsonl or parquet)", path, format)
}

func readDataset(path string, r io.Reader, format string, opts DatasetOptions) (*Dataset, error) {
	b := &builder{ds: &Dataset{Path: path, HasPair: opts.TextPairColumn != ""}, opts: opts}
	br := bufio.NewReaderSize(r, 1<<16)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
	}
	var err error
	switch format {
	case "csv":
		err = readCSV(b, br)
	case "tsv":
		err = readTSV(b, br)
	case "jsonl":
		err = readJSONL(b, br)
	}
	if err != nil {
		return nil, err
	}
	return b.finish(format)
}

// finish returns the dataset, or says why it has no examples.
func (b *builder) finish(format string) (*Dataset, error) {
	if len(b.ds.Examples) == 0 {
		name := strings.ToUpper(format)
		if format == "parquet" {
			name = "Parquet"
		}
		if b.rows == 0 {
			return nil, fmt.Errorf("%s: no data rows; want a %s file with one example per row", b.ds.Path, name)
		}
		return nil, fmt.Errorf("%s: no usable rows: all %d were bad; the first: %s", b.ds.Path, b.rows, &b.ds.SkippedRows[0])
	}
	return b.ds, nil
}

// builder validates rows and collects examples or skipped rows.
type builder struct {
	ds   *Dataset
	opts DatasetOptions
	rows int // data rows seen, bad ones included: the next Example.ID
	// locate, when set, starts a bad row's reason with where the row is
	// beyond its line (a Parquet row group).
	locate func(line int) string
}

// row is what a format reader found in one row.
type row struct {
	line               int
	text, pair, label  string
	hasLabel           bool
	textName, pairName string // column names, for messages
	labelName          string
}

// bad reports a malformed row: an error, or nil when bad rows are skipped.
func (b *builder) bad(line int, format string, args ...any) error {
	b.rows++
	e := RowError{File: b.ds.Path, Line: line, Reason: fmt.Sprintf(format, args...)}
	if b.locate != nil {
		e.Reason = b.locate(line) + e.Reason
	}
	if !b.opts.SkipBadRows {
		return &e
	}
	b.ds.Skipped++
	if len(b.ds.SkippedRows) < MaxSkippedKept {
		b.ds.SkippedRows = append(b.ds.SkippedRows, e)
	}
	return nil
}

// add validates a row's fields and keeps it, or reports it.
func (b *builder) add(r row) error {
	for _, f := range []struct{ name, value string }{{r.textName, r.text}, {r.pairName, r.pair}, {r.labelName, r.label}} {
		if i := invalidUTF8(f.value); i >= 0 {
			return b.bad(r.line, "invalid UTF-8 in %s at byte %d; convert the file to UTF-8 (iconv -f LATIN1 -t UTF-8)", f.name, i)
		}
	}
	if strings.TrimSpace(r.text) == "" {
		return b.bad(r.line, "empty text in %s; remove the row or fill it in", r.textName)
	}
	if b.ds.HasPair && strings.TrimSpace(r.pair) == "" {
		return b.bad(r.line, "empty text pair in %s; remove the row or fill it in", r.pairName)
	}
	if r.hasLabel && r.label == "" {
		r.hasLabel = false
	}
	if !r.hasLabel && b.opts.RequireLabels {
		return b.bad(r.line, "missing label in %s; every training and evaluation row needs one", r.labelName)
	}
	b.ds.Examples = append(b.ds.Examples, Example{
		ID: b.rows, Line: r.line, Text: r.text, TextPair: r.pair, HasPair: b.ds.HasPair,
		Label: r.label, HasLabel: r.hasLabel,
	})
	b.rows++
	return nil
}

func invalidUTF8(s string) int {
	if utf8.ValidString(s) {
		return -1
	}
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return i
			}
		}
	}
	return 0
}

// readLine reads one line without its "\n" or "\r\n"; io.EOF after the last.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadBytes('\n')
	if err == io.EOF && len(line) > 0 {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r")), nil
}

// Split divides ds into a training and an evaluation set: evalFraction of
// the examples, rounded (at least one, and at least one left for training),
// chosen by EpochOrder's permutation on a stream of its own (seed,
// "SPLIT"). Both keep the file's order and the examples' IDs. The rows
// SkipBadRows skipped are the file's, counted once: with the training part.
func Split(ds *Dataset, evalFraction float64, seed uint64) (train, eval *Dataset, err error) {
	n := len(ds.Examples)
	if !(evalFraction > 0 && evalFraction < 1) {
		return nil, nil, fmt.Errorf("split fraction %v: want a number between 0 and 1", evalFraction)
	}
	if n < 2 {
		return nil, nil, fmt.Errorf("%s: %d example(s) cannot be split into training and evaluation sets", ds.Path, n)
	}
	nEval := min(max(int(evalFraction*float64(n)+0.5), 1), n-1)
	inEval := make([]bool, n)
	for _, i := range permutation(n, seed, splitStream)[:nEval] {
		inEval[i] = true
	}
	train, eval = ds.with(nil), ds.with(nil)
	eval.Skipped, eval.SkippedRows = 0, nil
	for i, ex := range ds.Examples {
		if inEval[i] {
			eval.Examples = append(eval.Examples, ex)
		} else {
			train.Examples = append(train.Examples, ex)
		}
	}
	return train, eval, nil
}

// with is a copy of d holding examples.
func (d *Dataset) with(examples []Example) *Dataset {
	c := *d
	c.Examples = examples
	c.SkippedRows = slices.Clone(d.SkippedRows)
	return &c
}
