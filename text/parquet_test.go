package text

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// pqColumn is a column of a Parquet file written by a test: its node (type,
// optional, encoding) and its values by row, nil for null.
type pqColumn struct {
	name   string
	node   parquet.Node
	values []any
}

// writeParquet writes the columns to path with parquet-go's writer, a row
// group every groupRows rows (0: one row group).
func writeParquet(t testing.TB, path string, groupRows int, cols []pqColumn, opts ...parquet.WriterOption) {
	t.Helper()
	group := parquet.Group{}
	for _, c := range cols {
		group[c.name] = c.node
	}
	schema := parquet.NewSchema("row", group)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := parquet.NewGenericWriter[any](f, append([]parquet.WriterOption{schema}, opts...)...)
	n := 0
	if len(cols) > 0 {
		n = len(cols[0].values)
	}
	for i := range n {
		row := make(parquet.Row, len(cols))
		for _, c := range cols {
			leaf, _ := schema.Lookup(c.name)
			v, def := parquet.NullValue(), 0
			if c.values[i] != nil {
				v, def = parquet.ValueOf(c.values[i]), leaf.MaxDefinitionLevel
			}
			row[leaf.ColumnIndex] = v.Level(0, def, leaf.ColumnIndex)
		}
		if _, err := w.WriteRows([]parquet.Row{row}); err != nil {
			t.Fatal(err)
		}
		if groupRows > 0 && (i+1)%groupRows == 0 && i+1 < n {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeJSONL writes the same columns as JSON Lines: a null text is null, a
// null label an empty one (what an unlabelled row is in CSV; a row without
// the label key would be a bad row when the label column is named).
func writeJSONL(t testing.TB, path string, cols []pqColumn, labelKey string) {
	t.Helper()
	var sb strings.Builder
	for i := range cols[0].values {
		var fields []string
		for _, c := range cols {
			v := c.values[i]
			if v == nil && c.name == labelKey {
				v = ""
			}
			key, _ := json.Marshal(c.name)
			var val []byte
			if s, ok := v.(string); ok && !utf8Valid(s) {
				val = []byte(`"` + s + `"`) // raw bytes: json.Marshal would repair them
			} else {
				val, _ = json.Marshal(v)
			}
			fields = append(fields, string(key)+": "+string(val))
		}
		sb.WriteString("{" + strings.Join(fields, ", ") + "}\n")
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func optString() parquet.Node { return parquet.Optional(parquet.String()) }

// sameDataset fails unless a and b hold the same examples (everything but
// the path) and skipped the same rows.
func sameDataset(t *testing.T, what string, a, b *Dataset) {
	t.Helper()
	if !reflect.DeepEqual(a.Examples, b.Examples) {
		for i := range min(len(a.Examples), len(b.Examples)) {
			if a.Examples[i] != b.Examples[i] {
				t.Fatalf("%s: example %d differs:\n%+v\n%+v", what, i, a.Examples[i], b.Examples[i])
			}
		}
		t.Fatalf("%s: %d examples against %d", what, len(a.Examples), len(b.Examples))
	}
	lines := func(d *Dataset) []int {
		var ls []int
		for _, e := range d.SkippedRows {
			ls = append(ls, e.Line)
		}
		return ls
	}
	if a.HasPair != b.HasPair || a.Skipped != b.Skipped || !slices.Equal(lines(a), lines(b)) {
		t.Fatalf("%s: pair %v/%v, skipped %d %v against %d %v", what, a.HasPair, b.HasPair, a.Skipped, lines(a), b.Skipped, lines(b))
	}
}

// TestParquetMatchesJSONL: the same rows written as JSON Lines and as
// Parquet (several layouts: row groups of 1, 3 and all rows, dictionary
// encoding, data pages v2, compression) load into the same examples, IDs
// and lines, and skip the same bad rows.
func TestParquetMatchesJSONL(t *testing.T) {
	texts := []any{"a fine film", "Café naïve 🎬", nil, "line one\nline two", "", "我很喜欢", "ok \"quoted\"", "bad \xff byte", "  ", "last one"}
	pairs := []any{"p0", "p1", "p2", nil, "p4", "p5", "p6", "p7", "p8", "p9"}
	strLabels := []any{"pos", "neg", "pos", "neg", "pos", nil, "neg", "pos", "neg", "pos"}
	intLabels := []any{int64(1), int64(0), int64(1), int64(-3), int64(1), nil, int64(0), int64(1), int64(0), int64(7)}
	dir := t.TempDir()
	layouts := []struct {
		name      string
		groupRows int
		opts      []parquet.WriterOption
		dict      bool
	}{
		{"one group", 0, nil, false},
		{"groups of 3", 3, nil, false},
		{"groups of 1, dictionary", 1, nil, true},
		{"pages v2, zstd, dictionary", 4, []parquet.WriterOption{parquet.DataPageVersion(2), parquet.Compression(&parquet.Zstd)}, true},
	}
	for _, labels := range []struct {
		name   string
		values []any
		node   parquet.Node
	}{
		{"string labels", strLabels, optString()},
		{"int64 labels", intLabels, parquet.Optional(parquet.Int(64))},
	} {
		cols := []pqColumn{{"sentence", optString(), texts}, {"pair", optString(), pairs}, {"y", labels.node, labels.values}}
		jsonl := filepath.Join(dir, labels.name+".jsonl")
		writeJSONL(t, jsonl, cols, "y")
		for _, l := range layouts {
			pqCols := slices.Clone(cols)
			if l.dict {
				for i := range pqCols {
					pqCols[i].node = parquet.Encoded(pqCols[i].node, &parquet.RLEDictionary)
				}
			}
			path := filepath.Join(dir, labels.name+" "+l.name+".parquet")
			writeParquet(t, path, l.groupRows, pqCols, l.opts...)
			for _, opts := range []DatasetOptions{
				{TextColumn: "sentence", LabelColumn: "y", SkipBadRows: true},
				{TextColumn: "sentence", LabelColumn: "y", SkipBadRows: true, RequireLabels: true},
				{TextColumn: "sentence", TextPairColumn: "pair", LabelColumn: "y", SkipBadRows: true},
				{TextColumn: "sentence", SkipBadRows: true}, // no label column asked for: "label" is absent
			} {
				what := labels.name + ", " + l.name
				want, err := LoadDataset(jsonl, opts)
				if err != nil {
					t.Fatalf("%s: JSONL: %v", what, err)
				}
				got, err := LoadDataset(path, opts)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				sameDataset(t, what, want, got)
				if want.Skipped == 0 || len(want.Examples) < 4 {
					t.Fatalf("%s: the test lost its bad rows or its examples: %d skipped, %d kept", what, want.Skipped, len(want.Examples))
				}
			}
		}
	}
	// Without SkipBadRows both stop at the same row.
	jsonl := filepath.Join(dir, "string labels.jsonl")
	path := filepath.Join(dir, "string labels groups of 3.parquet")
	opts := DatasetOptions{TextColumn: "sentence", LabelColumn: "y"}
	_, jerr := LoadDataset(jsonl, opts)
	_, perr := LoadDataset(path, opts)
	var je, pe *RowError
	if !errors.As(jerr, &je) || !errors.As(perr, &pe) || je.Line != 3 || pe.Line != 3 {
		t.Fatalf("want both to stop at row 3:\n%v\n%v", jerr, perr)
	}
	if want := `row group 0, row 2: null in column "sentence"; remove the row or fill it in`; pe.Reason != want {
		t.Errorf("reason %q, want %q", pe.Reason, want)
	}
}

// TestParquetBadRowsLocated: a skipped row's reason names its row group and
// its row within it; Line is the row in the file.
func TestParquetBadRowsLocated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.parquet")
	writeParquet(t, path, 2, []pqColumn{
		{"text", optString(), []any{"a", "b", "c", nil, "e"}},
		{"label", parquet.Optional(parquet.Int(32)), []any{int32(1), int32(2), nil, int32(4), int32(5)}},
	})
	ds, err := LoadDataset(path, DatasetOptions{SkipBadRows: true, RequireLabels: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ds.SkippedRows {
		got = append(got, strings.TrimPrefix(e.Error(), filepath.Dir(path)+string(filepath.Separator)))
	}
	want := []string{
		`d.parquet:3: row group 1, row 0: missing label in column "label"; every training and evaluation row needs one`,
		`d.parquet:4: row group 1, row 1: null in column "text"; remove the row or fill it in`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("skipped\n%q\nwant\n%q", got, want)
	}
	var ids []int
	var labels []string
	for _, ex := range ds.Examples {
		ids, labels = append(ids, ex.ID), append(labels, ex.Label)
	}
	if !slices.Equal(ids, []int{0, 1, 4}) || !slices.Equal(labels, []string{"1", "2", "5"}) {
		t.Errorf("ids %v labels %v", ids, labels)
	}
	// Prediction data: a null label is an unlabelled row, not a bad one.
	ds, err = LoadDataset(path, DatasetOptions{SkipBadRows: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Examples) != 4 || ds.Skipped != 1 || ds.Examples[2].HasLabel || ds.Examples[2].ID != 2 {
		t.Errorf("prediction data: %+v, skipped %d", ds.Examples, ds.Skipped)
	}
}

// TestParquetLabelTypes: integer labels of every width, signed or not, are
// their decimal form; an unannotated BYTE_ARRAY column reads as text.
func TestParquetLabelTypes(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		node   parquet.Node
		values []any
		want   []string
	}{
		{parquet.Int(8), []any{int32(-128), int32(127)}, []string{"-128", "127"}},
		{parquet.Int(32), []any{int32(-2147483648), int32(0)}, []string{"-2147483648", "0"}},
		{parquet.Leaf(parquet.Int64Type), []any{int64(-9223372036854775808), int64(9223372036854775807)}, []string{"-9223372036854775808", "9223372036854775807"}},
		{parquet.Uint(32), []any{uint32(4294967295), uint32(1)}, []string{"4294967295", "1"}},
		{parquet.Uint(64), []any{uint64(18446744073709551615), uint64(2)}, []string{"18446744073709551615", "2"}},
		{parquet.Enum(), []any{"neg", "pos"}, []string{"neg", "pos"}},
		{parquet.Leaf(parquet.ByteArrayType), []any{"a", "b"}, []string{"a", "b"}},
	} {
		path := filepath.Join(dir, "labels.parquet")
		writeParquet(t, path, 0, []pqColumn{
			{"text", parquet.Leaf(parquet.ByteArrayType), []any{"x", "y"}},
			{"label", c.node, c.values},
		})
		ds, err := LoadDataset(path, DatasetOptions{RequireLabels: true})
		if err != nil {
			t.Fatalf("%v: %v", c.node.Type(), err)
		}
		var got []string
		for _, ex := range ds.Examples {
			got = append(got, ex.Label)
		}
		if !slices.Equal(got, c.want) || ds.Examples[0].Text != "x" {
			t.Errorf("%v: labels %q, want %q", c.node.Type(), got, c.want)
		}
	}
}

// TestParquetFixtures reads the files that pyarrow wrote
// (scripts/make_parquet_fixture.py): each loads into the same examples as
// the JSON Lines written beside it, and the files really have the layout
// they are meant to cover (several row groups, dictionary-encoded strings).
func TestParquetFixtures(t *testing.T) {
	for _, c := range []struct {
		name     string
		opts     DatasetOptions
		groups   int
		dictCol  string
		examples int
		first    Example
	}{
		{"pyarrow_sentiment", DatasetOptions{SkipBadRows: true, RequireLabels: true}, 3, "label_name", 7,
			Example{ID: 0, Line: 1, Text: "A quietly devastating film.", Label: "1", HasLabel: true}},
		{"pyarrow_sentiment", DatasetOptions{SkipBadRows: true, LabelColumn: "label_name"}, 3, "label_name", 8,
			Example{ID: 0, Line: 1, Text: "A quietly devastating film.", Label: "pos", HasLabel: true}},
		{"pyarrow_pairs", DatasetOptions{SkipBadRows: true, TextColumn: "premise", TextPairColumn: "hypothesis"}, 3, "premise", 6,
			Example{ID: 0, Line: 1, Text: "A man plays a guitar.", TextPair: "A person makes music.", HasPair: true, Label: "entailment", HasLabel: true}},
	} {
		path := filepath.Join("testdata", c.name+".parquet")
		got, err := LoadDataset(path, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		want, err := LoadDataset(filepath.Join("testdata", c.name+".jsonl"), c.opts)
		if err != nil {
			t.Fatal(err)
		}
		sameDataset(t, c.name, want, got)
		if len(got.Examples) != c.examples || got.Examples[0] != c.first {
			t.Errorf("%s: %d examples, the first %+v", c.name, len(got.Examples), got.Examples[0])
		}

		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.Stat()
		pf, err := parquet.OpenFile(f, st.Size())
		if err != nil {
			t.Fatal(err)
		}
		md := pf.Metadata()
		if len(md.RowGroups) != c.groups || !strings.Contains(md.CreatedBy, "parquet-cpp-arrow") {
			t.Errorf("%s: %d row groups by %q: not the fixture the test expects", c.name, len(md.RowGroups), md.CreatedBy)
		}
		leaf, _ := pf.Schema().Lookup(c.dictCol)
		for g, rg := range md.RowGroups {
			if !slices.Contains(rg.Columns[leaf.ColumnIndex].MetaData.Encoding, format.RLEDictionary) {
				t.Errorf("%s: row group %d: column %s is not dictionary-encoded", c.name, g, c.dictCol)
			}
		}
		f.Close()
	}
	// The sentiment file's text column is a large_string; the unicode text
	// and the row after the null come through.
	ds, err := LoadDataset(filepath.Join("testdata", "pyarrow_sentiment.parquet"), DatasetOptions{SkipBadRows: true})
	if err != nil {
		t.Fatal(err)
	}
	if ex := ds.Examples[1]; ex.Text != "Café scenes, naïve plot — still fun 🎬" || ex.ID != 1 {
		t.Errorf("example 1: %+v", ex)
	}
	if ex := ds.Examples[4]; ex.Text != "我很喜欢这部电影" || ex.ID != 5 || ex.Line != 6 {
		t.Errorf("example 4: %+v", ex)
	}
	if ds.Skipped != 2 || !strings.HasPrefix(ds.SkippedRows[0].Reason, `row group 1, row 0: null in column "text"`) {
		t.Errorf("skipped %d: %v", ds.Skipped, ds.SkippedRows)
	}
}

// BenchmarkLoadParquet loads the same review-sized texts from JSON Lines
// and from Parquet (row groups of 512 rows, dictionary-encoded labels).
func BenchmarkLoadParquet(b *testing.B) {
	texts := imdbLike(b)
	var values, labels []any
	for i, s := range texts {
		values, labels = append(values, s), append(labels, []string{"neg", "pos"}[i%2])
	}
	cols := []pqColumn{{"text", parquet.String(), values}, {"label", parquet.Encoded(parquet.String(), &parquet.RLEDictionary), labels}}
	dir := b.TempDir()
	writeJSONL(b, filepath.Join(dir, "d.jsonl"), cols, "label")
	writeParquet(b, filepath.Join(dir, "d.parquet"), 512, cols)
	for _, name := range []string{"d.jsonl", "d.parquet"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := LoadDataset(filepath.Join(dir, name), DatasetOptions{RequireLabels: true}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
