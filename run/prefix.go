package run

import (
	"errors"
	"fmt"

	"github.com/autofreeze/autofreeze/cachefmt"
	"github.com/autofreeze/autofreeze/text"
)

// prefixState is the frozen prefix's activation cache as the run sees it:
// the one training reads from (active) and one built for a newer freeze
// point that training switches to later (pending, with --cache-switch
// epoch).
type prefixState struct {
	active  *activationCache
	pending *activationCache
	// building is a cache being built in the background (--cache-build
	// background), read from its ref's switch point.
	building *backgroundBuild
}

func (p *prefixState) close() {
	if b := p.building; b != nil {
		b.cancel()
		<-b.done
		if b.cache != nil {
			b.cache.close()
		}
	}
	if p.active != nil {
		p.active.close()
	}
	if p.pending != nil {
		p.pending.close()
	}
}

// prefixMoved reacts to a new freeze point: with a cache, it builds (or
// advances) the activations at the new K; training switches to them at the
// next epoch, or at once with cache_switch immediate.
func (r *trainRun) prefixMoved(epoch, micro int) error {
	if r.cfg.Cache == "off" {
		return nil
	}
	k := r.tr.Frozen()
	if r.cfg.Cache == "auto" {
		if build, why := r.cacheWorthBuilding(k); !build {
			r.log.Info("not building the activation cache: it would not pay for itself", "k", k, "why", why)
			return r.metrics.write(map[string]any{"type": "cache", "event": "skipped", "step": r.st.Step, "elapsed_s": r.elapsed(), "k": k, "reason": why})
		}
	}
	if r.useBackground() {
		return r.startBackgroundBuild(k, epoch, micro)
	}
	if err := r.cancelBackgroundBuild(); err != nil {
		return err
	}
	c, err := r.buildCache(k)
	if err != nil {
		return fmt.Errorf("building the activation cache at layer %d: %w", k, err)
	}
	if r.prefix == nil {
		r.prefix = &prefixState{}
	}
	if r.prefix.pending != nil {
		r.prefix.pending.close()
	}
	c.ref.FromEpoch, c.ref.FromMicro = epoch+1, 0
	// Static freezing builds its cache before the first step: use it at once.
	if r.cfg.CacheSwitch == "immediate" || r.st.Step == 0 {
		c.ref.FromEpoch, c.ref.FromMicro = epoch, micro
	}
	r.prefix.pending = c
	r.promote(epoch, micro)
	return nil
}

// promote makes the pending cache active once its switch point is reached.
func (r *trainRun) promote(epoch, micro int) {
	p := r.prefix
	if p == nil || p.pending == nil {
		return
	}
	ref := p.pending.ref
	if epoch > ref.FromEpoch || (epoch == ref.FromEpoch && micro >= ref.FromMicro) {
		if p.active != nil {
			p.active.close()
		}
		p.active, p.pending = p.pending, nil
		ref := p.active.ref
		r.log.Info("training from the activation cache", "k", ref.K, "epoch", epoch+1, "dir", ref.Dir)
		r.metrics.write(map[string]any{"type": "cache", "event": "active", "step": r.st.Step, "elapsed_s": r.elapsed(), "k": ref.K, "dir": ref.Dir})
	}
}

// prefixHidden returns the cached hidden states for a batch and the layer
// they enter, or nil when training runs the prefix itself.
func (r *trainRun) prefixHidden(rows []int, b text.Batch) ([]float32, int, error) {
	if r.prefix == nil || r.prefix.active == nil {
		return nil, 0, nil
	}
	c := r.prefix.active
	h, err := c.batch(rows, b)
	if errors.Is(err, cachefmt.ErrCorrupt) && r.world.Size() > 1 {
		// Rebuilding takes every rank; this one alone found the damage.
		return nil, 0, fmt.Errorf("activation cache %s is corrupt (%w); restart the job: it verifies and rebuilds caches when it resumes", c.ref.Dir, err)
	}
	if errors.Is(err, cachefmt.ErrCorrupt) {
		// Never train from a damaged cache: rebuild it and read again.
		r.log.Warn("activation cache is corrupt; rebuilding it", "dir", c.ref.Dir, "err", err)
		ref := c.ref
		fresh, berr := r.buildCache(ref.K)
		if berr != nil {
			return nil, 0, fmt.Errorf("rebuilding corrupt cache %s: %w", ref.Dir, berr)
		}
		fresh.ref.FromEpoch, fresh.ref.FromMicro = ref.FromEpoch, ref.FromMicro
		c.close()
		r.prefix.active, c = fresh, fresh
		h, err = c.batch(rows, b)
	}
	if err != nil {
		return nil, 0, err
	}
	return h, c.ref.K, nil
}

// cacheWorthBuilding is --cache auto's choice at a new freeze point k. A
// cache at k is built from the best cache there is (at layer from < k, or
// the tokens: from = 0) by running layers [from, k) once over every
// training example; without it, every remaining training example runs
// those same layers under no-grad. Counting the cost in layer-examples,
// alike on both sides (ONNX Runtime, which builds, is if anything faster
// than libtorch's no-grad forward, and reading a cache costs a few percent
// of either), the build pays for itself when at least as many training
// examples remain as the cache holds: when an epoch or more is left. The
// choice depends only on the step, never on the clock, so runs stay
// reproducible and resumable.
func (r *trainRun) cacheWorthBuilding(k int) (bool, string) {
	rows := r.train.len()
	remaining := (r.st.TotalSteps - r.st.Step) * r.cfg.BatchSize * r.cfg.GradAccum
	from := 0
	if r.prefix != nil {
		for _, c := range []*activationCache{r.prefix.pending, r.prefix.active} {
			if c != nil && c.ref.K < k {
				from = max(from, c.ref.K)
			}
		}
	}
	layers := fmt.Sprintf("layers %d-%d", from, k-1)
	if k-from == 1 {
		layers = fmt.Sprintf("layer %d", from)
	}
	why := fmt.Sprintf("building runs %s over %d examples; %d training examples remain, each of which would otherwise run them", layers, rows, remaining)
	return remaining >= rows, why
}
