package cachefmt

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// buildCache writes one shard per element of shards (the ids in it) and combines them.
func buildCache(t *testing.T, dir string, fp Fingerprint, hidden int, shards [][]uint64) {
	t.Helper()
	for i, ids := range shards {
		writeShard(t, dir, i, len(shards), fp, hidden, ids)
	}
	if _, err := Combine(dir, &CombineOptions{Want: &fp}); err != nil {
		t.Fatal(err)
	}
}

func writeShard(t *testing.T, dir string, i, n int, fp Fingerprint, hidden int, ids []uint64) {
	t.Helper()
	w, err := CreateShard(dir, i, n, fp, hidden, &WriterOptions{GroupRows: 4})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := w.Append(id, testLabel(id), testRow(id, hidden)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestFingerprintCanonical(t *testing.T) {
	fp := Fingerprint{PrefixWeights: "ab", Layer: 3, Tokenizer: "cd", MaxLength: 512, Dataset: "ef", Dtype: BFloat16, Exporter: `v1 "x"`}
	want := "autofreeze-cache-fingerprint 1\n" +
		"prefix_weights_sha256 \"ab\"\nlayer 3\ntokenizer_sha256 \"cd\"\nmax_length 512\n" +
		"dataset_sha256 \"ef\"\ndtype \"bf16\"\nexporter \"v1 \\\"x\\\"\"\n"
	if got := fp.Canonical(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestOpenCacheRefusesAnotherFingerprint(t *testing.T) {
	dir := t.TempDir()
	fp := testFingerprint()
	buildCache(t, dir, fp, 8, [][]uint64{seq(0, 5)})

	want := fp
	want.Layer = 6
	want.Dataset = strings.Repeat("d4", 32)
	_, err := OpenCache(dir, want, nil)
	if !errors.Is(err, ErrStale) {
		t.Fatalf("%v, want ErrStale", err)
	}
	for _, s := range []string{"manifest.json", "layer (cache 4, want 6)", "dataset_sha256 (cache \"c3c3"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	if strings.Contains(err.Error(), "tokenizer") {
		t.Errorf("error %q names a field that is equal", err)
	}
	if _, err := OpenCache(dir, fp, nil); err != nil {
		t.Fatal(err)
	}
}

func TestCacheAcrossShards(t *testing.T) {
	dir := t.TempDir()
	fp := testFingerprint()
	shards := [][]uint64{seq(0, 7), seq(7, 0), seq(7, 12), seq(19, 1)} // an empty shard too
	buildCache(t, dir, fp, 8, shards)
	for _, inMemory := range []bool{false, true} {
		c, err := OpenCache(dir, fp, &ReaderOptions{InMemory: inMemory, CacheBytes: 4096})
		if err != nil {
			t.Fatal(err)
		}
		if c.Rows() != 20 || c.Manifest().Rows != 20 {
			t.Fatalf("%d rows", c.Rows())
		}
		for _, l := range []struct{ global, shard, row int }{{0, 0, 0}, {6, 0, 6}, {7, 2, 0}, {18, 2, 11}, {19, 3, 0}} {
			s, r, err := c.Locate(l.global)
			if err != nil || s != l.shard || r != l.row {
				t.Errorf("Locate(%d) = %d, %d, %v; want %d, %d", l.global, s, r, err, l.shard, l.row)
			}
		}
		for i := c.Rows() - 1; i >= 0; i-- {
			row, err := c.Row(i)
			if err != nil {
				t.Fatal(err)
			}
			if row.ID != uint64(i) {
				t.Fatalf("row %d has id %d", i, row.ID)
			}
			if err := checkRow(Float16, 8, row); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.Row(20); err == nil {
			t.Error("row 20 of 20 read")
		}
		c.Close()
	}
}

func TestCombine(t *testing.T) {
	fp := testFingerprint()
	other := fp
	other.Exporter = "older"
	for _, c := range []struct {
		name   string
		setup  func(dir string)
		opts   *CombineOptions
		kind   error
		errHas string
	}{
		{"all shards", func(dir string) {
			writeShard(t, dir, 0, 2, fp, 4, seq(0, 3))
			writeShard(t, dir, 1, 2, fp, 4, seq(3, 3))
		}, &CombineOptions{Want: &fp}, nil, ""},
		{"want nil takes the shards' own fingerprint", func(dir string) {
			writeShard(t, dir, 0, 1, fp, 4, seq(0, 3))
		}, nil, nil, ""},
		{"a shard still running", func(dir string) {
			writeShard(t, dir, 0, 3, fp, 4, seq(0, 3))
			writeShard(t, dir, 2, 3, fp, 4, seq(6, 3))
		}, &CombineOptions{Want: &fp}, ErrMissing, "shards 1 of 3"},
		{"no shards at all", func(dir string) {}, nil, ErrMissing, "no shard fragments"},
		{"old shards are ignored, and then one is missing", func(dir string) {
			writeShard(t, dir, 0, 2, fp, 4, seq(0, 3))
			writeShard(t, dir, 1, 2, other, 4, seq(3, 3))
		}, &CombineOptions{Want: &fp}, ErrMissing, "shards 1 of 2"},
		{"only old shards", func(dir string) {
			writeShard(t, dir, 0, 1, other, 4, seq(0, 3))
		}, &CombineOptions{Want: &fp}, ErrStale, "exporter"},
		{"mixed fingerprints without want", func(dir string) {
			writeShard(t, dir, 0, 2, fp, 4, seq(0, 3))
			writeShard(t, dir, 1, 2, other, 4, seq(3, 3))
		}, nil, ErrStale, "exporter"},
		{"a damaged shard", func(dir string) {
			writeShard(t, dir, 0, 1, fp, 4, seq(0, 3))
			flipByte(t, filepath.Join(dir, ShardName(0, 1)), 100)
		}, &CombineOptions{Want: &fp}, ErrCorrupt, "checksum"},
		{"a shard replaced after its fragment", func(dir string) {
			writeShard(t, dir, 0, 1, fp, 4, seq(0, 3))
			frag, _ := os.ReadFile(filepath.Join(dir, fragmentName(0, 1)))
			writeShard(t, dir, 0, 1, fp, 4, seq(10, 3))
			os.WriteFile(filepath.Join(dir, fragmentName(0, 1)), frag, 0o644)
		}, &CombineOptions{Want: &fp}, ErrCorrupt, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			c.setup(dir)
			m, err := Combine(dir, c.opts)
			if c.kind == nil {
				if err != nil {
					t.Fatal(err)
				}
				if err := Verify(dir, &fp); err != nil {
					t.Fatalf("Verify after Combine: %v", err)
				}
				if m.Fingerprint != fp {
					t.Fatalf("manifest fingerprint %+v", m.Fingerprint)
				}
				return
			}
			if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.errHas) {
				t.Fatalf("%v, want %v mentioning %q", err, c.kind, c.errHas)
			}
			if _, err := os.Stat(filepath.Join(dir, ManifestName)); err == nil {
				t.Fatal("a manifest was written")
			}
		})
	}
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	f.ReadAt(b, off)
	b[0] ^= 0x10
	f.WriteAt(b, off)
}

func TestVerifyTellsCorruptStaleMissing(t *testing.T) {
	fp := testFingerprint()
	other := fp
	other.MaxLength = 256
	shard0 := ShardName(0, 2)
	editManifest := func(dir string, edit func(m map[string]any)) {
		p := filepath.Join(dir, ManifestName)
		data, _ := os.ReadFile(p)
		var m map[string]any
		json.Unmarshal(data, &m)
		edit(m)
		data, _ = json.Marshal(m)
		os.WriteFile(p, data, 0o644)
	}
	for _, c := range []struct {
		name   string
		damage func(dir string)
		want   *Fingerprint
		kind   error
	}{
		{"intact", func(string) {}, &fp, nil},
		{"intact, no fingerprint given", func(string) {}, nil, nil},
		{"built for other inputs", func(string) {}, &other, ErrStale},
		{"a bit flipped in a chunk", func(dir string) { flipByte(t, filepath.Join(dir, shard0), 200) }, &fp, ErrCorrupt},
		{"a bit flipped in the trailer", func(dir string) {
			fi, _ := os.Stat(filepath.Join(dir, shard0))
			flipByte(t, filepath.Join(dir, shard0), fi.Size()-20)
		}, &fp, ErrCorrupt},
		{"a shard cut short", func(dir string) { os.Truncate(filepath.Join(dir, shard0), 500) }, &fp, ErrCorrupt},
		{"a shard deleted", func(dir string) { os.Remove(filepath.Join(dir, shard0)) }, &fp, ErrMissing},
		{"the manifest deleted", func(dir string) { os.Remove(filepath.Join(dir, ManifestName)) }, &fp, ErrMissing},
		{"the manifest is not JSON", func(dir string) { os.WriteFile(filepath.Join(dir, ManifestName), []byte("{"), 0o644) }, &fp, ErrCorrupt},
		{"the manifest from a newer version", func(dir string) {
			editManifest(dir, func(m map[string]any) { m["version"] = 2 })
		}, &fp, ErrVersion},
		{"the manifest's fingerprint edited", func(dir string) {
			editManifest(dir, func(m map[string]any) { m["fingerprint"].(map[string]any)["layer"] = 5 })
		}, &fp, ErrCorrupt},
		{"a shard from another build under the same name", func(dir string) {
			other := t.TempDir()
			ofp := fp
			ofp.Layer = 9
			writeShard(t, other, 0, 2, ofp, 4, seq(0, 3))
			os.Rename(filepath.Join(other, shard0), filepath.Join(dir, shard0))
		}, &fp, ErrStale},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			buildCache(t, dir, fp, 4, [][]uint64{seq(0, 3), seq(3, 4)})
			c.damage(dir)
			err := Verify(dir, c.want)
			if c.kind == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, c.kind) {
				t.Fatalf("%v, want %v", err, c.kind)
			}
			for _, k := range []error{ErrStale, ErrMissing, ErrCorrupt, ErrVersion} {
				if k != c.kind && errors.Is(err, k) {
					t.Errorf("%v is also %v", err, k)
				}
			}
			// OpenCache refuses the same caches (it does not read every chunk, so a flipped
			// chunk bit shows only when the row is read).
			cache, err := OpenCache(dir, *c.want, nil)
			if err == nil {
				defer cache.Close()
				for i := range cache.Rows() {
					if _, err = cache.Row(i); err != nil {
						break
					}
				}
			}
			if !errors.Is(err, c.kind) {
				t.Fatalf("OpenCache and reads: %v, want %v", err, c.kind)
			}
		})
	}
}
