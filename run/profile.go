package run

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/autofreeze/autofreeze/plan"
	"github.com/autofreeze/autofreeze/text"
	"github.com/autofreeze/autofreeze/trainable"
)

// ProfileOptions tune Profile.
type ProfileOptions struct {
	// Steps is how many optimizer steps are timed at each freeze point
	// (after one untimed warm-up step). 0 means 3.
	Steps  int
	Logger *slog.Logger // nil: discard
}

// Profile measures, on this machine and with cfg's model, data, sequence
// length and global batch, what the cost model (package plan) needs: the
// time of one optimizer step with each number k of frozen layers (the
// prefix read from an activation cache, as training reads it), the bytes
// of gradient a step sums across ranks, and the time to build the cache
// entering layer k, per example. It trains on a seeded sample of
// (Steps+1) global batches in a temporary run directory, which it removes.
func Profile(ctx context.Context, cfg Config, o ProfileOptions) (plan.Profile, error) {
	if o.Steps <= 0 {
		o.Steps = 3
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg = cfg.WithDefaults()
	tmp, err := os.MkdirTemp("", "autofreeze-profile-*")
	if err != nil {
		return plan.Profile{}, err
	}
	defer os.RemoveAll(tmp)
	global := cfg.BatchSize * cfg.GradAccum
	pc := cfg
	pc.Out = filepath.Join(tmp, "run")
	pc.Freeze, pc.Cache = "off", "disk"
	pc.Mode, pc.Profile = "performance", "" // the profile may be what is being made
	pc.TrainLimit, pc.EvalLimit = (o.Steps+1)*global, 1
	pc.Epochs, pc.MaxSteps = 1, 0
	if err := pc.Validate(); err != nil {
		return plan.Profile{}, badInput(err)
	}
	r := &trainRun{cfg: pc, log: log}
	defer r.close()
	if err := r.prepare(); err != nil {
		return plan.Profile{}, err
	}
	if r.train.len() < (o.Steps+1)*global {
		return plan.Profile{}, badInput(fmt.Errorf("%s: profiling %d steps of %d examples needs %d training examples, the data has %d: lower --steps or the batch", cfg.Train, o.Steps, global, (o.Steps+1)*global, r.train.len()))
	}
	examples := r.train.population // the run's data, before this profile's sample
	if cfg.TrainLimit > 0 {
		examples = min(examples, cfg.TrainLimit)
	}
	L := r.mcfg.NumLayers
	p := plan.Profile{Model: filepath.Base(filepath.Clean(cfg.Model)), Layers: L, Examples: examples, Epochs: cfg.Epochs,
		GlobalBatch: global, Threads: trainable.Threads(),
		StepSeconds: make([]float64, L), GradBytes: make([]int64, L), CacheSecondsPerExample: make([]float64, L)}
	order := text.EpochOrder(r.train.len(), cfg.Seed, 0)
	for k := 0; k < L; k++ {
		if err := ctx.Err(); err != nil {
			return plan.Profile{}, err
		}
		if k > 0 {
			if err := r.tr.Freeze(k); err != nil {
				return plan.Profile{}, err
			}
			// A cache built from the tokens, as a cache job builds it.
			if r.prefix != nil {
				r.prefix.close()
				r.prefix = nil
			}
			c, err := r.buildCache(k)
			if err != nil {
				return plan.Profile{}, fmt.Errorf("building the cache at layer %d: %w", k, err)
			}
			// The rows' share only: the export and session, paid once
			// per build, would weigh too much on a small sample.
			p.CacheSecondsPerExample[k] = c.buildSeconds / float64(c.cache.Rows())
			r.prefix = &prefixState{active: c}
		}
		p.GradBytes[k] = r.tr.TrainableBytes()
		var timed time.Duration
		for s := 0; s <= o.Steps; s++ {
			t0 := time.Now()
			if _, _, err := r.step(0, s, order[s*global:(s+1)*global], cfg.LR); err != nil {
				return plan.Profile{}, fmt.Errorf("profiling step %d at k=%d: %w", s, k, err)
			}
			if s > 0 { // the first step warms up
				timed += time.Since(t0)
			}
		}
		p.StepSeconds[k] = timed.Seconds() / float64(o.Steps)
		log.Info("profiled", "k", k, "step_seconds", fmt.Sprintf("%.3f", p.StepSeconds[k]), "grad_bytes", p.GradBytes[k],
			"cache_seconds_per_example", fmt.Sprintf("%.4f", p.CacheSecondsPerExample[k]))
	}
	return p, p.Validate()
}
