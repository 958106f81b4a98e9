package run

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/autofreeze/autofreeze/cachefmt"
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/precompute"
	"github.com/autofreeze/autofreeze/text"
)

// The run's activation caches live in RUN/cache/K-<k>: the hidden states
// entering layer k of every training example, row i being example i of the
// training split. "memory" decodes a cache into RAM when it opens; "disk"
// decodes row groups as batches need them.

// activationCache is an open cache at one freeze point.
type activationCache struct {
	ref    CacheRef
	cache  *cachefmt.Cache
	hidden int
	row    cachefmt.Row
	// buildSeconds is how long computing and writing its rows took when
	// this process built it (0 when it was reused).
	buildSeconds float64
}

func (c *activationCache) close() { c.cache.Close() }

// bytes is the cache's size on disk, all shards.
func (c *activationCache) bytes() int64 {
	var n int64
	for _, s := range c.cache.Manifest().Shards {
		n += s.Bytes
	}
	return n
}

// cacheJob is the precompute job that fills this rank's shard of the cache
// in dir with every training example's hidden states.
func (r *trainRun) cacheJob(dir string, fp cachefmt.Fingerprint) precompute.Job {
	return precompute.Job{Dir: dir, Shard: r.world.Rank(), Of: r.world.Size(), Fingerprint: fp, Hidden: r.mcfg.HiddenSize, Encodings: r.train.encs,
		Labels: r.train.labels, Tokenizer: r.tok, BatchSize: r.cfg.EvalBatchSize, Logger: r.log}
}

// batch assembles the cached states of rows into a padded [b.Size,
// b.SeqLen, hidden] slice (zero at padding, which attention masks out).
func (c *activationCache) batch(rows []int, b text.Batch) ([]float32, error) {
	h := c.hidden
	out := make([]float32, b.Size*b.SeqLen*h)
	for i, r := range rows {
		if err := c.cache.ReadRow(r, &c.row); err != nil {
			return nil, err
		}
		if c.row.Tokens != b.Lengths[i] {
			return nil, fmt.Errorf("%s: row %d has %d tokens, the example has %d: %w", c.ref.Dir, r, c.row.Tokens, b.Lengths[i], cachefmt.ErrStale)
		}
		copy(out[i*b.SeqLen*h:], c.row.Hidden)
	}
	return out, nil
}

// datasetHash identifies the training examples: the file's bytes and which
// of its rows the run trains on.
func (r *trainRun) datasetHash() (string, error) {
	if r.dataHash == "" {
		ids := make([]int, len(r.train.examples))
		for i, e := range r.train.examples {
			ids[i] = e.ID
		}
		h, err := precompute.DatasetHash(r.cfg.Train, ids)
		if err != nil {
			return "", err
		}
		r.dataHash = h
	}
	return r.dataHash, nil
}

// cacheFingerprint identifies the activations entering layer k computed
// from the live weights w (host copies, taken once per cache build).
func (r *trainRun) cacheFingerprint(k int, w map[string]*model.Tensor) (cachefmt.Fingerprint, error) {
	data, err := r.datasetHash()
	if err != nil {
		return cachefmt.Fingerprint{}, err
	}
	dtype, err := cachefmt.ParseDtype(r.cfg.CacheDType)
	if err != nil {
		return cachefmt.Fingerprint{}, err
	}
	return precompute.Fingerprint(precompute.Prefix{Model: r.mcfg, Weights: w, Layer: k, Tokenizer: r.tok.Hash(),
		MaxLength: r.cfg.MaxLength, Dataset: data, Dtype: dtype,
		Engine: r.cfg.Engine, Fused: r.cfg.Fused, Int8: r.cfg.Int8, BF16: r.cfg.BF16()})
}

func (r *trainRun) openCache(dir string, k int, fp cachefmt.Fingerprint) (*activationCache, error) {
	c, err := cachefmt.OpenCache(filepath.Join(r.cfg.Out, dir), fp, &cachefmt.ReaderOptions{InMemory: r.cfg.Cache == "memory"})
	if err != nil {
		return nil, err
	}
	return &activationCache{ref: CacheRef{Dir: dir, K: k, Fingerprint: fp.Hash()}, cache: c, hidden: c.Hidden()}, nil
}

