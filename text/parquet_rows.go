package text

import (
	"fmt"
	"io"
	"strconv"

	"github.com/parquet-go/parquet-go"
)

// parquetCell is one decoded value of a used column.
type parquetCell struct {
	s    string
	null bool
}

// parquetCursor decodes one column chunk a slice of rows at a time.
type parquetCursor struct {
	col *parquetColumn
	r   parquet.ColumnChunkValueReader
	buf []parquet.Value
}

// next appends up to k values to dst; fewer only at the end of the chunk.
// Values are copied out before the next read: the reader recycles a
// page's memory once it moves on.
func (c *parquetCursor) next(dst []parquetCell, k int) ([]parquetCell, error) {
	if cap(c.buf) < k {
		c.buf = make([]parquet.Value, k)
	}
	for len(dst) < k {
		m, err := c.r.ReadValues(c.buf[:k-len(dst)])
		for _, v := range c.buf[:m] {
			cell, ok := c.cell(v)
			if !ok {
				return dst, fmt.Errorf("a %s value where the schema says %s", v.Kind(), parquetTypeName(c.colType()))
			}
			dst = append(dst, cell)
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func (c *parquetCursor) colType() parquet.Type { return c.col.typ }

func (c *parquetCursor) cell(v parquet.Value) (parquetCell, bool) {
	if v.IsNull() {
		return parquetCell{null: true}, true
	}
	if v.RepetitionLevel() != 0 {
		return parquetCell{}, false
	}
	switch k := v.Kind(); {
	case c.col.kind == pqString && k == parquet.ByteArray:
		return parquetCell{s: string(v.ByteArray())}, true
	case c.col.kind == pqInt && k == parquet.Int32:
		return parquetCell{s: strconv.FormatInt(int64(v.Int32()), 10)}, true
	case c.col.kind == pqInt && k == parquet.Int64:
		return parquetCell{s: strconv.FormatInt(v.Int64(), 10)}, true
	case c.col.kind == pqUint && k == parquet.Int32:
		return parquetCell{s: strconv.FormatUint(uint64(v.Uint32()), 10)}, true
	case c.col.kind == pqUint && k == parquet.Int64:
		return parquetCell{s: strconv.FormatUint(v.Uint64(), 10)}, true
	}
	return parquetCell{}, false
}

// readRowGroup adds the rows of row group g to b, decoding the used
// columns side by side, parquetChunkRows at a time; first is the group's
// first row in the file. It returns the group's number of rows.
func readRowGroup(b *builder, pf *parquet.File, g int, cols [3]*parquetColumn, first int64, where *string) (int64, error) {
	path := b.ds.Path
	rg, meta := pf.RowGroups()[g], pf.Metadata().RowGroups[g]
	n := rg.NumRows()
	if n < 0 {
		return 0, corruptf("%s: row group %d claims %d rows; the file is damaged: write or download it again", path, g, n)
	}
	chunks := rg.ColumnChunks()
	var cursors [3]*parquetCursor
	for i, col := range cols {
		if col == nil {
			continue
		}
		if col.index >= len(chunks) || col.index >= len(meta.Columns) {
			return 0, corruptf("%s: row group %d has %d column chunks, not one for %s; the file is damaged: write or download it again", path, g, len(chunks), col.desc)
		}
		// The library reads a chunk's pages from the byte range its
		// metadata gives; one outside the file is damage, said here
		// rather than as a short read.
		cm := meta.Columns[col.index].MetaData
		start := cm.DataPageOffset
		if cm.DictionaryPageOffset != 0 {
			start = cm.DictionaryPageOffset
		}
		if start < 4 || cm.TotalCompressedSize < 0 || cm.TotalCompressedSize > pf.Size()-8-start {
			return 0, corruptf("%s: row group %d: %s claims bytes %d to %d of a %d-byte file; the file is damaged: write or download it again", path, g, col.desc, start, start+cm.TotalCompressedSize, pf.Size())
		}
		cursors[i] = &parquetCursor{col: col, r: parquet.NewColumnChunkValueReader(chunks[col.index])}
		defer cursors[i].r.Close()
	}
	var cells [3][]parquetCell
	for done := int64(0); done < n; {
		k := int(min(n-done, parquetChunkRows))
		for i, c := range cursors {
			if c == nil {
				continue
			}
			*where = fmt.Sprintf("row group %d, %s, in rows %d to %d", g, c.col.desc, done, done+int64(k)-1)
			var err error
			if cells[i], err = c.next(cells[i][:0], k); err != nil {
				return 0, corruptf("%s: row group %d, %s, in rows %d to %d: %v; the file is damaged: write or download it again", path, g, c.col.desc, done, done+int64(k)-1, err)
			}
			if len(cells[i]) < k {
				return 0, corruptf("%s: row group %d: %s ends after %d of the group's %d rows; the file is damaged: write or download it again", path, g, c.col.desc, done+int64(len(cells[i])), n)
			}
		}
		for j := range k {
			if err := addParquetRow(b, cols, &cells, j, int(first+done)+j+1); err != nil {
				return 0, err
			}
		}
		done += int64(k)
	}
	for _, c := range cursors {
		if c == nil {
			continue
		}
		*where = fmt.Sprintf("row group %d, %s, past its last row", g, c.col.desc)
		if extra, err := c.next(nil, 1); err != nil || len(extra) > 0 {
			return 0, corruptf("%s: row group %d: %s has more values than the group's %d rows; the file is damaged: write or download it again", path, g, c.col.desc, n)
		}
	}
	return n, nil
}

// addParquetRow hands row j of the decoded cells to b; line is its 1-based
// row in the file.
func addParquetRow(b *builder, cols [3]*parquetColumn, cells *[3][]parquetCell, j, line int) error {
	r := row{line: line, textName: cols[0].desc, labelName: fmt.Sprintf("column %q", orDefault(b.opts.LabelColumn, "label"))}
	text := cells[0][j]
	if text.null {
		return b.bad(line, "null in %s; remove the row or fill it in", cols[0].desc)
	}
	r.text = text.s
	if cols[1] != nil {
		r.pairName = cols[1].desc
		pair := cells[1][j]
		if pair.null {
			return b.bad(line, "null in %s (the text pair); remove the row or fill it in", cols[1].desc)
		}
		r.pair = pair.s
	}
	if cols[2] != nil {
		if label := cells[2][j]; !label.null {
			r.label, r.hasLabel = label.s, true
		}
	}
	return b.add(r)
}
