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
	d, err := r.policy.Observe(r.st.Step, norms)
	if err != nil {
		return fmt.Errorf("freeze policy at step %d: %w", r.st.Step, err)
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
	return r.prefixMoved(epoch, micro)
}
