package cachefmt

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// FormatVersion numbers the shard file and manifest formats (see FORMAT.md, "Versions").
type FormatVersion uint32

const (
	// FormatV1 is the first format.
	FormatV1 FormatVersion = 1
	// FormatMinSupported is the oldest version this package reads.
	FormatMinSupported = FormatV1
	// FormatLatest is the version this package writes.
	FormatLatest = FormatV1
)

// Sizes and limits fixed by FORMAT.md.
const (
	headerSize  = 64
	trailerSize = 52
	entrySize   = 52 // one index entry
	chunkExtra  = 5  // codec byte + CRC-32C
	blockHeader = 5  // block mode + size
	planeBlock  = 1 << 17
	// MaxHidden is the largest hidden size a file may declare.
	MaxHidden = 1 << 20
	// emptyFileSize is header + empty index + trailer.
	emptyFileSize = headerSize + 4 + trailerSize
)

const magic = "\x89AFC\r\n\x1a\n"

// Column order inside a row group.
const (
	colIDs = iota
	colLabels
	colTokens
	colHidden
	numColumns
)

var columnNames = [numColumns]string{"ids", "labels", "tokens", "hidden"}

// Chunk codecs and block modes.
const (
	codecPlain  byte = 0
	codecPlanes byte = 1
	blockRaw    byte = 0
	blockHuff   byte = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// Dtype is the element type of the stored hidden states.
type Dtype uint8

const (
	Float32  Dtype = 1 // IEEE binary32, stored exactly
	Float16  Dtype = 2 // IEEE binary16, rounded to nearest even
	BFloat16 Dtype = 3 // bfloat16, rounded to nearest even
)

// Size is the element size in bytes, 0 for an unknown Dtype.
func (d Dtype) Size() int {
	switch d {
	case Float32:
		return 4
	case Float16, BFloat16:
		return 2
	}
	return 0
}

func (d Dtype) String() string {
	switch d {
	case Float32:
		return "fp32"
	case Float16:
		return "fp16"
	case BFloat16:
		return "bf16"
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// ParseDtype accepts "fp32", "fp16" and "bf16" (and "float32", "float16", "bfloat16").
func ParseDtype(s string) (Dtype, error) {
	switch s {
	case "fp32", "float32", "f32":
		return Float32, nil
	case "fp16", "float16", "f16", "half":
		return Float16, nil
	case "bf16", "bfloat16":
		return BFloat16, nil
	}
	return 0, fmt.Errorf("cachefmt: unknown dtype %q (want fp32, fp16 or bf16)", s)
}

func (d Dtype) MarshalText() ([]byte, error) {
	if d.Size() == 0 {
		return nil, fmt.Errorf("cachefmt: cannot marshal %v", d)
	}
	return []byte(d.String()), nil
}

func (d *Dtype) UnmarshalText(b []byte) error {
	v, err := ParseDtype(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Header is what a shard file declares about itself.
type Header struct {
	Version     FormatVersion
	Dtype       Dtype
	Hidden      int      // floats per token
	GroupRows   int      // the most rows in any row group
	Fingerprint [32]byte // SHA-256 of the cache fingerprint, zero if none
}

func (h *Header) marshal() []byte {
	b := make([]byte, headerSize)
	copy(b, magic)
	binary.LittleEndian.PutUint32(b[8:], uint32(h.Version))
	b[12] = byte(h.Dtype)
	binary.LittleEndian.PutUint32(b[16:], uint32(h.Hidden))
	binary.LittleEndian.PutUint32(b[20:], uint32(h.GroupRows))
	copy(b[24:56], h.Fingerprint[:])
	binary.LittleEndian.PutUint32(b[60:], crc(b[:60]))
	return b
}

// parseHeader checks magic, checksum and version in that order, so that a damaged version
// field reads as corruption and only an intact unknown version as ErrVersion.
func parseHeader(name string, b []byte) (Header, error) {
	var h Header
	if string(b[:8]) != magic {
		return h, corruptf(name, 0, "header", "bad magic % x", b[:8])
	}
	if got, want := crc(b[:60]), binary.LittleEndian.Uint32(b[60:]); got != want {
		return h, checksumError(name, 0, "header", got, want)
	}
	h.Version = FormatVersion(binary.LittleEndian.Uint32(b[8:]))
	if h.Version < FormatMinSupported || h.Version > FormatLatest {
		return h, &Error{Kind: ErrVersion, File: name, Offset: 8, Where: "header",
			Err: fmt.Errorf("version %d, this reader supports %d to %d", h.Version, FormatMinSupported, FormatLatest)}
	}
	h.Dtype = Dtype(b[12])
	hidden := binary.LittleEndian.Uint32(b[16:])
	groupRows := binary.LittleEndian.Uint32(b[20:])
	copy(h.Fingerprint[:], b[24:56])
	switch {
	case h.Dtype.Size() == 0:
		return h, corruptf(name, 12, "header", "unknown dtype %d", b[12])
	case b[13] != 0 || b[14] != 0 || b[15] != 0 || binary.LittleEndian.Uint32(b[56:]) != 0:
		return h, corruptf(name, 13, "header", "reserved bytes are not zero")
	case hidden == 0 || hidden > MaxHidden:
		return h, corruptf(name, 16, "header", "hidden size %d out of range [1, %d]", hidden, MaxHidden)
	case groupRows == 0:
		return h, corruptf(name, 20, "header", "group_rows is 0")
	}
	h.Hidden, h.GroupRows = int(hidden), int(groupRows)
	return h, nil
}

// trailer is the fixed-size tail of a shard file.
type trailer struct {
	indexOffset, indexLen, rows, groups, tokens uint64
}

func (t *trailer) marshal() []byte {
	b := make([]byte, trailerSize)
	binary.LittleEndian.PutUint64(b[0:], t.indexOffset)
	binary.LittleEndian.PutUint64(b[8:], t.indexLen)
	binary.LittleEndian.PutUint64(b[16:], t.rows)
	binary.LittleEndian.PutUint64(b[24:], t.groups)
	binary.LittleEndian.PutUint64(b[32:], t.tokens)
	binary.LittleEndian.PutUint32(b[40:], crc(b[:40]))
	copy(b[44:], magic)
	return b
}

func parseTrailer(name string, size int64, b []byte) (trailer, error) {
	var t trailer
	off := size - trailerSize
	if string(b[44:]) != magic {
		return t, corruptf(name, off+44, "trailer", "bad magic % x (truncated or not a cache file)", b[44:])
	}
	if got, want := crc(b[:40]), binary.LittleEndian.Uint32(b[40:]); got != want {
		return t, checksumError(name, off, "trailer", got, want)
	}
	t = trailer{
		indexOffset: binary.LittleEndian.Uint64(b[0:]),
		indexLen:    binary.LittleEndian.Uint64(b[8:]),
		rows:        binary.LittleEndian.Uint64(b[16:]),
		groups:      binary.LittleEndian.Uint64(b[24:]),
		tokens:      binary.LittleEndian.Uint64(b[32:]),
	}
	// Compare before any multiplication so nothing overflows.
	switch {
	case t.indexOffset < headerSize || t.indexOffset > uint64(off):
		return t, corruptf(name, off, "trailer", "index offset %d outside [%d, %d]", t.indexOffset, headerSize, off)
	case t.indexLen != uint64(off)-t.indexOffset:
		return t, corruptf(name, off, "trailer", "index length %d, but %d bytes lie between index and trailer", t.indexLen, uint64(off)-t.indexOffset)
	case t.groups > t.indexLen/entrySize || t.groups*entrySize+4 != t.indexLen:
		return t, corruptf(name, off, "trailer", "index length %d does not hold %d row groups", t.indexLen, t.groups)
	}
	return t, nil
}

// entry is one row group's index entry.
type entry struct {
	offset uint64
	rows   uint32
	tokens uint64
	lens   [numColumns]uint64
}

func (e *entry) appendTo(b []byte) []byte {
	b = binary.LittleEndian.AppendUint64(b, e.offset)
	b = binary.LittleEndian.AppendUint32(b, e.rows)
	b = binary.LittleEndian.AppendUint64(b, e.tokens)
	for _, l := range e.lens {
		b = binary.LittleEndian.AppendUint64(b, l)
	}
	return b
}

func parseEntry(b []byte) entry {
	e := entry{
		offset: binary.LittleEndian.Uint64(b[0:]),
		rows:   binary.LittleEndian.Uint32(b[8:]),
		tokens: binary.LittleEndian.Uint64(b[12:]),
	}
	for c := range e.lens {
		e.lens[c] = binary.LittleEndian.Uint64(b[20+8*c:])
	}
	return e
}

// size is the row group's stored length; valid only after validation (no overflow then).
func (e *entry) size() uint64 { return e.lens[0] + e.lens[1] + e.lens[2] + e.lens[3] }

// plainLen is the stored length of a plain column chunk of rows values.
func plainLen(col int, rows uint64) uint64 {
	if col == colIDs {
		return chunkExtra + 8*rows
	}
	return chunkExtra + 4*rows
}
