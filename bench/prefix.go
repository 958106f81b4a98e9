package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/autofreeze/autofreeze/cachefmt"
	"github.com/autofreeze/autofreeze/frozen"
	"github.com/autofreeze/autofreeze/frozen/export"
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/text"
	"github.com/autofreeze/autofreeze/trainable"
)

// PrefixCosts is what one epoch's activations of the frozen prefix [0, K)
// cost to obtain, three ways, over the same training examples.
type PrefixCosts struct {
	K, Examples, Tokens int
	// CacheDisk reads every row of the run's disk cache in the epoch's
	// shuffled order (decoding each row group as needed); CacheMemory
	// decodes the whole cache into RAM first (included) and then reads it.
	CacheDisk, CacheMemory float64
	// ONNX and Torch run layers [0, K) over the examples (no-grad, batches
	// of similar length) on ONNX Runtime and in libtorch.
	ONNX, Torch float64
	CacheBytes  int64
}

// MeasurePrefix times the three ways of obtaining the activations of the
// cache a run built at layer k.
func MeasurePrefix(ctx context.Context, o Options, runDir string, k int, ortLib string) (*PrefixCosts, error) {
	cacheDir := filepath.Join(runDir, "cache", fmt.Sprintf("K-%d", k))
	m, err := cachefmt.ReadManifest(cacheDir)
	if err != nil {
		return nil, err
	}
	pc := &PrefixCosts{K: k, Examples: int(m.Rows), Tokens: int(m.Tokens)}
	for _, s := range m.Shards {
		pc.CacheBytes += s.Bytes
	}
	order := text.EpochOrder(int(m.Rows), o.Seed, 1)
	for _, inMemory := range []bool{false, true} {
		t0 := time.Now()
		c, err := cachefmt.OpenCache(cacheDir, m.Fingerprint, &cachefmt.ReaderOptions{InMemory: inMemory})
		if err != nil {
			return nil, err
		}
		batches := cachefmt.NewBatches(ctx, c, order, o.BatchSize, nil)
		for {
			if _, err := batches.Next(); err == io.EOF {
				break
			} else if err != nil {
				batches.Close()
				c.Close()
				return nil, err
			}
		}
		batches.Close()
		c.Close()
		if inMemory {
			pc.CacheMemory = time.Since(t0).Seconds()
		} else {
			pc.CacheDisk = time.Since(t0).Seconds()
		}
	}

	cfg, err := model.LoadConfig(o.Model)
	if err != nil {
		return nil, err
	}
	w, err := model.LoadWeights(o.Model, cfg)
	if err != nil {
		return nil, err
	}
	tok, err := text.LoadTokenizer(o.Model)
	if err != nil {
		return nil, err
	}
	ds, err := text.LoadDataset(o.Train, text.DatasetOptions{})
	if err != nil {
		return nil, err
	}
	encs := text.EncodeAll(tok, firstN(ds.Examples, int(m.Rows)), o.MaxLength)
	batches := lengthBatches(tok, encs, o.BatchSize)
	rng := model.Range{Start: 0, End: k}

	if err := frozen.InitRuntime(ortLib); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "autofreeze-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	runner, err := frozen.ExportAndOpen(filepath.Join(tmp, "prefix.onnx"), cfg, w.Tensors, export.ExportOptions{Range: rng},
		frozen.RunnerOptions{IntraOpThreads: o.Threads})
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	for _, b := range batches {
		if _, err := runner.Run(frozen.Batch{Size: b.Size, SeqLen: b.SeqLen, InputIDs: b.IDs, TokenTypeIDs: b.TypeIDs, Mask: b.Mask}); err != nil {
			runner.Close()
			return nil, err
		}
	}
	pc.ONNX = time.Since(t0).Seconds()
	runner.Close()

	trainable.SetThreads(o.Threads)
	enc, err := trainable.New(cfg, w.Tensors, 0, trainable.Options{})
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	t0 = time.Now()
	for _, b := range batches {
		if _, err := enc.Hidden(b, rng, nil); err != nil {
			return nil, err
		}
	}
	pc.Torch = time.Since(t0).Seconds()
	return pc, nil
}

func firstN(xs []text.Example, n int) []text.Example { return xs[:min(n, len(xs))] }

// lengthBatches pads encodings in batches of similar length.
func lengthBatches(tok *text.Tokenizer, encs []text.Encoding, size int) []text.Batch {
	sorted := slices.Clone(encs)
	slices.SortStableFunc(sorted, func(a, b text.Encoding) int { return a.Len() - b.Len() })
	var out []text.Batch
	for i := 0; i < len(sorted); i += size {
		out = append(out, tok.Pad(sorted[i:min(i+size, len(sorted))]))
	}
	return out
}
