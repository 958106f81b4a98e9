package text

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"
)

// Parquet files, as Hugging Face publishes its datasets, are read one row
// group at a time and, within it, a few hundred rows at a time, so memory
// holds the examples kept so far and one slice of each used column, never
// the decoded file.
//
// Columns are top-level fields found by name (NoHeader does not apply).
// Text columns are strings (BYTE_ARRAY annotated STRING or ENUM, or not
// annotated at all, as older writers leave them); labels are strings or
// integers (INT32, INT64, signed or unsigned), kept as written, as in JSON
// Lines: a Hugging Face ClassLabel column gives "0", "1", ... Dictionary
// encoding, compression and page versions are the library's business.
//
// A null text or text pair is a bad row; a null label is a missing one (an
// error in training and evaluation data, nothing in prediction data), as an
// empty CSV field is. A row's RowError and Example.Line give its 1-based
// row number in the file where CSV gives a line; the reason starts with the
// row group and the row within it, both counted from 0 as pyarrow's
// ParquetFile.read_row_group and table indexing count them.

// ErrCorruptParquet is wrapped by the errors for a file that cannot be read
// as Parquet: not Parquet at all, truncated, or damaged inside.
var ErrCorruptParquet = errors.New("text: unreadable Parquet file")

// parquetChunkRows is how many rows are decoded at a time.
const parquetChunkRows = 256

type corruptParquet struct{ msg string }

func (e *corruptParquet) Error() string        { return e.msg }
func (e *corruptParquet) Is(target error) bool { return target == ErrCorruptParquet }

func corruptf(format string, args ...any) error {
	return &corruptParquet{fmt.Sprintf(format, args...)}
}

// loadParquet reads a Parquet dataset from an open file.
func loadParquet(path string, f *os.File, opts DatasetOptions) (*Dataset, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := &builder{ds: &Dataset{Path: path, HasPair: opts.TextPairColumn != ""}, opts: opts}
	if err := readParquet(b, f, st.Size()); err != nil {
		return nil, err
	}
	return b.finish("parquet")
}

// readParquet adds the rows of the Parquet file r (size bytes) to b.
func readParquet(b *builder, r io.ReaderAt, size int64) (err error) {
	path := b.ds.Path
	if b.opts.NoHeader {
		return fmt.Errorf("%s: NoHeader applies to CSV and TSV files; Parquet files name their columns", path)
	}
	if err := checkParquetMagic(path, r, size); err != nil {
		return err
	}
	// where says what was being read, for a panic in the library (it
	// trusts some of the file's counts and offsets).
	where := "the footer"
	defer func() {
		if p := recover(); p != nil {
			err = corruptf("%s: %s: the Parquet reader failed (%v); the file is damaged: write or download it again", path, where, p)
		}
	}()
	pf, err := parquet.OpenFile(r, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return corruptf("%s: cannot read the Parquet footer (%v); the file is damaged or truncated: write or download it again", path, err)
	}
	where = "the schema"
	cols, err := parquetColumns(b, pf.Schema())
	if err != nil {
		return err
	}
	if len(pf.RowGroups()) != len(pf.Metadata().RowGroups) {
		return corruptf("%s: the Parquet footer lists %d row groups but describes %d; the file is damaged: write or download it again", path, len(pf.Metadata().RowGroups), len(pf.RowGroups()))
	}
	defer func() { b.locate = nil }()
	var first int64 // the row group's first row in the file
	for g := range pf.RowGroups() {
		b.locate = func(line int) string {
			return fmt.Sprintf("row group %d, row %d: ", g, int64(line)-1-first)
		}
		where = fmt.Sprintf("row group %d", g)
		n, err := readRowGroup(b, pf, g, cols, first, &where)
		if err != nil {
			return err
		}
		first += n
	}
	return nil
}

