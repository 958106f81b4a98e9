package cachefmt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
)

// WriterOptions configures a Writer. The zero value means the defaults.
type WriterOptions struct {
	// Dtype of the stored hidden states; 0 means Float16.
	Dtype Dtype
	// GroupBytes is the most element bytes a row group holds before it is written (a single
	// larger row still gets a group of its own); 0 means 256 KiB. Smaller groups waste less
	// decoding when rows are read in a random order.
	GroupBytes int
	// GroupRows is the most rows in a row group; 0 means 4096.
	GroupRows int
	// Store skips Huffman coding: bigger files, faster writes.
	Store bool
	// Fingerprint goes into the header (FORMAT.md); zero when not part of a cache.
	Fingerprint [32]byte
	// Name names the output in errors and logs.
	Name string
	// Logger receives one debug line per row group; nil means discard.
	Logger *slog.Logger
}

// WriterStats describes what a Writer wrote.
type WriterStats struct {
	Rows, Tokens, Groups uint64
	Bytes                int64    // file size
	RawBlocks, HufBlocks int      // plane blocks stored raw and Huffman-coded
	SHA256               [32]byte // of the whole file; set by Create and CreateShard only
}

// Writer streams rows into the shard format: header first, a row group whenever one fills,
// index and trailer on Close. It never seeks, so it can write to a pipe.
type Writer struct {
	w      io.Writer
	name   string
	h      Header
	elem   int
	opts   WriterOptions
	log    *slog.Logger
	enc    planeEncoder
	st     WriterStats
	index  []byte
	err    error // sticky: once set, every call returns it
	closed bool

	// The row group being filled.
	ids, labels, toks []byte
	planes            [][]byte
	n                 int // elements in planes
	gRows             int
	gTokens           uint64
	buf               []byte

	onClose func(*Writer) error // publishing, for files made by Create
	onAbort func() error
}

// NewWriter writes the header to w and returns a Writer for rows of hidden floats per token.
// Close finishes the file but does not close w.
func NewWriter(w io.Writer, hidden int, opts *WriterOptions) (*Writer, error) {
	var o WriterOptions
	if opts != nil {
		o = *opts
	}
	if o.Dtype == 0 {
		o.Dtype = Float16
	}
	if o.GroupBytes <= 0 {
		o.GroupBytes = 256 << 10
	}
	if o.GroupRows <= 0 {
		o.GroupRows = 4096
	}
	switch {
	case o.Dtype.Size() == 0:
		return nil, fmt.Errorf("cachefmt: %s: unknown dtype %d", o.Name, o.Dtype)
	case hidden <= 0 || hidden > MaxHidden:
		return nil, fmt.Errorf("cachefmt: %s: hidden size %d out of range [1, %d]", o.Name, hidden, MaxHidden)
	case o.GroupRows > math.MaxUint32:
		return nil, fmt.Errorf("cachefmt: %s: GroupRows %d too large", o.Name, o.GroupRows)
	}
	wr := &Writer{
		w: w, name: o.Name, opts: o, elem: o.Dtype.Size(), log: o.Logger,
		h:      Header{Version: FormatLatest, Dtype: o.Dtype, Hidden: hidden, GroupRows: o.GroupRows, Fingerprint: o.Fingerprint},
		planes: make([][]byte, o.Dtype.Size()),
		enc:    planeEncoder{store: o.Store},
	}
	if wr.log == nil {
		wr.log = slog.New(slog.DiscardHandler)
	}
	if wr.write(wr.h.marshal()); wr.err != nil {
		return nil, wr.err
	}
	return wr, nil
}

// Header returns the header the Writer wrote.
func (w *Writer) Header() Header { return w.h }

