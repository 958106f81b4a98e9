package cachefmt

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
)

// Cache reads a cache directory: the shards listed in its manifest, as one sequence of rows.
// Global row i is row i - start(s) of shard s. Its methods are safe for concurrent use.
type Cache struct {
	dir    string
	m      *Manifest
	shards []*Reader
	start  []int // first global row of each shard, then the row count
}

// OpenCache opens the cache in dir if it was built for want. A cache built for anything else
// is refused with an error wrapping ErrStale that names the fields that differ; a missing
// manifest or shard gives ErrMissing, a damaged one ErrCorrupt. Chunks are checked as they are
// read; run Verify to check them all first.
//
// opts.CacheBytes is shared by all shards; opts.InMemory decodes every shard now.
func OpenCache(dir string, want Fingerprint, opts *ReaderOptions) (*Cache, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	if m.Fingerprint != want {
		return nil, staleError(filepath.Join(dir, ManifestName), m.Fingerprint, want)
	}
	var o ReaderOptions
	if opts != nil {
		o = *opts
	}
	if o.cache == nil {
		max := o.CacheBytes
		if max == 0 {
			max = 64 << 20
		}
		o.cache = newGroupCache(max)
	}
	c := &Cache{dir: dir, m: m, start: make([]int, 1, len(m.Shards)+1)}
	for _, s := range m.Shards {
		path := filepath.Join(dir, s.File)
		so := o
		so.Name = path
		r, err := Open(path, &so)
		if err == nil {
			err = checkHeader(r, s, m)
		}
		if err != nil {
			if r != nil {
				r.Close()
			}
			c.Close()
			return nil, err
		}
		c.shards = append(c.shards, r)
		c.start = append(c.start, c.start[len(c.start)-1]+r.Rows())
	}
	return c, nil
}

// checkHeader checks that an open shard is the one the manifest describes.
func checkHeader(r *Reader, s ShardInfo, m *Manifest) error {
	h := r.Header()
	switch {
	case h.Fingerprint != m.Fingerprint.Sum():
		return &Error{Kind: ErrStale, File: r.name, Offset: 24, Where: "header",
			Err: fmt.Errorf("the shard was built for fingerprint %x, the manifest is for %s", h.Fingerprint, m.FingerprintHash)}
	case r.Size() != s.Bytes:
		return corruptf(r.name, -1, "", "%d bytes, manifest says %d", r.Size(), s.Bytes)
	case h.Dtype != m.Dtype || h.Hidden != m.Hidden:
		return corruptf(r.name, 12, "header", "%v × %d, manifest says %v × %d", h.Dtype, h.Hidden, m.Dtype, m.Hidden)
	case int64(r.Rows()) != s.Rows || r.Tokens() != s.Tokens:
		return corruptf(r.name, -1, "", "%d rows and %d tokens, manifest says %d and %d", r.Rows(), r.Tokens(), s.Rows, s.Tokens)
	}
	return nil
}

// checkShard checks a shard file completely: presence, header against the manifest, every
// chunk, and (when sum is set) its SHA-256.
func checkShard(dir string, s ShardInfo, m *Manifest, sum bool) error {
	path := filepath.Join(dir, s.File)
	r, err := Open(path, &ReaderOptions{CacheBytes: -1})
	if err != nil {
		return err
	}
	defer r.Close()
	if err := checkHeader(r, s, m); err != nil {
		return err
	}
	if err := r.Verify(); err != nil {
		return err
	}
	if !sum {
		return nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(r.ra, 0, r.size)); err != nil {
		return ioError(path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != s.SHA256 {
		return &Error{Kind: ErrChecksum, File: path, Offset: -1,
			Err: fmt.Errorf("SHA-256 %s, manifest says %s", got, s.SHA256)}
	}
	return nil
}

// Verify checks the cache in dir completely: the manifest, and every shard's presence, size,
// SHA-256, header and chunk checksums. With want set it first checks the fingerprint.
//
// The error wraps ErrStale (built for other inputs, or a shard from another build),
// ErrMissing (manifest or shard absent), ErrVersion, or ErrCorrupt (anything else). All
// shards are checked and their errors joined; when mapping to one exit status, test in that
// order: stale, missing, corrupt.
func Verify(dir string, want *Fingerprint) error {
	m, err := ReadManifest(dir)
	if err != nil {
		return err
	}
	if want != nil && m.Fingerprint != *want {
		return staleError(filepath.Join(dir, ManifestName), m.Fingerprint, *want)
	}
	var errs []error
	for _, s := range m.Shards {
		if err := checkShard(dir, s, m, true); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Manifest returns the cache's manifest.
func (c *Cache) Manifest() *Manifest { return c.m }

// Rows returns the number of rows over all shards.
func (c *Cache) Rows() int { return c.start[len(c.start)-1] }

// Shards returns the shard readers, in manifest order.
func (c *Cache) Shards() []*Reader { return c.shards }

// Hidden returns the floats per token.
func (c *Cache) Hidden() int { return c.m.Hidden }

// DecodedBytes is the memory all shards take once decoded.
func (c *Cache) DecodedBytes() int64 {
	var n int64
	for _, r := range c.shards {
		n += r.DecodedBytes()
	}
	return n
}

// Locate maps global row i to its shard and the row within it.
func (c *Cache) Locate(i int) (shard, row int, err error) {
	if i < 0 || i >= c.Rows() {
		return 0, 0, fmt.Errorf("cachefmt: %s: row %d out of range [0, %d)", c.dir, i, c.Rows())
	}
	s := sort.Search(len(c.shards), func(s int) bool { return c.start[s+1] > i })
	return s, i - c.start[s], nil
}

// ReadRow reads global row i into dst, reusing dst.Hidden's memory.
func (c *Cache) ReadRow(i int, dst *Row) error {
	s, j, err := c.Locate(i)
	if err != nil {
		return err
	}
	return c.shards[s].ReadRow(j, dst)
}

// Row reads global row i into a new Row.
func (c *Cache) Row(i int) (Row, error) {
	var row Row
	err := c.ReadRow(i, &row)
	return row, err
}

// Close closes every shard.
func (c *Cache) Close() error {
	var errs []error
	for _, r := range c.shards {
		errs = append(errs, r.Close())
	}
	c.shards = nil
	return errors.Join(errs...)
}

// VerifyFile checks one shard file completely: header, trailer, index and every chunk.
func VerifyFile(path string) error {
	r, err := Open(path, &ReaderOptions{CacheBytes: -1})
	if err != nil {
		return err
	}
	defer r.Close()
	return r.Verify()
}
