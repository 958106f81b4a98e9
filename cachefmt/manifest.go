package cachefmt

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Fingerprint is everything that determines a cache's activations. Two caches with equal
// fingerprints hold the same numbers; a cache whose fingerprint differs from the one wanted
// is stale and must not be used.
type Fingerprint struct {
	PrefixWeights string `json:"prefix_weights_sha256"` // SHA-256 (hex) of the frozen prefix's weights
	Layer         int    `json:"layer"`                 // K: the activations are the input of layer K
	Tokenizer     string `json:"tokenizer_sha256"`      // SHA-256 (hex) of the tokenizer files
	MaxLength     int    `json:"max_length"`            // tokens per example before truncation
	Dataset       string `json:"dataset_sha256"`        // SHA-256 (hex) of the dataset file
	Dtype         Dtype  `json:"dtype"`                 // element type stored
	Exporter      string `json:"exporter"`              // version of the code that computed the activations
}

// fingerprintFields lists the fields in canonical order with their names and values.
func (f Fingerprint) fields() [][2]string {
	return [][2]string{
		{"prefix_weights_sha256", strconv.Quote(f.PrefixWeights)},
		{"layer", strconv.Itoa(f.Layer)},
		{"tokenizer_sha256", strconv.Quote(f.Tokenizer)},
		{"max_length", strconv.Itoa(f.MaxLength)},
		{"dataset_sha256", strconv.Quote(f.Dataset)},
		{"dtype", strconv.Quote(f.Dtype.String())},
		{"exporter", strconv.Quote(f.Exporter)},
	}
}

// Canonical is the fingerprint's canonical string (FORMAT.md, "Fingerprint").
func (f Fingerprint) Canonical() string {
	var b strings.Builder
	b.WriteString("autofreeze-cache-fingerprint 1\n")
	for _, kv := range f.fields() {
		b.WriteString(kv[0])
		b.WriteByte(' ')
		b.WriteString(kv[1])
		b.WriteByte('\n')
	}
	return b.String()
}

// Sum is the SHA-256 of the canonical string; shard headers carry it.
func (f Fingerprint) Sum() [32]byte { return sha256.Sum256([]byte(f.Canonical())) }

// Hash is Sum in hex.
func (f Fingerprint) Hash() string { s := f.Sum(); return hex.EncodeToString(s[:]) }

// Diff names the fields that differ between f (what a cache has) and want, with both values,
// such as `layer (cache 4, want 6)`. It is empty when they are equal.
func (f Fingerprint) Diff(want Fingerprint) []string {
	var d []string
	have, w := f.fields(), want.fields()
	for i := range have {
		if have[i][1] != w[i][1] {
			d = append(d, fmt.Sprintf("%s (cache %s, want %s)", have[i][0], have[i][1], w[i][1]))
		}
	}
	return d
}

func staleError(file string, have, want Fingerprint) error {
	return &Error{Kind: ErrStale, File: file, Offset: -1,
		Err: fmt.Errorf("fingerprint differs in %s", strings.Join(have.Diff(want), ", "))}
}

// ShardInfo describes one shard file in a manifest.
type ShardInfo struct {
	File   string `json:"file"`
	Bytes  int64  `json:"bytes"`
	Rows   int64  `json:"rows"`
	Tokens int64  `json:"tokens"`
	SHA256 string `json:"sha256"`
}

// Manifest is a cache directory's manifest.json, and also (with Shard and Of set) a shard's
// fragment.
type Manifest struct {
	Format          string        `json:"format"`
	Version         FormatVersion `json:"version"`
	Shard           *int          `json:"shard,omitempty"` // fragments only
	Of              int           `json:"of,omitempty"`    // fragments only
	Fingerprint     Fingerprint   `json:"fingerprint"`
	FingerprintHash string        `json:"fingerprint_sha256"`
	Hidden          int           `json:"hidden"`
	Dtype           Dtype         `json:"dtype"`
	Rows            int64         `json:"rows"`
	Tokens          int64         `json:"tokens"`
	Shards          []ShardInfo   `json:"shards"`
}

const (
	// ManifestName is the manifest's file name in a cache directory.
	ManifestName   = "manifest.json"
	manifestFormat = "autofreeze-activation-cache"
	fragmentFormat = "autofreeze-activation-cache-shard"
)

// ShardName is the file name of shard i of n: shard-00002-of-00008.afc.
func ShardName(i, n int) string { return fmt.Sprintf("shard-%05d-of-%05d.afc", i, n) }

func fragmentName(i, n int) string { return strings.TrimSuffix(ShardName(i, n), ".afc") + ".json" }

// ReadManifest reads and checks dir's manifest.json: its format, version and the sums over
// its shards. It does not look at the shard files.
func ReadManifest(dir string) (*Manifest, error) {
	m, err := readManifestFile(filepath.Join(dir, ManifestName), manifestFormat)
	if err != nil {
		return nil, err
	}
	return m, nil
}

func readManifestFile(path, format string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &Error{Kind: ErrMissing, File: path, Offset: -1, Err: err}
	}
	if err != nil {
		return nil, ioError(path, err)
	}
	bad := func(format string, args ...any) error { return corruptf(path, -1, "", format, args...) }
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, bad("%v", err)
	}
	switch {
	case m.Format != format:
		return nil, bad("format %q, want %q", m.Format, format)
	case m.Version < FormatMinSupported || m.Version > FormatLatest:
		return nil, &Error{Kind: ErrVersion, File: path, Offset: -1,
			Err: fmt.Errorf("version %d, this reader supports %d to %d", m.Version, FormatMinSupported, FormatLatest)}
	case m.FingerprintHash != m.Fingerprint.Hash():
		return nil, bad("fingerprint_sha256 %s does not match the fingerprint (%s)", m.FingerprintHash, m.Fingerprint.Hash())
	case m.Dtype != m.Fingerprint.Dtype || m.Dtype.Size() == 0:
		return nil, bad("dtype %v, fingerprint says %v", m.Dtype, m.Fingerprint.Dtype)
	case m.Hidden <= 0 || m.Hidden > MaxHidden:
		return nil, bad("hidden size %d", m.Hidden)
	case len(m.Shards) == 0:
		return nil, bad("no shards")
	case format == fragmentFormat && (m.Shard == nil || *m.Shard < 0 || *m.Shard >= m.Of || len(m.Shards) != 1):
		return nil, bad("not a fragment of one shard")
	}
	var rows, tokens int64
	for _, s := range m.Shards {
		if s.File != filepath.Base(s.File) || s.File == "." || s.File == ".." || s.Bytes < emptyFileSize || s.Rows < 0 || s.Tokens < 0 {
			return nil, bad("bad shard entry %+v", s)
		}
		rows += s.Rows
		tokens += s.Tokens
	}
	if rows != m.Rows || tokens != m.Tokens {
		return nil, bad("rows %d and tokens %d, shards sum to %d and %d", m.Rows, m.Tokens, rows, tokens)
	}
	return &m, nil
}

// writeManifest publishes m as path atomically.
func writeManifest(path string, m *Manifest) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(data, '\n'))
}
