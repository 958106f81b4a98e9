package text

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// LabelSet maps label names to class ids 0..Len()-1.
type LabelSet struct {
	names []string
	ids   map[string]int
}

// NewLabelSet keeps names in the order given, as a model saved them.
func NewLabelSet(names []string) (LabelSet, error) {
	ls := LabelSet{names: slices.Clone(names), ids: make(map[string]int, len(names))}
	for i, n := range names {
		if n == "" {
			return LabelSet{}, fmt.Errorf("label %d is empty", i)
		}
		if _, dup := ls.ids[n]; dup {
			return LabelSet{}, fmt.Errorf("label %q appears twice", n)
		}
		ls.ids[n] = i
	}
	return ls, nil
}

// LabelSet returns the distinct labels of the training data, in numeric
// order when all are integers ("2" before "10"), else in byte order: the
// same data always gives the same ids.
func (d *Dataset) LabelSet() (LabelSet, error) {
	seen := make(map[string]bool)
	allNumbers, fraction := true, -1
	for i, ex := range d.Examples {
		if !ex.HasLabel {
			return LabelSet{}, &RowError{d.Path, ex.Line, "row has no label; training data needs one in every row"}
		}
		if strings.HasPrefix(ex.Label, "[") {
			if _, err := ParseLabelList(ex.Label); err == nil {
				return LabelSet{}, &RowError{d.Path, ex.Line, fmt.Sprintf("label %s is a list; for multi-label data pass --problem multi_label", ex.Label)}
			}
		}
		if _, err := strconv.ParseFloat(ex.Label, 64); err != nil {
			allNumbers = false
		} else if _, err := strconv.ParseInt(ex.Label, 10, 64); err != nil && fraction < 0 {
			fraction = i
		}
		seen[ex.Label] = true
	}
	if allNumbers && fraction >= 0 {
		ex := d.Examples[fraction]
		return LabelSet{}, &RowError{d.Path, ex.Line, fmt.Sprintf("label %s is a fraction and every label is a number: these look like scores; for regression pass --problem regression (class names are words or integers)", ex.Label)}
	}
	if len(seen) == 0 {
		return LabelSet{}, fmt.Errorf("%s: no labelled rows", d.Path)
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sortLabels(names)
	return NewLabelSet(names)
}

func sortLabels(names []string) {
	nums := make(map[string]int64, len(names))
	for _, n := range names {
		v, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			slices.Sort(names)
			return
		}
		nums[n] = v
	}
	slices.SortFunc(names, func(a, b string) int {
		if nums[a] != nums[b] {
			if nums[a] < nums[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b) // "1" and "+1", "01"
	})
}

// ID returns the class id of label.
func (ls LabelSet) ID(label string) (int, bool) {
	id, ok := ls.ids[label]
	return id, ok
}

// Names returns the labels in class-id order.
func (ls LabelSet) Names() []string { return slices.Clone(ls.names) }

// Len is the number of classes.
func (ls LabelSet) Len() int { return len(ls.names) }

// LabelIDs returns the class id of every example, or an error naming the
// first row whose label is missing or unknown to ls.
func (d *Dataset) LabelIDs(ls LabelSet) ([]int, error) {
	ids := make([]int, len(d.Examples))
	for i, ex := range d.Examples {
		if !ex.HasLabel {
			return nil, &RowError{d.Path, ex.Line, "row has no label"}
		}
		id, ok := ls.ID(ex.Label)
		if !ok {
			return nil, &RowError{d.Path, ex.Line, fmt.Sprintf("label %q never seen in training data (known: %s)", ex.Label, ls.summary())}
		}
		ids[i] = id
	}
	return ids, nil
}

func (ls LabelSet) summary() string {
	const most = 20
	if len(ls.names) <= most {
		return strings.Join(ls.names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ls.names[:most], ", "), len(ls.names)-most)
}
