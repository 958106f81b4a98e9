package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/autofreeze/autofreeze/cachefmt"
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/precompute"
)

// With --cache-build background, a freeze decision does not stop training
// while the new cache is built: ONNX Runtime fills it in another goroutine
// from a snapshot of the frozen weights, and the suffix keeps training,
// running the newly frozen layers itself under no-grad (from the older
// cache, when there is one). Training switches to the new cache at a step
// fixed in advance, --cache-lag steps after the decision, and waits there
// if the build is not done; a build that a newer freeze point makes useless
// before then is cancelled. The switch step does not depend on how long the
// build takes, so the run is as deterministic as a blocking one: a resumed
// run rebuilds the cache a checkpoint was waiting for (blocking, since its
// switch step is what matters) and switches at the same step.

// backgroundBuild is a cache being built beside training.
type backgroundBuild struct {
	ref    CacheRef // the cache it makes and the micro-batch to switch at
	from   int      // the layer its input enters (0: the tokens)
	cancel context.CancelFunc
	done   chan struct{}
	// Set by the build's goroutine before done closes.
	cache   *activationCache
	err     error
	seconds float64
}

// useBackground reports whether a cache for a freeze decision is built in
// the background: asked for, and a single process (the ranks of a
// data-parallel run build their shards together, in step).
func (r *trainRun) useBackground() bool {
	return r.cfg.CacheBuild == "background" && r.world.Size() == 1 && r.st.Step > 0
}

// cacheLag is how many steps after a freeze decision training switches to
// the cache built in the background (0: one freeze interval).
func (r *trainRun) cacheLag() int {
	if r.cfg.CacheLag > 0 {
		return r.cfg.CacheLag
	}
	return max(r.interval, 1)
}

// startBackgroundBuild starts building the cache at layer k beside
// training, to be read from lag steps after this one (epoch, micro).
func (r *trainRun) startBackgroundBuild(k, epoch, micro int) error {
	if err := r.cancelBackgroundBuild(); err != nil {
		return err
	}
	if r.prefix != nil && r.prefix.pending != nil {
		// A cache waiting for its switch (a resumed run's rebuild of a
		// background build) is superseded too.
		r.prefix.pending.close()
		r.prefix.pending = nil
	}
	w, err := r.enc.Weights()
	if err != nil {
		return err
	}
	fp, err := r.cacheFingerprint(k, w)
	if err != nil {
		return err
	}
	rel := filepath.Join("cache", fmt.Sprintf("K-%d", k))
	dir := filepath.Join(r.cfg.Out, rel)
	if _, err := os.Stat(dir); err == nil {
		// What a build of this freeze point left: a verified cache of
		// other weights, or an interrupted build's files.
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	// The build reads the active cache through a handle of its own:
	// training reads it meanwhile, and a Cache is not shared by goroutines.
	from := 0
	var src *cachefmt.Cache
	if r.prefix != nil && r.prefix.active != nil && r.prefix.active.ref.K < k {
		a := r.prefix.active
		if src, err = cachefmt.OpenCache(filepath.Join(r.cfg.Out, a.ref.Dir), a.cache.Manifest().Fingerprint, nil); err != nil {
			return err
		}
		from = a.ref.K
	}
	sw := micro + r.cacheLag()*r.cfg.GradAccum
	swEpoch, swMicro := epoch+sw/r.microPerEpoch, sw%r.microPerEpoch
	ctx, cancel := context.WithCancel(r.context())
	b := &backgroundBuild{ref: CacheRef{Dir: rel, K: k, FromEpoch: swEpoch, FromMicro: swMicro, Fingerprint: fp.Hash()},
		from: from, cancel: cancel, done: make(chan struct{})}
	job := r.cacheJob(dir, fp)
	r.log.Info("building the activation cache in the background", "k", k, "from_layer", from, "switch_epoch", swEpoch+1, "switch_micro", swMicro)
	go func() {
		defer close(b.done)
		if src != nil {
			defer src.Close()
		}
		t0 := time.Now()
		engine, closeEngine, err := r.onnxEngine(model.Range{Start: from, End: k}, w)
		if err != nil {
			b.err = err
			return
		}
		defer closeEngine()
		if src != nil {
			err = precompute.Advance(ctx, job, engine, src)
		} else {
			err = precompute.Build(ctx, job, engine)
		}
		if err != nil {
			b.err = err
			return
		}
		b.seconds = time.Since(t0).Seconds()
		b.cache, b.err = r.openCache(rel, k, fp)
	}()
	if r.prefix == nil {
		r.prefix = &prefixState{}
	}
	r.prefix.building = b
	return nil
}

// cancelBackgroundBuild stops a build that a newer freeze point (or the
// end of the run) makes useless, and waits for it to let go of its files.
func (r *trainRun) cancelBackgroundBuild() error {
	if r.prefix == nil || r.prefix.building == nil {
		return nil
	}
	b := r.prefix.building
	r.prefix.building = nil
	b.cancel()
	<-b.done
	if b.cache != nil {
		b.cache.close()
	}
	r.log.Info("background cache build superseded", "k", b.ref.K)
	if err := os.RemoveAll(filepath.Join(r.cfg.Out, b.ref.Dir)); err != nil {
		return err
	}
	return r.metrics.write(map[string]any{"type": "cache", "event": "cancelled", "step": r.st.Step, "elapsed_s": r.elapsed(), "k": b.ref.K})
}

// joinBackgroundBuild makes the background build's cache active once
// training reaches its switch point (epoch, micro), waiting for it if it
// is not done.
func (r *trainRun) joinBackgroundBuild(epoch, micro int) error {
	if r.prefix == nil || r.prefix.building == nil {
		return nil
	}
	b := r.prefix.building
	if epoch < b.ref.FromEpoch || (epoch == b.ref.FromEpoch && micro < b.ref.FromMicro) {
		return nil
	}
	t0 := time.Now()
	<-b.done
	waited := time.Since(t0).Seconds()
	r.prefix.building = nil
	if b.err != nil {
		if errors.Is(b.err, context.Canceled) && r.context().Err() != nil {
			return r.context().Err()
		}
		return fmt.Errorf("building the activation cache at layer %d in the background: %w", b.ref.K, b.err)
	}
	c := b.cache
	c.ref.FromEpoch, c.ref.FromMicro = b.ref.FromEpoch, b.ref.FromMicro
	c.buildSeconds = b.seconds
	r.log.Info("activation cache built in the background", "k", c.ref.K, "from_layer", b.from, "seconds", fmt.Sprintf("%.1f", b.seconds), "waited", fmt.Sprintf("%.1f", waited))
	if err := r.metrics.write(map[string]any{"type": "cache", "event": "built", "step": r.st.Step, "elapsed_s": r.elapsed(), "k": c.ref.K,
		"from_layer": b.from, "engine": "onnx", "rows": c.cache.Rows(), "bytes": c.bytes(), "build_seconds": b.seconds,
		"background": true, "waited_seconds": waited, "dir": c.ref.Dir}); err != nil {
		c.close()
		return err
	}
	if r.prefix.pending != nil {
		r.prefix.pending.close()
	}
	r.prefix.pending = c
	r.promote(epoch, micro)
	return nil
}
