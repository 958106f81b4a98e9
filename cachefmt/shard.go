package cachefmt

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// CreateShard starts shard i of n of the cache in dir for the activations fp describes. The
// file's dtype is fp.Dtype. Close publishes the shard, then its fragment; Combine turns the n
// fragments into the manifest. Jobs that build shards need not share anything but dir.
func CreateShard(dir string, i, n int, fp Fingerprint, hidden int, opts *WriterOptions) (*Writer, error) {
	var o WriterOptions
	if opts != nil {
		o = *opts
	}
	switch {
	case n < 1 || i < 0 || i >= n:
		return nil, fmt.Errorf("cachefmt: shard %d of %d: want 0 <= shard < count", i, n)
	case fp.Dtype.Size() == 0:
		return nil, fmt.Errorf("cachefmt: fingerprint has no valid dtype (%v)", fp.Dtype)
	case o.Dtype != 0 && o.Dtype != fp.Dtype:
		return nil, fmt.Errorf("cachefmt: WriterOptions.Dtype %v differs from the fingerprint's %v", o.Dtype, fp.Dtype)
	}
	o.Dtype, o.Fingerprint = fp.Dtype, fp.Sum()
	path := filepath.Join(dir, ShardName(i, n))
	return create(path, hidden, &o, func(w *Writer) error {
		st := w.Stats()
		frag := &Manifest{
			Format: fragmentFormat, Version: FormatLatest, Shard: &i, Of: n,
			Fingerprint: fp, FingerprintHash: fp.Hash(), Hidden: hidden, Dtype: fp.Dtype,
			Rows: int64(st.Rows), Tokens: int64(st.Tokens),
			Shards: []ShardInfo{{File: ShardName(i, n), Bytes: st.Bytes, Rows: int64(st.Rows),
				Tokens: int64(st.Tokens), SHA256: hex.EncodeToString(st.SHA256[:])}},
		}
		return writeManifest(filepath.Join(dir, fragmentName(i, n)), frag)
	})
}

// VerifyShard checks that shard i of n in dir is finished for want, as a rerun of its build
// must find it before skipping the work: its fragment reads and names that shard, has the
// fingerprint want, and describes the shard file, whose size, SHA-256, header and every chunk
// checksum verify. A shard left by a killed or older build, or whose fragment was damaged,
// fails, and the build writes both again.
func VerifyShard(dir string, i, n int, want Fingerprint) error {
	path := filepath.Join(dir, fragmentName(i, n))
	f, err := readManifestFile(path, fragmentFormat)
	if err != nil {
		return err
	}
	if *f.Shard != i || f.Of != n || f.Shards[0].File != ShardName(i, n) {
		return corruptf(path, -1, "", "fragment says shard %d of %d", *f.Shard, f.Of)
	}
	if f.Fingerprint != want {
		return staleError(path, f.Fingerprint, want)
	}
	return checkShard(dir, f.Shards[0], f, true)
}

// CombineOptions configures Combine. The zero value means the defaults.
type CombineOptions struct {
	// Want, when set, is the fingerprint the shards must have; fragments of other
	// fingerprints (left from an older build) are ignored. When nil, all fragments in the
	// directory must agree.
	Want *Fingerprint
	// Logger; nil means discard.
	Logger *slog.Logger
}

var fragmentRE = regexp.MustCompile(`^shard-(\d{5,})-of-(\d{5,})\.json$`)

// Combine checks that all n shards of the cache in dir are present and intact (size, SHA-256,
// header, every chunk checksum) and agree, then writes dir/manifest.json atomically. It is
// the last step of a sharded build; run it once every shard job has finished.
func Combine(dir string, opts *CombineOptions) (*Manifest, error) {
	var o CombineOptions
	if opts != nil {
		o = *opts
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	frags, err := readFragments(dir)
	if err != nil {
		return nil, err
	}
	var picked []*Manifest
	for _, f := range frags {
		switch {
		case o.Want != nil && f.Fingerprint != *o.Want:
			log.Info("cachefmt: ignoring a shard of another fingerprint", "dir", dir, "shard", f.Shards[0].File)
		case o.Want == nil && f.Fingerprint != frags[0].Fingerprint:
			return nil, staleError(filepath.Join(dir, fragmentName(*f.Shard, f.Of)), f.Fingerprint, frags[0].Fingerprint)
		default:
			picked = append(picked, f)
		}
	}
	if len(picked) == 0 {
		return nil, staleError(dir, frags[0].Fingerprint, *o.Want)
	}
	n := picked[0].Of
	byIndex := make([]*Manifest, n)
	for _, f := range picked {
		if f.Of != n {
			return nil, corruptf(dir, -1, "", "shards of different counts: %d and %d", n, f.Of)
		}
		if f.Hidden != picked[0].Hidden {
			return nil, corruptf(dir, -1, "", "shards of different hidden sizes: %d and %d", picked[0].Hidden, f.Hidden)
		}
		byIndex[*f.Shard] = f
	}
	var missing []string
	for i, f := range byIndex {
		if f == nil {
			missing = append(missing, strconv.Itoa(i))
		}
	}
	if len(missing) > 0 {
		return nil, &Error{Kind: ErrMissing, File: dir, Offset: -1,
			Err: fmt.Errorf("shards %s of %d have not finished (no fragment)", strings.Join(missing, ", "), n)}
	}
	m := &Manifest{Format: manifestFormat, Version: FormatLatest, Fingerprint: picked[0].Fingerprint,
		FingerprintHash: picked[0].FingerprintHash, Hidden: picked[0].Hidden, Dtype: picked[0].Dtype}
	for _, f := range byIndex {
		s := f.Shards[0]
		if err := checkShard(dir, s, m, true); err != nil {
			return nil, err
		}
		log.Debug("cachefmt: shard verified", "dir", dir, "shard", s.File, "rows", s.Rows)
		m.Shards = append(m.Shards, s)
		m.Rows += s.Rows
		m.Tokens += s.Tokens
	}
	if err := writeManifest(filepath.Join(dir, ManifestName), m); err != nil {
		return nil, err
	}
	log.Info("cachefmt: cache published", "dir", dir, "shards", n, "rows", m.Rows)
	return m, nil
}

func readFragments(dir string) ([]*Manifest, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, &Error{Kind: ErrMissing, File: dir, Offset: -1, Err: err}
		}
		return nil, ioError(dir, err)
	}
	var frags []*Manifest
	for _, e := range entries {
		sub := fragmentRE.FindStringSubmatch(e.Name())
		if sub == nil {
			continue
		}
		path := filepath.Join(dir, e.Name())
		f, err := readManifestFile(path, fragmentFormat)
		if err != nil {
			return nil, err
		}
		if e.Name() != fragmentName(*f.Shard, f.Of) || f.Shards[0].File != ShardName(*f.Shard, f.Of) {
			return nil, corruptf(path, -1, "", "fragment says shard %d of %d", *f.Shard, f.Of)
		}
		frags = append(frags, f)
	}
	if len(frags) == 0 {
		return nil, &Error{Kind: ErrMissing, File: dir, Offset: -1, Err: fmt.Errorf("no shard fragments (shard-*-of-*.json)")}
	}
	return frags, nil
}