// Append adds one row: its example id, label and hidden states, len(hidden)/Hidden tokens
// of Hidden floats each, token-major. The floats are rounded to the file's dtype (ties to even).
func (w *Writer) Append(id uint64, label int32, hidden []float32) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return fmt.Errorf("cachefmt: %s: Append after Close", w.name)
	}
	if len(hidden)%w.h.Hidden != 0 {
		return fmt.Errorf("cachefmt: %s: row %d has %d floats, not a multiple of hidden size %d", w.name, w.st.Rows+uint64(w.gRows), len(hidden), w.h.Hidden)
	}
	tokens := len(hidden) / w.h.Hidden
	if tokens > math.MaxUint32 {
		return fmt.Errorf("cachefmt: %s: row with %d tokens", w.name, tokens)
	}
	if w.gRows > 0 && (w.gRows >= w.opts.GroupRows || (w.n+len(hidden))*w.elem > w.opts.GroupBytes) {
		if err := w.flush(); err != nil {
			return err
		}
	}
	w.ids = binary.LittleEndian.AppendUint64(w.ids, id)
	w.labels = binary.LittleEndian.AppendUint32(w.labels, uint32(label))
	w.toks = binary.LittleEndian.AppendUint32(w.toks, uint32(tokens))
	for p := range w.planes {
		w.planes[p] = slices.Grow(w.planes[p][:w.n], len(hidden))[:w.n+len(hidden)]
	}
	splitInto(w.h.Dtype, w.planes, w.n, hidden)
	w.n += len(hidden)
	w.gRows++
	w.gTokens += uint64(tokens)
	return nil
}

// flush encodes and writes the row group being filled.
func (w *Writer) flush() error {
	if w.gRows == 0 {
		return w.err
	}
	e := entry{offset: uint64(w.st.Bytes), rows: uint32(w.gRows), tokens: w.gTokens}
	b := w.buf[:0]
	for c, vals := range [][]byte{w.ids, w.labels, w.toks} {
		start := len(b)
		b = appendPlain(b, vals)
		e.lens[c] = uint64(len(b) - start)
	}
	start := len(b)
	b = w.enc.appendChunk(b, w.planes, w.n)
	e.lens[colHidden] = uint64(len(b) - start)
	w.buf = b
	w.write(b)
	w.index = e.appendTo(w.index)
	w.st.Rows += uint64(w.gRows)
	w.st.Tokens += w.gTokens
	w.st.Groups++
	w.log.Debug("cachefmt: row group written", "file", w.name, "group", w.st.Groups-1,
		"rows", w.gRows, "tokens", w.gTokens, "raw_bytes", w.n*w.elem, "stored_bytes", len(b))
	w.ids, w.labels, w.toks = w.ids[:0], w.labels[:0], w.toks[:0]
	w.n, w.gRows, w.gTokens = 0, 0, 0
	return w.err
}

func (w *Writer) write(b []byte) {
	if w.err != nil {
		return
	}
	n, err := w.w.Write(b)
	w.st.Bytes += int64(n)
	if err != nil {
		w.err = &Error{File: w.name, Offset: w.st.Bytes, Err: err}
	}
}

// Close writes the last row group, the index and the trailer. For a Writer made by Create
// or CreateShard it then publishes the file under its final name; on any error the file is
// discarded and nothing appears under that name.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if err := w.finish(); err != nil {
		w.err = err
		if w.onAbort != nil {
			w.onAbort()
		}
		return err
	}
	if w.onClose != nil {
		if err := w.onClose(w); err != nil {
			w.err = err
			return err
		}
	}
	return nil
}

func (w *Writer) finish() error {
	if w.err != nil {
		return w.err
	}
	if err := w.flush(); err != nil {
		return err
	}
	t := trailer{indexOffset: uint64(w.st.Bytes), rows: w.st.Rows, groups: w.st.Groups, tokens: w.st.Tokens}
	w.index = binary.LittleEndian.AppendUint32(w.index, crc(w.index))
	t.indexLen = uint64(len(w.index))
	w.write(w.index)
	w.write(t.marshal())
	w.st.RawBlocks, w.st.HufBlocks = w.enc.raw, w.enc.huffs
	return w.err
}

// Abort abandons the output. For a Writer made by Create it removes the temporary file.
func (w *Writer) Abort() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.err = errAborted
	if w.onAbort != nil {
		return w.onAbort()
	}
	return nil
}

var errAborted = errors.New("cachefmt: writer aborted")

// Stats returns what has been written so far; complete after Close.
func (w *Writer) Stats() WriterStats { return w.st }
