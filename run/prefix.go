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
}

func (p *prefixState) close() {
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
