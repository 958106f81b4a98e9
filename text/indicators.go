package text

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Multi-label data often has one column per label instead of a list (the
// Jigsaw toxic-comment layout: toxic, severe_toxic, obscene, ... each 0 or
// 1). DatasetOptions.IndicatorColumns reads such a file: every example's
// label becomes the JSON list of the columns that hold a true value, the
// form ParseLabelList reads, so the rest of the pipeline sees one label
// list per row.

// parseIndicator reads one indicator cell: 1, 0, true, false, 1.0, 0.0
// (any case; as JSON, CSV, TSV or Parquet give them).
func parseIndicator(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "1.0", "true":
		return true, true
	case "0", "0.0", "false":
		return false, true
	}
	return false, false
}

// loadIndicators reads path once per indicator column and joins the
// columns into one label list per example. Rows are matched by their ID;
// a row that one column's read skips (SkipBadRows) is skipped for all.
func loadIndicators(path string, opts DatasetOptions) (*Dataset, error) {
	cols := opts.IndicatorColumns
	seen := map[string]bool{}
	for _, c := range cols {
		if c == "" || seen[c] {
			return nil, fmt.Errorf("%s: label columns %q: want distinct, non-empty column names", path, strings.Join(cols, ","))
		}
		seen[c] = true
	}
	var out *Dataset
	labels := map[int][]string{} // example ID -> the columns that hold true
	present := map[int]int{}     // example ID -> columns that read it
	for _, col := range cols {
		o := opts
		o.IndicatorColumns, o.LabelColumn = nil, col
		ds, err := LoadDataset(path, o)
		if err != nil {
			return nil, err
		}
		for _, ex := range ds.Examples {
			present[ex.ID]++
			if !ex.HasLabel {
				continue
			}
			on, ok := parseIndicator(ex.Label)
			if !ok {
				reason := fmt.Sprintf("label column %q holds %q; one column per label holds 1 or 0 (true or false)", col, ex.Label)
				if !opts.SkipBadRows {
					return nil, &RowError{path, ex.Line, reason}
				}
				present[ex.ID] = -len(cols) // never complete: skipped below
				ds.SkippedRows = append(ds.SkippedRows, RowError{path, ex.Line, reason})
				continue
			}
			if on {
				labels[ex.ID] = append(labels[ex.ID], col)
			}
		}
		if out == nil {
			out = ds
		} else if len(ds.SkippedRows) > len(out.SkippedRows) {
			out.SkippedRows = ds.SkippedRows
		}
	}
	kept := out.Examples[:0]
	for _, ex := range out.Examples {
		if present[ex.ID] != len(cols) {
			continue
		}
		if ex.HasLabel {
			list, _ := json.Marshal(append([]string{}, labels[ex.ID]...))
			ex.Label = string(list)
		}
		kept = append(kept, ex)
	}
	out.Skipped += len(out.Examples) - len(kept)
	out.Examples = kept
	if len(out.SkippedRows) > MaxSkippedKept {
		out.SkippedRows = out.SkippedRows[:MaxSkippedKept]
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("%s: no usable rows: every row had a bad label cell", path)
	}
	return out, nil
}
