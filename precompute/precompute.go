// Package precompute fills an activation cache: it runs the frozen prefix
// of the encoder (or, to advance a cache, only the new frozen layers) over
// every example and writes the hidden states of their real tokens into
// cachefmt shards. The training run uses it when the freeze point moves;
// `autofreeze cache build` runs it as a batch job, one shard per job.
//
// It does not care what runs the layers: an Engine may be ONNX Runtime
// (package frozen) or libtorch (package trainable).
package precompute

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"github.com/autofreeze/autofreeze/cachefmt"
	"github.com/autofreeze/autofreeze/text"
)

// Engine runs a fixed range of encoder layers on a padded batch. in is nil
// when the range starts at layer 0 (the engine embeds b's tokens);
// otherwise it holds the [b.Size, b.SeqLen, hidden] states entering the
// range. Run returns the states leaving the range, same layout.
type Engine interface {
	Run(b text.Batch, in []float32) ([]float32, error)
}

// Job is one shard of a cache to build.
type Job struct {
	Dir         string
	Shard, Of   int // shard Shard of Of (0 <= Shard < Of)
	Fingerprint cachefmt.Fingerprint
	Hidden      int
	// Encodings are every example of the dataset, in dataset order; row i
	// of the cache is example i. Labels (optional) are stored beside them.
	Encodings []text.Encoding
	Labels    []int64
	Tokenizer *text.Tokenizer // pads the batches
	BatchSize int             // 0 means 32
	Logger    *slog.Logger    // nil: discard
	// Progress, when set, is called with the rows done after each batch.
	Progress func(done, total int)
}

// ShardRange is the rows [lo, hi) of shard i of n over rows examples:
// contiguous, as even as possible.
func ShardRange(rows, i, n int) (lo, hi int) {
	return rows * i / n, rows * (i + 1) / n
}

// chunkRows is how many rows are sorted by length together, so batches
// waste little on padding while rows are still appended in order.
const chunkRows = 512

// Build computes shard Shard of Of and publishes it with its fragment;
// with Of = 1 it also writes the manifest. A shard that already verifies
// with this fingerprint is kept (a rerun skips finished work).
// Temporary files of killed earlier attempts are removed first.
func Build(ctx context.Context, job Job, engine Engine) error {
	return build(ctx, job, engine, nil, 0)
}

// Advance computes the cache of job from an existing cache src at an
// earlier layer: engine runs only the layers between them, reading its
// input from src. src must hold the same examples in the same order.
func Advance(ctx context.Context, job Job, engine Engine, src *cachefmt.Cache) error {
	if src.Rows() != len(job.Encodings) {
		return fmt.Errorf("source cache has %d rows, the data has %d examples", src.Rows(), len(job.Encodings))
	}
	return build(ctx, job, engine, src, src.Hidden())
}

func (j *Job) defaults() {
	if j.BatchSize <= 0 {
		j.BatchSize = 32
	}
	if j.Logger == nil {
		j.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if j.Of == 0 {
		j.Of = 1
	}
}

func build(ctx context.Context, job Job, engine Engine, src *cachefmt.Cache, srcHidden int) error {
	job.defaults()
	if err := os.MkdirAll(job.Dir, 0o755); err != nil {
		return err
	}
	if _, err := cachefmt.CleanTemp(job.Dir, 0); err != nil {
		return err
	}
	shardPath := filepath.Join(job.Dir, cachefmt.ShardName(job.Shard, job.Of))
	if shardDone(job, shardPath) {
		job.Logger.Info("shard already built and verified; skipping", "shard", shardPath)
	} else if err := writeShard(ctx, job, engine, src, srcHidden, shardPath); err != nil {
		return err
	}
	if job.Of == 1 {
		_, err := cachefmt.Combine(job.Dir, &cachefmt.CombineOptions{Want: &job.Fingerprint, Logger: job.Logger})
		return err
	}
	return nil
}

// shardDone reports whether the shard file and its fragment exist and the
// shard verifies with the job's fingerprint.
func shardDone(job Job, path string) bool {
	r, err := cachefmt.Open(path, &cachefmt.ReaderOptions{CacheBytes: -1})
	if err != nil {
		return false
	}
	defer r.Close()
	if r.Header().Fingerprint != job.Fingerprint.Sum() || r.Verify() != nil {
		return false
	}
	frag := filepath.Join(job.Dir, fragmentFile(job.Shard, job.Of))
	_, err = os.Stat(frag)
	return err == nil
}

func fragmentFile(i, n int) string {
	name := cachefmt.ShardName(i, n)
	return name[:len(name)-len(filepath.Ext(name))] + ".json"
}

func writeShard(ctx context.Context, job Job, engine Engine, src *cachefmt.Cache, srcHidden int, path string) (err error) {
	w, err := cachefmt.CreateShard(job.Dir, job.Shard, job.Of, job.Fingerprint, job.Hidden, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			w.Abort()
		}
	}()
	lo, hi := ShardRange(len(job.Encodings), job.Shard, job.Of)
	h := job.Hidden
	var row cachefmt.Row
	for start := lo; start < hi; start += chunkRows {
		end := min(start+chunkRows, hi)
		// Sort the chunk by length so batches are tight; keep the results
		// by row and append them in order.
		idx := make([]int, end-start)
		for i := range idx {
			idx[i] = start + i
		}
		slices.SortStableFunc(idx, func(a, b int) int { return job.Encodings[a].Len() - job.Encodings[b].Len() })
		out := make([][]float32, end-start)
		for bs := 0; bs < len(idx); bs += job.BatchSize {
			if err := ctx.Err(); err != nil {
				return err
			}
			rows := idx[bs:min(bs+job.BatchSize, len(idx))]
			encs := make([]text.Encoding, len(rows))
			for i, r := range rows {
				encs[i] = job.Encodings[r]
			}
			b := job.Tokenizer.Pad(encs)
			var in []float32
			if src != nil {
				in = make([]float32, b.Size*b.SeqLen*srcHidden)
				for i, r := range rows {
					if err := src.ReadRow(r, &row); err != nil {
						return err
					}
					if row.Tokens != encs[i].Len() {
						return fmt.Errorf("source cache row %d has %d tokens, the example has %d: the cache was built from other data", r, row.Tokens, encs[i].Len())
					}
					copy(in[i*b.SeqLen*srcHidden:], row.Hidden)
				}
			}
			hidden, err := engine.Run(b, in)
			if err != nil {
				return fmt.Errorf("rows %d-%d: %w", start, end, err)
			}
			if len(hidden) != b.Size*b.SeqLen*h {
				return fmt.Errorf("engine returned %d values for a %dx%dx%d batch", len(hidden), b.Size, b.SeqLen, h)
			}
			for i, r := range rows {
				n := encs[i].Len()
				off := i * b.SeqLen * h
				out[r-start] = slices.Clone(hidden[off : off+n*h])
			}
		}
		for i, states := range out {
			label := int32(-1)
			if job.Labels != nil {
				label = int32(job.Labels[start+i])
			}
			if err := w.Append(uint64(start+i), label, states); err != nil {
				return err
			}
		}
		if job.Progress != nil {
			job.Progress(end-lo, hi-lo)
		}
	}
	return w.Close()
}
