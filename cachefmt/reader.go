package cachefmt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/bits"
	"os"
	"slices"
	"sort"
)

// ReaderOptions configures a Reader. The zero value means the defaults.
type ReaderOptions struct {
	// CacheBytes bounds the decoded row groups kept for reuse; 0 means 64 MiB, negative
	// means none are kept.
	CacheBytes int64
	// InMemory decodes every row group when the file is opened and keeps them all, so later
	// reads never touch the file. Check DecodedBytes against the memory you have first.
	InMemory bool
	// Name names the file in errors; Open sets it to the path.
	Name string
	// Logger; nil means discard.
	Logger *slog.Logger

	cache *groupCache // shared by the shards of a Cache
}

// Row is one example. Hidden holds Tokens·Hidden floats, token-major.
type Row struct {
	ID     uint64
	Label  int32
	Tokens int
	Hidden []float32
}

// Reader reads one shard file. Its methods are safe for concurrent use.
type Reader struct {
	ra      io.ReaderAt
	closer  io.Closer
	name    string
	size    int64
	h       Header
	t       trailer
	entries []entry
	first   []int // first row of each group, then the row count
	cache   *groupCache
	pinned  []*group // InMemory
	log     *slog.Logger
}

// Open opens a shard file and checks its header, trailer and index.
func Open(path string, opts *ReaderOptions) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &Error{Kind: ErrMissing, File: path, Offset: -1, Err: err}
		}
		return nil, ioError(path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, ioError(path, err)
	}
	var o ReaderOptions
	if opts != nil {
		o = *opts
	}
	if o.Name == "" {
		o.Name = path
	}
	r, err := NewReader(f, fi.Size(), &o)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// NewReader reads a shard file of size bytes from ra. It checks the header, trailer and
// index; chunks are checked when they are first read (or all at once by Verify).
func NewReader(ra io.ReaderAt, size int64, opts *ReaderOptions) (*Reader, error) {
	var o ReaderOptions
	if opts != nil {
		o = *opts
	}
	r := &Reader{ra: ra, name: o.Name, size: size, log: o.Logger, cache: o.cache}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.cache == nil {
		max := o.CacheBytes
		if max == 0 {
			max = 64 << 20
		}
		r.cache = newGroupCache(max)
	}
	if err := r.readMeta(); err != nil {
		return nil, err
	}
	if o.InMemory {
		r.pinned = make([]*group, len(r.entries))
		for g := range r.entries {
			grp, err := r.readGroup(g)
			if err != nil {
				return nil, err
			}
			r.pinned[g] = grp
		}
	}
	return r, nil
}

func (r *Reader) readAt(b []byte, off int64, where string) error {
	n, err := r.ra.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return corruptf(r.name, off, where, "file ends after %d of %d bytes", n, len(b))
	}
	return ioError(r.name, err)
}

func (r *Reader) readMeta() error {
	if r.size < emptyFileSize {
		return corruptf(r.name, -1, "", "%d bytes, shorter than the smallest cache file (%d)", r.size, emptyFileSize)
	}
	var hb [headerSize]byte
	if err := r.readAt(hb[:], 0, "header"); err != nil {
		return err
	}
	h, err := parseHeader(r.name, hb[:])
	if err != nil {
		return err
	}
	r.h = h
	var tb [trailerSize]byte
	if err := r.readAt(tb[:], r.size-trailerSize, "trailer"); err != nil {
		return err
	}
	if r.t, err = parseTrailer(r.name, r.size, tb[:]); err != nil {
		return err
	}
	// The trailer's checks bound indexLen by the file size, so this allocation is safe.
	idx := make([]byte, r.t.indexLen)
	if err := r.readAt(idx, int64(r.t.indexOffset), "index"); err != nil {
		return err
	}
	body := idx[:len(idx)-4]
	if got, want := crc(body), binary.LittleEndian.Uint32(idx[len(body):]); got != want {
		return checksumError(r.name, int64(r.t.indexOffset), "index", got, want)
	}
	return r.checkIndex(body)
}

