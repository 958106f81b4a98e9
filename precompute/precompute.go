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
	"time"

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
// input (and each row's token count and label) from src, so job needs no
// Encodings, Labels or Tokenizer. Row i of the new cache is row i of src.
func Advance(ctx context.Context, job Job, engine Engine, src *cachefmt.Cache) error {
	if job.Encodings != nil && src.Rows() != len(job.Encodings) {
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
	// Other shards' jobs may be writing here right now: remove only
	// temporary files old enough to be leftovers of killed builds.
	if _, err := cachefmt.CleanTemp(job.Dir, staleTemp); err != nil {
		return err
	}
	shardPath := filepath.Join(job.Dir, cachefmt.ShardName(job.Shard, job.Of))
	if Done(job) {
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

// staleTemp is the age past which a temporary file in a cache directory is
// taken for the leftover of a killed build rather than a build in progress.
const staleTemp = time.Hour

// Done reports whether the job's shard and its fragment are finished for
// the job's fingerprint and hidden size and verify (cachefmt.VerifyShard):
// a rerun has nothing to do. A damaged or stale fragment is never trusted:
// the shard is built again and both are rewritten.
func Done(job Job) bool {
	job.defaults()
	if cachefmt.VerifyShard(job.Dir, job.Shard, job.Of, job.Fingerprint) != nil {
		return false
	}
	r, err := cachefmt.Open(filepath.Join(job.Dir, cachefmt.ShardName(job.Shard, job.Of)), &cachefmt.ReaderOptions{CacheBytes: -1})
	if err != nil {
		return false
	}
	defer r.Close()
	return r.Header().Hidden == job.Hidden
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
	total := len(job.Encodings)
	if src != nil {
		total = src.Rows()
	}
	lo, hi := ShardRange(total, job.Shard, job.Of)
	for start := lo; start < hi; start += chunkRows {
		end := min(start+chunkRows, hi)
		var in *chunk
		if src != nil {
			in, err = readChunk(src, start, end)
		} else {
			in = tokenChunk(job, start, end)
		}
		if err != nil {
			return err
		}
		out, err := runChunk(ctx, job, engine, in, srcHidden)
		if err != nil {
			return fmt.Errorf("rows %d-%d: %w", start, end, err)
		}
		for i, states := range out {
			if err := w.Append(uint64(start+i), in.labels[i], states); err != nil {
				return err
			}
		}
		if job.Progress != nil {
			job.Progress(end-lo, hi-lo)
		}
	}
	return w.Close()
}

// chunk is a run of consecutive rows to compute: their token counts and
// labels, and either their encodings or their input hidden states.
type chunk struct {
	lengths []int
	labels  []int32
	encs    []text.Encoding
	hidden  [][]float32 // [tokens*srcHidden] per row, from a source cache
}

func tokenChunk(job Job, start, end int) *chunk {
	c := &chunk{encs: job.Encodings[start:end]}
	for i, e := range c.encs {
		c.lengths = append(c.lengths, e.Len())
		label := int32(-1)
		if job.Labels != nil {
			label = int32(job.Labels[start+i])
		}
		c.labels = append(c.labels, label)
	}
	return c
}

func readChunk(src *cachefmt.Cache, start, end int) (*chunk, error) {
	c := &chunk{}
	for i := start; i < end; i++ {
		row, err := src.Row(i)
		if err != nil {
			return nil, err
		}
		c.lengths = append(c.lengths, row.Tokens)
		c.labels = append(c.labels, row.Label)
		c.hidden = append(c.hidden, row.Hidden)
	}
	return c, nil
}

// runChunk runs the engine over a chunk in batches of similar length and
// returns each row's output states (real tokens only), in row order.
func runChunk(ctx context.Context, job Job, engine Engine, c *chunk, srcHidden int) ([][]float32, error) {
	idx := make([]int, len(c.lengths))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return c.lengths[a] - c.lengths[b] })
	out := make([][]float32, len(idx))
	h := job.Hidden
	for bs := 0; bs < len(idx); bs += job.BatchSize {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rows := idx[bs:min(bs+job.BatchSize, len(idx))]
		b, in := c.batch(job, rows, srcHidden)
		hidden, err := engine.Run(b, in)
		if err != nil {
			return nil, err
		}
		if len(hidden) != b.Size*b.SeqLen*h {
			return nil, fmt.Errorf("engine returned %d values for a %dx%dx%d batch", len(hidden), b.Size, b.SeqLen, h)
		}
		for i, r := range rows {
			off := i * b.SeqLen * h
			out[r] = slices.Clone(hidden[off : off+c.lengths[r]*h])
		}
	}
	return out, nil
}

// batch pads rows of the chunk: token ids through the tokenizer, or hidden
// states with a mask of ones over each row's tokens.
func (c *chunk) batch(job Job, rows []int, srcHidden int) (text.Batch, []float32) {
	if c.hidden == nil {
		encs := make([]text.Encoding, len(rows))
		for i, r := range rows {
			encs[i] = c.encs[r]
		}
		return job.Tokenizer.Pad(encs), nil
	}
	seq := 0
	for _, r := range rows {
		seq = max(seq, c.lengths[r])
	}
	b := text.Batch{Size: len(rows), SeqLen: seq, IDs: make([]int64, len(rows)*seq),
		TypeIDs: make([]int64, len(rows)*seq), Mask: make([]int64, len(rows)*seq)}
	in := make([]float32, len(rows)*seq*srcHidden)
	for i, r := range rows {
		b.Lengths = append(b.Lengths, c.lengths[r])
		for j := 0; j < c.lengths[r]; j++ {
			b.Mask[i*seq+j] = 1
		}
		copy(in[i*seq*srcHidden:], c.hidden[r])
	}
	return b, in
}
