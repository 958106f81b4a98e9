package run

import (
	"fmt"

	"github.com/autofreeze/autofreeze/freeze"
)

// decideFreeze asks the policy at the end of a freeze interval and, when it
// moves the freeze point, freezes the layers and moves the prefix to the
// activation cache.
func (r *trainRun) decideFreeze(epoch, micro int) error {
	var norms []float64
	if r.fcfg.Mode == freeze.Auto {
		var err error
		if norms, err = r.tr.TakeLayerGradNorms(r.fcfg.Norm == freeze.L2); err != nil {
			return err
		}
	}
	// The norms are of gradients summed over all ranks, so every rank
	// holds the same; rank 0 alone decides, and every rank follows it.
	var d freeze.Decision
	var observeErr error
	if r.world.Main() {
		if d, observeErr = r.policy.Observe(r.st.Step, norms); observeErr != nil {
			observeErr = fmt.Errorf("freeze policy at step %d: %w", r.st.Step, observeErr)
		}
	}
	if err := r.agree(observeErr, "rank 0's freeze decision"); err != nil {
		return err
	}
	if r.world.Size() > 1 {
		k := []int64{int64(d.K)}
		if err := r.world.BroadcastInt64(k); err != nil {
			return fmt.Errorf("freeze decision at step %d: %w", r.st.Step, err)
		}
		if !r.world.Main() {
			d = freeze.Decision{Step: r.st.Step, OldK: r.tr.Frozen(), K: int(k[0]), Reason: "rank 0's decision"}
		}
	}
	if err := r.metrics.write(struct {
		Type     string  `json:"type"`
		ElapsedS float64 `json:"elapsed_s"`
		*freeze.Decision
	}{"freeze", r.elapsed(), &d}); err != nil {
		return err
	}
	if !d.Changed() {
		r.log.Debug("freeze decision", "step", d.Step, "k", d.K, "reason", d.Reason)
		return nil
	}
	r.log.Info("freezing", "step", d.Step, "from", d.OldK, "to", d.K, "reason", d.Reason)
	if err := r.tr.Freeze(d.K); err != nil {
		return err
	}
	if err := r.prefixMoved(epoch, micro); err != nil {
		return err
	}
	// Efficiency mode may give workers back, once this step's evaluation
	// and checkpoint are done.
	r.resizeDue = r.cfg.Mode == "efficiency"
	return nil
}
