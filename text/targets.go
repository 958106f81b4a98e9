package text

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// A multi-label example names the set of its labels in its one label
// column, in either of two forms:
//
//   - a JSON array of names or integers: ["sports", "politics"], [0, 3],
//     [] (no label applies). In JSON Lines the field holds the array
//     itself; in CSV, TSV and Parquet the cell holds its text.
//   - names separated by commas: sports,politics (spaces around a name are
//     ignored).
//
// An empty cell is a missing label, not an empty set: write [] for an
// example to which no label applies.

// ParseLabelList reads one multi-label cell into its label names, in the
// order written, without duplicates.
func ParseLabelList(s string) ([]string, error) {
	t := strings.TrimSpace(s)
	var names []string
	if strings.HasPrefix(t, "[") {
		var items []json.RawMessage
		if err := json.Unmarshal([]byte(t), &items); err != nil {
			return nil, fmt.Errorf("label list %q is not a JSON array of names (e.g. [\"a\", \"b\"] or [])", s)
		}
		for _, it := range items {
			name, reason := jsonClassName(it, "an item")
			if reason != "" || name == "" {
				return nil, fmt.Errorf("label list %q: item %s is not a name or an integer", s, it)
			}
			names = append(names, name)
		}
	} else {
		for _, part := range strings.Split(t, ",") {
			name := strings.TrimSpace(part)
			if name == "" {
				return nil, fmt.Errorf("label list %q has an empty name; separate names by single commas, or write [] for none", s)
			}
			names = append(names, name)
		}
	}
	seen := make(map[string]bool, len(names))
	out := names[:0]
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

// MultiLabelSet returns every label named in the training rows' label
// lists, ordered as LabelSet orders single labels.
func (d *Dataset) MultiLabelSet() (LabelSet, error) {
	seen := make(map[string]bool)
	for _, ex := range d.Examples {
		if !ex.HasLabel {
			return LabelSet{}, &RowError{d.Path, ex.Line, "row has no label list; training data needs one in every row (write [] when no label applies)"}
		}
		names, err := ParseLabelList(ex.Label)
		if err != nil {
			return LabelSet{}, &RowError{d.Path, ex.Line, err.Error()}
		}
		for _, n := range names {
			seen[n] = true
		}
	}
	if len(seen) == 0 {
		return LabelSet{}, fmt.Errorf("%s: no row names a label; multi-label data needs at least one", d.Path)
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sortLabels(names)
	return NewLabelSet(names)
}

// MultiHot returns every example's label list as 0/1 per label of ls,
// row-major ([examples][ls.Len()]), or an error naming the first row whose
// list is missing, malformed or names a label ls does not know.
func (d *Dataset) MultiHot(ls LabelSet) ([]float32, error) {
	n := ls.Len()
	out := make([]float32, len(d.Examples)*n)
	for i, ex := range d.Examples {
		if !ex.HasLabel {
			return nil, &RowError{d.Path, ex.Line, "row has no label list (write [] when no label applies)"}
		}
		names, err := ParseLabelList(ex.Label)
		if err != nil {
			return nil, &RowError{d.Path, ex.Line, err.Error()}
		}
		for _, name := range names {
			id, ok := ls.ID(name)
			if !ok {
				return nil, &RowError{d.Path, ex.Line, fmt.Sprintf("label %q never seen in training data (known: %s)", name, ls.summary())}
			}
			out[i*n+id] = 1
		}
	}
	return out, nil
}

// Scores returns every example's label as a number, for regression, or an
// error naming the first row whose label is missing or not a finite number.
func (d *Dataset) Scores() ([]float32, error) {
	out := make([]float32, len(d.Examples))
	for i, ex := range d.Examples {
		if !ex.HasLabel {
			return nil, &RowError{d.Path, ex.Line, "row has no score; regression data needs a number in every row"}
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(ex.Label), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > math.MaxFloat32 {
			return nil, &RowError{d.Path, ex.Line, fmt.Sprintf("score %q is not a finite number; regression labels are numbers such as 3.8", ex.Label)}
		}
		out[i] = float32(v)
	}
	return out, nil
}
