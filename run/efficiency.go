package run

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/autofreeze/autofreeze/internal/atomicfile"
	"github.com/autofreeze/autofreeze/plan"
)

// ErrResize ends a data-parallel run in efficiency mode that gave workers
// back: every rank returns it after rank 0 has checkpointed and written the
// new world size to Options.ResizeFile, and the launcher starts the run
// again on that many ranks, resuming from the checkpoint.
var ErrResize = errors.New("efficiency mode: restarting on fewer workers")

// maybeResize is efficiency mode's step after the freeze point moved: rank
// 0 asks the cost model (plan.WorldSizeFor, on the measured profile) how
// many workers the rest of the run needs to stay no slower than full
// fine-tuning on the workers it started with, and every rank learns the
// answer.
func (r *trainRun) maybeResize() error {
	if r.cfg.Mode != "efficiency" || r.world.Size() == 1 {
		return nil
	}
	want := []int64{int64(r.world.Size())}
	var planErr error
	if r.world.Main() {
		var w int
		w, planErr = r.efficientWorldSize()
		want[0] = int64(w)
	}
	if err := r.agree(planErr, "efficiency mode's cost model"); err != nil {
		return err
	}
	if err := r.world.BroadcastInt64(want); err != nil {
		return err
	}
	w := int(want[0])
	if w >= r.world.Size() {
		return nil
	}
	if r.opts.ResizeFile == "" {
		r.log.Warn("efficiency mode would continue on fewer workers, but the launcher cannot restart at another size (use autofreeze launch); keeping them",
			"workers", r.world.Size(), "wanted", w)
		return nil
	}
	var saveErr error
	if r.world.Main() {
		saveErr = r.saveForResize(w)
	}
	// Nobody leaves before the checkpoint is written.
	if err := r.agree(saveErr, "checkpointing for the restart on fewer workers"); err != nil {
		return err
	}
	return ErrResize
}

// loadProfile reads efficiency mode's profile when the run starts, so a
// bad one fails then rather than at the first freeze.
func (r *trainRun) loadProfile() error {
	if r.cfg.Mode != "efficiency" {
		return nil
	}
	p, err := plan.ReadProfile(r.cfg.Profile)
	if err != nil {
		return badInput(err)
	}
	if p.Layers != r.mcfg.NumLayers {
		return badInput(fmt.Errorf("profile %s is of a %d-layer model, the run's has %d: profile this model with autofreeze plan profile", r.cfg.Profile, p.Layers, r.mcfg.NumLayers))
	}
	if global := r.cfg.BatchSize * r.cfg.GradAccum; p.GlobalBatch != global {
		return badInput(fmt.Errorf("profile %s was measured with a global batch of %d, the run's is %d (batch-size × grad-accum): profile with the run's settings", r.cfg.Profile, p.GlobalBatch, global))
	}
	r.profile = &p
	return nil
}

func (r *trainRun) efficientWorldSize() (int, error) {
	p := *r.profile
	c := r.cfg.cluster()
	c.Workers = r.st.InitialWorldSize
	if c.Workers < r.world.Size() {
		c.Workers = r.world.Size()
	}
	return plan.WorldSizeFor(p, c, r.tr.Frozen(), r.world.Size(), r.st.TotalSteps-r.st.Step)
}

// saveForResize is rank 0's part of giving workers back: a checkpoint to
// resume from, a record in the log, and the new size for the launcher.
func (r *trainRun) saveForResize(w int) error {
	if err := r.checkpoint(false); err != nil {
		return err
	}
	if err := r.metrics.write(map[string]any{"type": "resize", "step": r.st.Step, "elapsed_s": r.elapsed(),
		"from_workers": r.world.Size(), "to_workers": w, "frozen_layers": r.tr.Frozen()}); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(r.opts.ResizeFile, []byte(strconv.Itoa(w)+"\n")); err != nil {
		return fmt.Errorf("writing the new world size to %s: %w", r.opts.ResizeFile, err)
	}
	r.log.Info("efficiency mode: continuing on fewer workers", "from", r.world.Size(), "to", w, "step", r.st.Step)
	return nil
}

// cluster is the cluster efficiency mode prices its choices on: the
// configured values over plan.DefaultCluster's.
func (c Config) cluster() plan.Cluster {
	return plan.DefaultCluster().With(c.ClusterBandwidthGbps, c.ClusterLatencyUs, c.ClusterRestartSeconds, c.ClusterScalingEfficiency)
}
