package cachefmt

import (
	"errors"
	"fmt"
	"strings"
)

// The kinds of failure a caller may want to tell apart. Errors returned by this package wrap
// one of them (test with errors.Is) inside an *Error that names the file.
var (
	// ErrCorrupt: a file's bytes are not a valid cache (bad checksum, bad length, truncated).
	ErrCorrupt = errors.New("cachefmt: corrupt cache")
	// ErrChecksum: a stored CRC-32C does not match. It wraps ErrCorrupt.
	ErrChecksum error = &kindError{"cachefmt: checksum mismatch", ErrCorrupt}
	// ErrVersion: an intact file or manifest of a format version this package cannot read.
	ErrVersion = errors.New("cachefmt: unsupported format version")
	// ErrStale: an intact cache built for different inputs (its fingerprint differs).
	ErrStale = errors.New("cachefmt: stale cache")
	// ErrMissing: the manifest, a shard or a shard's fragment is absent.
	ErrMissing = errors.New("cachefmt: missing cache file")
)

// kindError is a sentinel that wraps a broader sentinel, so ErrChecksum is also ErrCorrupt.
type kindError struct {
	msg    string
	parent error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.parent }

// Error is a failure tied to one file. Kind is one of the sentinels above, or nil for an I/O
// error from the operating system (then Err says what).
type Error struct {
	Kind   error
	File   string
	Offset int64  // byte offset of the damaged part, or -1
	Where  string // which part of the file, such as "row group 3, hidden chunk"
	Err    error  // the detail, may be nil
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Kind != nil {
		b.WriteString(e.Kind.Error())
	} else {
		b.WriteString("cachefmt")
	}
	b.WriteString(": ")
	b.WriteString(e.File)
	if e.Where != "" {
		b.WriteString(": ")
		b.WriteString(e.Where)
	}
	if e.Offset >= 0 {
		fmt.Fprintf(&b, " at offset %d", e.Offset)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

func corruptf(file string, off int64, where, format string, args ...any) error {
	return &Error{Kind: ErrCorrupt, File: file, Offset: off, Where: where, Err: fmt.Errorf(format, args...)}
}

func checksumError(file string, off int64, where string, got, want uint32) error {
	return &Error{Kind: ErrChecksum, File: file, Offset: off, Where: where,
		Err: fmt.Errorf("stored CRC-32C %08x, computed %08x", want, got)}
}

func ioError(file string, err error) error {
	return &Error{File: file, Offset: -1, Err: err}
}