// checkParquetMagic tells a Parquet file from a file that only has the
// name, and a whole one from a truncated one, with a message for each.
func checkParquetMagic(path string, r io.ReaderAt, size int64) error {
	const magic = "PAR1"
	if size == 0 {
		return corruptf("%s: empty file, not Parquet; write the dataset again (pyarrow.parquet.write_table, or Dataset.to_parquet)", path)
	}
	head := make([]byte, min(size, 64))
	if _, err := r.ReadAt(head, 0); err != nil && err != io.EOF {
		return fmt.Errorf("%s: %w", path, err)
	}
	if !bytes.HasPrefix(head, []byte(magic)) {
		return corruptf("%s: not a Parquet file (it does not start with %q; %s)", path, magic, sniffNotParquet(head))
	}
	var tail [4]byte
	if size >= 12 {
		if _, err := r.ReadAt(tail[:], size-4); err != nil && err != io.EOF {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	if string(tail[:]) != magic {
		return corruptf("%s: truncated Parquet file: %d bytes and no footer (a Parquet file ends with %q); download or copy it again", path, size, magic)
	}
	return nil
}

// sniffNotParquet guesses what a file named .parquet holds instead.
func sniffNotParquet(head []byte) string {
	t := bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf")
	switch {
	case bytes.HasPrefix(head, []byte("PARE")):
		return "it is an encrypted Parquet file, which is not supported; decrypt it first"
	case bytes.HasPrefix(head, []byte("\x1f\x8b")):
		return "it is gzip-compressed; gunzip it first"
	case bytes.HasPrefix(head, []byte("version https://git-lfs")):
		return "it is a Git LFS pointer, not the data; fetch the file itself (git lfs pull)"
	case bytes.HasPrefix(t, []byte("{")):
		return "it looks like JSON Lines; name it .jsonl or give the format jsonl"
	case bytes.HasPrefix(t, []byte("[")):
		return "it looks like JSON; write one object per line and name it .jsonl"
	case isText(head):
		return "it looks like text; a CSV or TSV file wants the extension .csv or .tsv, or give the format"
	}
	return "name the file for its real format, or write the dataset as Parquet again"
}

func isText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return len(b) > 0
}

// parquetValueKind is what a used column holds.
type parquetValueKind int

const (
	pqString parquetValueKind = iota
	pqInt
	pqUint
)

// parquetColumn is one used column of the file.
type parquetColumn struct {
	desc  string // `column "name"`, for messages
	index int    // the leaf column's index in a row group
	typ   parquet.Type
	kind  parquetValueKind
}

// parquetColumns finds the text, text pair and label columns (the last
// two nil when not used) and checks their types.
func parquetColumns(b *builder, schema *parquet.Schema) ([3]*parquetColumn, error) {
	o := b.opts
	var cols [3]*parquetColumn
	var names []string
	for _, f := range schema.Fields() {
		names = append(names, f.Name())
	}
	find := func(name, what string, labels, required bool) (*parquetColumn, error) {
		var field parquet.Field
		for _, f := range schema.Fields() {
			if f.Name() == name {
				if field != nil {
					return nil, fmt.Errorf("%s: column %q appears twice in the Parquet schema; rename one", b.ds.Path, name)
				}
				field = f
			}
		}
		if field == nil {
			if !required {
				return nil, nil
			}
			return nil, fmt.Errorf("%s: no column %q (columns: %s); name the %s column to use in the options", b.ds.Path, name, strings.Join(names, ", "), what)
		}
		c := &parquetColumn{desc: fmt.Sprintf("column %q", name)}
		want := "strings"
		if labels {
			want = "strings or integers"
		}
		if !field.Leaf() || field.Repeated() {
			return nil, fmt.Errorf("%s: the %s column %q is a nested %s, want %s; flatten it or pick another column", b.ds.Path, what, name, parquetNestedKind(field), want)
		}
		kind, ok := parquetKind(field.Type())
		if !ok || (kind != pqString && !labels) {
			return nil, fmt.Errorf("%s: the %s column %q holds %s, want %s; convert it (pyarrow: table.cast) or pick another column", b.ds.Path, what, name, parquetTypeName(field.Type()), want)
		}
		c.typ, c.kind = field.Type(), kind
		leaf, ok := schema.Lookup(name)
		if !ok {
			return nil, corruptf("%s: the Parquet schema has a field %q but no column for it; the file is damaged", b.ds.Path, name)
		}
		c.index = leaf.ColumnIndex
		return c, nil
	}
	var err error
	if cols[0], err = find(orDefault(o.TextColumn, "text"), "text", false, true); err != nil {
		return cols, err
	}
	if o.TextPairColumn != "" {
		if cols[1], err = find(o.TextPairColumn, "text pair", false, true); err != nil {
			return cols, err
		}
	}
	cols[2], err = find(orDefault(o.LabelColumn, "label"), "label", true, o.RequireLabels || o.LabelColumn != "")
	return cols, err
}

func parquetNestedKind(n parquet.Node) string {
	if n.Repeated() {
		return "repeated field (a list)"
	}
	if lt := n.Type().LogicalType(); lt != nil {
		switch lt.Value.(type) {
		case *format.ListType:
			return "list"
		case *format.MapType:
			return "map"
		}
	}
	return "struct"
}

// parquetKind says whether a leaf's values can be read as text or labels.
func parquetKind(t parquet.Type) (parquetValueKind, bool) {
	lt, ct := t.LogicalType(), t.ConvertedType()
	switch t.Kind() {
	case parquet.ByteArray:
		switch {
		case lt != nil && lt.Value != nil:
			switch lt.Value.(type) {
			case *format.StringType, *format.EnumType:
				return pqString, true
			}
			return 0, false
		case ct != nil:
			return pqString, *ct == deprecated.UTF8 || *ct == deprecated.Enum
		}
		return pqString, true // plain binary: checked as UTF-8 row by row
	case parquet.Int32, parquet.Int64:
		switch {
		case lt != nil && lt.Value != nil:
			it, ok := lt.Value.(*format.IntType)
			if !ok {
				return 0, false
			}
			if it.IsSigned {
				return pqInt, true
			}
			return pqUint, true
		case ct != nil:
			switch *ct {
			case deprecated.Int8, deprecated.Int16, deprecated.Int32, deprecated.Int64:
				return pqInt, true
			case deprecated.Uint8, deprecated.Uint16, deprecated.Uint32, deprecated.Uint64:
				return pqUint, true
			}
			return 0, false
		}
		return pqInt, true
	}
	return 0, false
}

// parquetTypeName names a leaf's type for messages: "string", "int64",
// "double", "int32 (DATE)".
func parquetTypeName(t parquet.Type) string {
	name := strings.ToLower(t.Kind().String())
	if lt := t.LogicalType(); lt != nil && lt.Value != nil {
		switch v := lt.Value.(type) {
		case *format.StringType:
			name = "string"
		case *format.IntType:
			name = fmt.Sprintf("int%d", v.BitWidth)
			if !v.IsSigned {
				name = "u" + name
			}
		default:
			name += " (" + v.String() + ")"
		}
	}
	return name + " values"
}