// buildCache makes the cache of the activations entering layer k: reused
// when a verified one is there (a resumed run), advanced from the cache at
// the previous freeze point when there is one (only the newly frozen layers
// run), built from the tokens otherwise.
func (r *trainRun) buildCache(k int) (*activationCache, error) {
	w, err := r.enc.Weights()
	if err != nil {
		return nil, err
	}
	fp, err := r.cacheFingerprint(k, w)
	if err != nil {
		return nil, err
	}
	rel := filepath.Join("cache", fmt.Sprintf("K-%d", k))
	dir := filepath.Join(r.cfg.Out, rel)
	// Rank 0 checks what is there (and clears a bad cache) before any rank
	// writes; on several ranks, each then builds its shard of the rows.
	ready := []int64{0}
	var clearErr error
	if r.world.Main() {
		if err := cachefmt.Verify(dir, &fp); err == nil {
			ready[0] = 1
		} else if _, statErr := os.Stat(dir); statErr == nil {
			r.log.Warn("activation cache does not verify; rebuilding it", "dir", dir, "reason", err)
			clearErr = os.RemoveAll(dir)
		}
	}
	if err := r.agree(clearErr, "clearing the activation cache"); err != nil {
		return nil, err
	}
	if err := r.world.BroadcastInt64(ready); err != nil {
		return nil, err
	}
	if ready[0] == 1 {
		return r.openCache(rel, k, fp)
	}
	var from *activationCache
	if r.prefix != nil {
		for _, c := range []*activationCache{r.prefix.pending, r.prefix.active} {
			if c != nil && c.ref.K < k && (from == nil || c.ref.K > from.ref.K) {
				from = c
			}
		}
	}
	start := 0
	if from != nil {
		start = from.ref.K
	}
	engine, closeEngine, err := r.prefixEngine(model.Range{Start: start, End: k}, w)
	if err != nil {
		return nil, err
	}
	defer closeEngine()
	job := r.cacheJob(dir, fp)
	t0 := time.Now()
	// The run's context: a cancelled run abandons the build (its shard's
	// temporary file is removed, and a resumed run builds it again).
	if from != nil {
		err = precompute.Advance(r.context(), job, engine, from.cache)
	} else {
		err = precompute.Build(r.context(), job, engine)
	}
	// One shard per rank: once all are written, rank 0 joins them.
	if err := r.agree(err, "building the activation cache's shards"); err != nil {
		return nil, err
	}
	if r.world.Size() > 1 {
		var combineErr error
		if r.world.Main() {
			_, combineErr = cachefmt.Combine(dir, &cachefmt.CombineOptions{Want: &fp, Logger: r.log})
		}
		if err := r.agree(combineErr, "combining the activation cache"); err != nil {
			return nil, err
		}
	}
	built := time.Since(t0).Seconds()
	c, err := r.openCache(rel, k, fp)
	if err != nil {
		return nil, err
	}
	c.buildSeconds = built
	bytes := c.bytes()
	r.log.Info("activation cache built", "k", k, "from_layer", start, "engine", r.cfg.Engine, "rows", c.cache.Rows(), "bytes", bytes, "seconds", fmt.Sprintf("%.1f", time.Since(t0).Seconds()))
	err = r.metrics.write(map[string]any{"type": "cache", "event": "built", "step": r.st.Step, "elapsed_s": r.elapsed(), "k": k,
		"from_layer": start, "engine": r.cfg.Engine, "rows": c.cache.Rows(), "bytes": bytes, "build_seconds": time.Since(t0).Seconds(), "dir": rel})
	return c, err
}

// reopenCache reopens a cache a checkpoint refers to. It goes through
// buildCache, which verifies every checksum and the fingerprint first and
// rebuilds a cache that is missing, corrupt or stale: a cache is never
// trusted unverified.
func (r *trainRun) reopenCache(ref CacheRef) error {
	c, err := r.buildCache(ref.K)
	if err != nil {
		return err
	}
	c.ref.FromEpoch, c.ref.FromMicro = ref.FromEpoch, ref.FromMicro
	if r.prefix == nil {
		r.prefix = &prefixState{}
	}
	if r.prefix.pending != nil { // the older of two: it becomes active
		r.prefix.active = r.prefix.pending
	}
	r.prefix.pending = c
	r.promote(r.st.Epoch, r.st.Micro)
	return nil
}

// torchEngine runs a layer range of the live encoder in libtorch.
type torchEngine struct {
	r   *trainRun
	rng model.Range
}

func (e torchEngine) Run(b text.Batch, in []float32) ([]float32, error) {
	return e.r.enc.Hidden(b, e.rng, in)
}

// prefixEngine is what runs layers rng to fill a cache: ONNX Runtime on a
// fresh export of the live weights, or libtorch.
func (r *trainRun) prefixEngine(rng model.Range, w map[string]*model.Tensor) (precompute.Engine, func(), error) {
	switch r.cfg.Engine {
	case "torch":
		return torchEngine{r, rng}, func() {}, nil
	case "onnx":
		return r.onnxEngine(rng, w)
	}
	return nil, nil, fmt.Errorf("unknown engine %q", r.cfg.Engine)
}