// checkIndex validates every entry against the header, the trailer and the file layout.
func (r *Reader) checkIndex(body []byte) error {
	groups := int(r.t.groups)
	r.entries = make([]entry, groups)
	r.first = make([]int, groups+1)
	pos := uint64(headerSize)
	var rows, tokens uint64
	elemBytes := uint64(r.h.Hidden * r.h.Dtype.Size())
	for g := range groups {
		e := parseEntry(body[g*entrySize:])
		off := int64(r.t.indexOffset) + int64(g*entrySize)
		where := fmt.Sprintf("index entry %d", g)
		if e.offset != pos {
			return corruptf(r.name, off, where, "row group at offset %d, want %d", e.offset, pos)
		}
		if e.rows == 0 || uint64(e.rows) > uint64(r.h.GroupRows) {
			return corruptf(r.name, off, where, "%d rows, want 1 to %d", e.rows, r.h.GroupRows)
		}
		for c := range colHidden {
			if want := plainLen(c, uint64(e.rows)); e.lens[c] != want {
				return corruptf(r.name, off, where, "%s chunk of %d bytes, want %d", columnNames[c], e.lens[c], want)
			}
		}
		if e.lens[colHidden] < chunkExtra {
			return corruptf(r.name, off, where, "hidden chunk of %d bytes", e.lens[colHidden])
		}
		for c, l := range e.lens {
			if l > r.t.indexOffset-pos {
				return corruptf(r.name, off, where, "%s chunk of %d bytes runs past the index", columnNames[c], l)
			}
			pos += l
		}
		// Every Huffman symbol costs at least a bit, so the decoded hidden column is at most
		// eight times its stored payload (FORMAT.md). Checked here, before anything is allocated.
		hi, raw := bits.Mul64(e.tokens, elemBytes)
		if hi != 0 || raw/8+min(raw%8, 1) > e.lens[colHidden]-chunkExtra {
			return corruptf(r.name, off, where, "%d tokens cannot fit in a hidden chunk of %d bytes", e.tokens, e.lens[colHidden])
		}
		r.entries[g] = e
		r.first[g] = int(rows)
		rows += uint64(e.rows)
		tokens += e.tokens
	}
	r.first[groups] = int(rows)
	switch {
	case pos != r.t.indexOffset:
		return corruptf(r.name, int64(pos), "index", "row groups end at %d, index starts at %d", pos, r.t.indexOffset)
	case rows != r.t.rows:
		return corruptf(r.name, r.size-trailerSize, "trailer", "%d rows, index holds %d", r.t.rows, rows)
	case tokens != r.t.tokens:
		return corruptf(r.name, r.size-trailerSize, "trailer", "%d tokens, index holds %d", r.t.tokens, tokens)
	}
	return nil
}

// Header returns the file's header.
func (r *Reader) Header() Header { return r.h }

// Name returns the file name used in errors.
func (r *Reader) Name() string { return r.name }

// Rows returns the number of rows.
func (r *Reader) Rows() int { return r.first[len(r.entries)] }

// Tokens returns the number of tokens over all rows.
func (r *Reader) Tokens() int64 { return int64(r.t.tokens) }

// Groups returns the number of row groups.
func (r *Reader) Groups() int { return len(r.entries) }

// Size returns the file size in bytes.
func (r *Reader) Size() int64 { return r.size }

// DecodedBytes is the memory all row groups take once decoded: what InMemory costs.
func (r *Reader) DecodedBytes() int64 {
	return int64(r.t.tokens)*int64(r.h.Hidden*r.h.Dtype.Size()) + int64(r.t.rows)*groupRowBytes
}

// Close releases the file (when Open opened it) and the decoded groups.
func (r *Reader) Close() error {
	r.cache.drop(r)
	r.pinned = nil
	if r.closer != nil {
		return r.closer.Close()
	}
	return nil
}

// ReadRow reads row i into dst, reusing dst.Hidden's memory when it is large enough.
func (r *Reader) ReadRow(i int, dst *Row) error {
	if i < 0 || i >= r.Rows() {
		return fmt.Errorf("cachefmt: %s: row %d out of range [0, %d)", r.name, i, r.Rows())
	}
	g := sort.Search(len(r.entries), func(g int) bool { return r.first[g+1] > i })
	grp, err := r.group(g)
	if err != nil {
		return err
	}
	j := i - r.first[g]
	dst.ID, dst.Label, dst.Tokens = grp.ids[j], grp.labels[j], int(grp.tokens[j])
	lo, hi := grp.start[j], grp.start[j+1]
	dst.Hidden = slices.Grow(dst.Hidden[:0], hi-lo)[:hi-lo]
	mergeFrom(r.h.Dtype, grp.planes, lo, dst.Hidden)
	return nil
}

// Row reads row i into a new Row.
func (r *Reader) Row(i int) (Row, error) {
	var row Row
	err := r.ReadRow(i, &row)
	return row, err
}

// Verify reads and checks every chunk of the file, without caching what it decodes.
func (r *Reader) Verify() error {
	for g := range r.entries {
		if _, err := r.readGroup(g); err != nil {
			return err
		}
	}
	return nil
}

func (r *Reader) group(g int) (*group, error) {
	if r.pinned != nil {
		return r.pinned[g], nil
	}
	return r.cache.get(groupKey{r, g}, func() (*group, error) { return r.readGroup(g) })
}
