package text

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// columns are the positions of the used columns in a CSV or TSV row; -1
// when absent.
type columns struct {
	text, pair, label             int
	textName, pairName, labelName string
	need                          int // fields a row must have
}

func (c columns) row(line int, rec []string) row {
	r := row{line: line, text: rec[c.text], textName: c.textName, pairName: c.pairName, labelName: c.labelName}
	if c.pair >= 0 {
		r.pair = rec[c.pair]
	}
	if c.label >= 0 {
		r.label, r.hasLabel = rec[c.label], true
	}
	return r
}

// headerColumns finds the used columns by name in a header row.
func headerColumns(b *builder, header []string) (columns, error) {
	o := b.opts
	c := columns{need: len(header)}
	find := func(name string, required bool) (int, string, error) {
		at := -1
		for i, h := range header {
			if strings.TrimSpace(h) == name {
				if at >= 0 {
					return 0, "", &RowError{b.ds.Path, 1, fmt.Sprintf("column %q appears twice in the header; rename one", name)}
				}
				at = i
			}
		}
		if at < 0 && required {
			return 0, "", &RowError{b.ds.Path, 1, fmt.Sprintf("no column %q in the header (columns: %s); name the column to use in the options, or set NoHeader for a file without a header",
				name, strings.Join(header, ", "))}
		}
		return at, fmt.Sprintf("column %q", name), nil
	}
	var err error
	if c.text, c.textName, err = find(orDefault(o.TextColumn, "text"), true); err != nil {
		return c, err
	}
	c.pair = -1
	if o.TextPairColumn != "" {
		if c.pair, c.pairName, err = find(o.TextPairColumn, true); err != nil {
			return c, err
		}
	}
	c.label, c.labelName, err = find(orDefault(o.LabelColumn, "label"), o.RequireLabels || o.LabelColumn != "")
	return c, err
}

// indexColumns reads the used columns as 0-based indexes, for files without
// a header; need is the number of fields of the first row.
func indexColumns(b *builder, need, line int) (columns, error) {
	o := b.opts
	c := columns{need: need, pair: -1, label: -1}
	index := func(spec, what string, required bool) (int, string, error) {
		if spec == "" {
			if required {
				return 0, "", &RowError{b.ds.Path, line, fmt.Sprintf("a file without a header needs the %s column as a 0-based index (e.g. \"0\")", what)}
			}
			return -1, "", nil
		}
		i, err := strconv.Atoi(spec)
		if err != nil || i < 0 {
			return 0, "", &RowError{b.ds.Path, line, fmt.Sprintf("the %s column %q is not a 0-based index; a file without a header names columns by number", what, spec)}
		}
		if i >= need {
			return 0, "", &RowError{b.ds.Path, line, fmt.Sprintf("the %s column %d does not exist: the first row has %d fields", what, i, need)}
		}
		return i, fmt.Sprintf("column %d", i), nil
	}
	var err error
	if c.text, c.textName, err = index(o.TextColumn, "text", true); err != nil {
		return c, err
	}
	if c.pair, c.pairName, err = index(o.TextPairColumn, "text pair", false); err != nil {
		return c, err
	}
	c.label, c.labelName, err = index(o.LabelColumn, "label", o.RequireLabels)
	return c, err
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func readCSV(b *builder, br *bufio.Reader) error {
	cr := csv.NewReader(br)
	var cols columns
	haveCols := false
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			if !haveCols && !b.opts.NoHeader {
				return fmt.Errorf("%s: empty file; want a header row (e.g. text,label) and one row per example", b.ds.Path)
			}
			return nil
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			if !haveCols {
				return &RowError{b.ds.Path, pe.StartLine, csvReason(pe, cols.need)}
			}
			if e := b.bad(pe.StartLine, "%s", csvReason(pe, cols.need)); e != nil {
				return e
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", b.ds.Path, err)
		}
		line, _ := cr.FieldPos(0)
		if !haveCols {
			haveCols = true
			if !b.opts.NoHeader {
				if cols, err = headerColumns(b, rec); err != nil {
					return err
				}
				continue
			}
			if cols, err = indexColumns(b, len(rec), line); err != nil {
				return err
			}
		}
		if err := b.add(cols.row(line, rec)); err != nil {
			return err
		}
	}
}

func csvReason(pe *csv.ParseError, want int) string {
	switch {
	case errors.Is(pe.Err, csv.ErrFieldCount):
		return fmt.Sprintf("wrong number of fields, want %d as in the first row; quote a field that holds a comma, a quote or a line break (\"a, b\")", want)
	case errors.Is(pe.Err, csv.ErrBareQuote):
		return fmt.Sprintf("broken quoting: a \" in an unquoted field (line %d, column %d); quote the field and double the quotes inside (\"say \"\"hi\"\"\")", pe.Line, pe.Column)
	case errors.Is(pe.Err, csv.ErrQuote):
		return fmt.Sprintf("broken quoting: a quoted field does not end where it should (line %d, column %d); double every \" inside a quoted field", pe.Line, pe.Column)
	}
	return fmt.Sprintf("malformed CSV: %v", pe.Err)
}

// readTSV reads tab-separated values without quoting (IANA's text/tab-
// separated-values): fields hold no tabs or line breaks, and quotes are
// text. Blank lines are not rows.
func readTSV(b *builder, br *bufio.Reader) error {
	var cols columns
	haveCols := false
	for line := 1; ; line++ {
		text, err := readLine(br)
		if err == io.EOF {
			if !haveCols && !b.opts.NoHeader {
				return fmt.Errorf("%s: empty file; want a header row (e.g. text<TAB>label) and one row per example", b.ds.Path)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", b.ds.Path, err)
		}
		if len(strings.TrimSpace(string(text))) == 0 {
			continue
		}
		rec := strings.Split(string(text), "\t")
		if !haveCols {
			haveCols = true
			if !b.opts.NoHeader {
				if cols, err = headerColumns(b, rec); err != nil {
					return err
				}
				continue
			}
			if cols, err = indexColumns(b, len(rec), line); err != nil {
				return err
			}
		}
		if len(rec) != cols.need {
			if e := b.bad(line, "%d tab-separated fields, want %d as in the first row; TSV fields cannot hold tabs or line breaks", len(rec), cols.need); e != nil {
				return e
			}
			continue
		}
		if err := b.add(cols.row(line, rec)); err != nil {
			return err
		}
	}
}
