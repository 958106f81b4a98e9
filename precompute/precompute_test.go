package precompute

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autofreeze/autofreeze/cachefmt"
	"github.com/autofreeze/autofreeze/internal/tinymodel"
	"github.com/autofreeze/autofreeze/text"
)

const testHidden = 4

// fakeEngine fills every token's state with its token id plus the layer
// offset, and counts its batches.
type fakeEngine struct{ batches int }

func (e *fakeEngine) Run(b text.Batch, in []float32) ([]float32, error) {
	e.batches++
	out := make([]float32, b.Size*b.SeqLen*testHidden)
	for i := range b.Size * b.SeqLen {
		for k := range testHidden {
			out[i*testHidden+k] = float32(b.IDs[i]) + float32(k)/10
		}
	}
	return out, nil
}

func testJob(t *testing.T, dir string, shard, of int) Job {
	t.Helper()
	tok, err := text.NewTokenizer(tinymodel.Vocab(), text.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var encs []text.Encoding
	for _, s := range []string{"good movie", "bad film", "the plot was dull", "a lovely story", "it was fine", "awful"} {
		encs = append(encs, tok.Encode(s, 16))
	}
	fp := cachefmt.Fingerprint{PrefixWeights: strings.Repeat("ab", 32), Layer: 1, Tokenizer: tok.Hash(), MaxLength: 16,
		Dataset: strings.Repeat("cd", 32), Dtype: cachefmt.Float32, Exporter: "fake-1"}
	return Job{Dir: dir, Shard: shard, Of: of, Fingerprint: fp, Hidden: testHidden, Encodings: encs, Tokenizer: tok, BatchSize: 2}
}

func fragmentPath(dir string, i, n int) string {
	return filepath.Join(dir, strings.TrimSuffix(cachefmt.ShardName(i, n), ".afc")+".json")
}

// TestCorruptShardFragmentIsRebuilt: a shard's fragment (shard-I-of-N.json)
// that is damaged, describes other bytes, or belongs to an older build is
// verified before a rerun skips the shard; the rerun builds the shard and
// its fragment again, and the cache then combines and verifies. (A rerun
// used to skip any shard whose fragment merely existed, so the cache could
// never be combined again.)
func TestCorruptShardFragmentIsRebuilt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, job Job, frag string)
	}{
		{"truncated fragment", func(t *testing.T, job Job, frag string) {
			data, _ := os.ReadFile(frag)
			os.WriteFile(frag, data[:len(data)/2], 0o644)
		}},
		{"fragment with another checksum", func(t *testing.T, job Job, frag string) {
			data, _ := os.ReadFile(frag)
			i := strings.Index(string(data), `"sha256": "`) + len(`"sha256": "`)
			data[i] ^= 1
			os.WriteFile(frag, data, 0o644)
		}},
		{"fragment of an older build", func(t *testing.T, job Job, frag string) {
			// The shard is this build's, the fragment an older build's
			// (the build was killed between publishing the two).
			old := job
			old.Dir = t.TempDir()
			old.Fingerprint.Exporter = "fake-0"
			if err := Build(context.Background(), old, &fakeEngine{}); err != nil {
				t.Fatal(err)
			}
			data, _ := os.ReadFile(fragmentPath(old.Dir, job.Shard, job.Of))
			os.WriteFile(frag, data, 0o644)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			jobs := []Job{testJob(t, dir, 0, 2), testJob(t, dir, 1, 2)}
			for _, j := range jobs {
				if err := Build(context.Background(), j, &fakeEngine{}); err != nil {
					t.Fatal(err)
				}
			}
			fp := jobs[0].Fingerprint
			if _, err := cachefmt.Combine(dir, &cachefmt.CombineOptions{Want: &fp}); err != nil {
				t.Fatal(err)
			}
			if !Done(jobs[0]) {
				t.Fatal("a finished shard is not done")
			}
			os.Remove(filepath.Join(dir, cachefmt.ManifestName))
			tc.damage(t, jobs[0], fragmentPath(dir, 0, 2))
			if Done(jobs[0]) {
				t.Fatal("a shard whose fragment does not verify counts as done")
			}
			e := &fakeEngine{}
			if err := Build(context.Background(), jobs[0], e); err != nil {
				t.Fatal(err)
			}
			if e.batches == 0 {
				t.Fatal("the rerun skipped the shard")
			}
			if _, err := cachefmt.Combine(dir, &cachefmt.CombineOptions{Want: &fp}); err != nil {
				t.Fatalf("combining after the rebuild: %v", err)
			}
			if err := cachefmt.Verify(dir, &fp); err != nil {
				t.Fatal(err)
			}
			// And a rerun now has nothing to do.
			e = &fakeEngine{}
			if err := Build(context.Background(), jobs[0], e); err != nil || e.batches != 0 {
				t.Fatalf("rerun of a finished shard: %v, %d batches", err, e.batches)
			}
		})
	}
}

// TestVerifyShard names what is wrong with a shard that is not finished.
func TestVerifyShard(t *testing.T) {
	dir := t.TempDir()
	job := testJob(t, dir, 0, 1)
	if err := Build(context.Background(), job, &fakeEngine{}); err != nil {
		t.Fatal(err)
	}
	if err := cachefmt.VerifyShard(dir, 0, 1, job.Fingerprint); err != nil {
		t.Fatal(err)
	}
	other := job.Fingerprint
	other.Layer = 2
	if err := cachefmt.VerifyShard(dir, 0, 1, other); !errors.Is(err, cachefmt.ErrStale) {
		t.Errorf("another fingerprint: %v", err)
	}
	if err := cachefmt.VerifyShard(dir, 0, 2, job.Fingerprint); !errors.Is(err, cachefmt.ErrMissing) {
		t.Errorf("another shard count: %v", err)
	}
	os.WriteFile(fragmentPath(dir, 0, 1), []byte("{"), 0o644)
	if err := cachefmt.VerifyShard(dir, 0, 1, job.Fingerprint); !errors.Is(err, cachefmt.ErrCorrupt) || !strings.Contains(err.Error(), "shard-00000-of-00001.json") {
		t.Errorf("damaged fragment: %v", err)
	}
}
