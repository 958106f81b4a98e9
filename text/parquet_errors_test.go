package text

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// goodParquet writes a small valid file of three row groups and returns its
// path and bytes.
func goodParquet(t testing.TB, dir string) (string, []byte) {
	t.Helper()
	path := filepath.Join(dir, "good.parquet")
	writeParquet(t, path, 2, []pqColumn{
		{"text", optString(), []any{"one", "two", "three", "four", "five"}},
		{"label", parquet.Encoded(optString(), &parquet.RLEDictionary), []any{"a", "b", "a", "b", "a"}},
	})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, data
}

// TestParquetErrors: each error names the file and says what is wrong and
// what to do; damaged files wrap ErrCorruptParquet.
func TestParquetErrors(t *testing.T) {
	dir := t.TempDir()
	_, good := goodParquet(t, dir)
	typed := func(name string, cols ...pqColumn) []byte {
		path := filepath.Join(dir, name)
		writeParquet(t, path, 0, cols)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	texts := pqColumn{"text", parquet.String(), []any{"x", "y"}}
	tests := []struct {
		name    string
		data    []byte
		opts    DatasetOptions
		want    string
		corrupt bool
	}{
		{"missing text column", good, DatasetOptions{TextColumn: "review"},
			`d.parquet: no column "review" (columns: label, text); name the text column to use in the options`, false},
		{"missing label column", good, DatasetOptions{LabelColumn: "stars"},
			`d.parquet: no column "stars" (columns: label, text); name the label column to use in the options`, false},
		{"missing pair column", good, DatasetOptions{TextPairColumn: "text2"},
			`d.parquet: no column "text2" (columns: label, text); name the text pair column to use in the options`, false},
		{"no header", good, DatasetOptions{NoHeader: true},
			`d.parquet: NoHeader applies to CSV and TSV files; Parquet files name their columns`, false},
		{"float labels", typed("f.parquet", texts, pqColumn{"label", parquet.Leaf(parquet.DoubleType), []any{0.5, 1.0}}), DatasetOptions{},
			`d.parquet: the label column "label" holds double values, want strings or integers; convert it (pyarrow: table.cast) or pick another column`, false},
		{"bool labels", typed("b.parquet", texts, pqColumn{"label", parquet.Leaf(parquet.BooleanType), []any{true, false}}), DatasetOptions{},
			`d.parquet: the label column "label" holds boolean values, want strings or integers; convert it (pyarrow: table.cast) or pick another column`, false},
		{"date labels", typed("t.parquet", texts, pqColumn{"label", parquet.Date(), []any{int32(1), int32(2)}}), DatasetOptions{},
			`d.parquet: the label column "label" holds int32 (DATE) values, want strings or integers; convert it (pyarrow: table.cast) or pick another column`, false},
		{"integer text", typed("i.parquet", pqColumn{"text", parquet.Int(64), []any{int64(1), int64(2)}}), DatasetOptions{},
			`d.parquet: the text column "text" holds int64 values, want strings; convert it (pyarrow: table.cast) or pick another column`, false},
		{"json text", typed("j.parquet", pqColumn{"text", parquet.JSON(), []any{`"x"`, `"y"`}}), DatasetOptions{},
			`d.parquet: the text column "text" holds byte_array (JSON) values, want strings; convert it (pyarrow: table.cast) or pick another column`, false},
		{"list text", typed("l.parquet", pqColumn{"label", parquet.String(), []any{"a", "b"}}, pqColumn{"text", parquet.Repeated(parquet.String()), []any{"x", "y"}}), DatasetOptions{},
			`d.parquet: the text column "text" is a nested repeated field (a list), want strings; flatten it or pick another column`, false},
		{"empty file", nil, DatasetOptions{},
			`d.parquet: empty file, not Parquet; write the dataset again (pyarrow.parquet.write_table, or Dataset.to_parquet)`, true},
		{"JSON Lines", []byte("{\"text\": \"x\"}\n"), DatasetOptions{},
			`d.parquet: not a Parquet file (it does not start with "PAR1"; it looks like JSON Lines; name it .jsonl or give the format jsonl)`, true},
		{"CSV", []byte("text,label\nx,y\n"), DatasetOptions{},
			`d.parquet: not a Parquet file (it does not start with "PAR1"; it looks like text; a CSV or TSV file wants the extension .csv or .tsv, or give the format)`, true},
		{"gzip", []byte("\x1f\x8b\x08\x00\x00\x00"), DatasetOptions{},
			`d.parquet: not a Parquet file (it does not start with "PAR1"; it is gzip-compressed; gunzip it first)`, true},
		{"Git LFS pointer", []byte("version https://git-lfs.github.com/spec/v1\noid sha256:0000\nsize 12\n"), DatasetOptions{},
			`d.parquet: not a Parquet file (it does not start with "PAR1"; it is a Git LFS pointer, not the data; fetch the file itself (git lfs pull))`, true},
		{"truncated", good[:len(good)/2], DatasetOptions{},
			`d.parquet: truncated Parquet file: ` + strconv.Itoa(len(good)/2) + ` bytes and no footer (a Parquet file ends with "PAR1"); download or copy it again`, true},
		{"magic only", []byte("PAR1"), DatasetOptions{},
			`d.parquet: truncated Parquet file: 4 bytes and no footer (a Parquet file ends with "PAR1"); download or copy it again`, true},
		{"footer length too long", append(append([]byte{}, good[:len(good)-8]...), 0xff, 0xff, 0xff, 0x00, 'P', 'A', 'R', '1'), DatasetOptions{},
			`d.parquet: cannot read the Parquet footer`, true},
	}
	path := filepath.Join(dir, "d.parquet")
	for _, tc := range tests {
		if err := os.WriteFile(path, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadDataset(path, tc.opts)
		if err == nil || !strings.HasPrefix(strings.TrimPrefix(err.Error(), dir+string(filepath.Separator)), tc.want) {
			t.Errorf("%s:\n got %v\nwant %s", tc.name, err, tc.want)
			continue
		}
		if tc.corrupt != errors.Is(err, ErrCorruptParquet) {
			t.Errorf("%s: errors.Is(ErrCorruptParquet) = %v", tc.name, !tc.corrupt)
		}
	}
	// An empty table: a file with no rows.
	_, err := load(t, "d.parquet", string(typed("e.parquet", pqColumn{"text", parquet.String(), nil})), DatasetOptions{})
	if err == nil || err.Error() != "d.parquet: no data rows; want a Parquet file with one example per row" {
		t.Errorf("no rows: %v", err)
	}
}

// TestParquetNestedColumns: a list, map or struct column is named as such.
func TestParquetNestedColumns(t *testing.T) {
	for _, c := range []struct {
		node parquet.Node
		want string
	}{
		{parquet.List(parquet.String()), `d.parquet: the text column "text" is a nested list, want strings; flatten it or pick another column`},
		{parquet.Map(parquet.String(), parquet.String()), `d.parquet: the text column "text" is a nested map, want strings; flatten it or pick another column`},
		{parquet.Group{"a": parquet.String()}, `d.parquet: the text column "text" is a nested struct, want strings; flatten it or pick another column`},
		{parquet.Repeated(parquet.String()), `d.parquet: the text column "text" is a nested repeated field (a list), want strings; flatten it or pick another column`},
	} {
		schema := parquet.NewSchema("row", parquet.Group{"text": c.node, "label": parquet.String()})
		b := &builder{ds: &Dataset{Path: "d.parquet"}}
		if _, err := parquetColumns(b, schema); err == nil || err.Error() != c.want {
			t.Errorf("%v:\n got %v\nwant %s", c.node, err, c.want)
		}
	}
}

// TestParquetDamaged flips each byte of a small file in turn: every load
// either succeeds with well-formed examples or fails with an error naming
// the file; none panics. Some of the damage lands in the pages, and those
// errors name the row group and the column.
func TestParquetDamaged(t *testing.T) {
	dir := t.TempDir()
	_, good := goodParquet(t, dir)
	path := filepath.Join(dir, "x.parquet")
	located := 0
	for i := range good {
		data := bytes.Clone(good)
		data[i] ^= 0x5a
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		ds, err := LoadDataset(path, DatasetOptions{SkipBadRows: true})
		if err != nil {
			if !strings.HasPrefix(err.Error(), path+":") {
				t.Fatalf("byte %d: the error does not start with the file: %v", i, err)
			}
			if strings.Contains(err.Error(), "row group ") && strings.Contains(err.Error(), `column "`) {
				located++
			}
			continue
		}
		checkExamples(t, ds)
	}
	if located == 0 {
		t.Error("no damage was reported with its row group and column")
	}
}

// checkExamples fails unless every example is usable and IDs increase.
func checkExamples(t *testing.T, ds *Dataset) {
	t.Helper()
	if len(ds.Examples) == 0 {
		t.Fatal("loaded with no examples")
	}
	prev := -1
	for _, ex := range ds.Examples {
		if strings.TrimSpace(ex.Text) == "" || !utf8Valid(ex.Text, ex.TextPair, ex.Label) || ex.ID <= prev || ex.Line != ex.ID+1 {
			t.Fatalf("bad example %+v", ex)
		}
		if ds.HasPair && strings.TrimSpace(ex.TextPair) == "" {
			t.Fatalf("bad example %+v", ex)
		}
		prev = ex.ID
	}
}

// FuzzReadParquet: no input makes the Parquet reader panic, and what loads
// is well formed. Seeded with the pyarrow fixtures and files written here.
func FuzzReadParquet(f *testing.F) {
	for _, name := range []string{"pyarrow_sentiment.parquet", "pyarrow_pairs.parquet"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, false, false)
		f.Add(data, true, true)
	}
	_, good := goodParquet(f, f.TempDir())
	f.Add(good, false, true)
	f.Add(good[:len(good)-3], true, false)
	f.Add([]byte("PAR1\x00\x00\x00\x00PAR1"), false, false)
	f.Fuzz(func(t *testing.T, data []byte, skip, require bool) {
		for _, opts := range []DatasetOptions{
			{SkipBadRows: skip, RequireLabels: require},
			{SkipBadRows: skip, TextColumn: "premise", TextPairColumn: "hypothesis"},
		} {
			b := &builder{ds: &Dataset{Path: "fuzz.parquet", HasPair: opts.TextPairColumn != ""}, opts: opts}
			if err := readParquet(b, bytes.NewReader(data), int64(len(data))); err != nil {
				if !strings.HasPrefix(err.Error(), "fuzz.parquet") {
					t.Fatalf("the error does not name the file: %v", err)
				}
				continue
			}
			ds, err := b.finish("parquet")
			if err != nil {
				continue
			}
			checkExamples(t, ds)
		}
	})
}
