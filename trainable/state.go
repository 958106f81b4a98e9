package trainable

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/autofreeze/autofreeze/model"
)

// Names of AdamW's moments in a saved optimizer state, and of the layer
// gradient sums the freeze policy reads at its next decision.
const (
	expAvgPrefix   = "exp_avg/"
	expAvgSqPrefix = "exp_avg_sq/"
	gradSumPrefix  = "grad_sum/"
)

// OptimizerState copies AdamW's moments to host memory, named
// "exp_avg/<param>" and "exp_avg_sq/<param>", with the number of steps
// taken, and the gradients summed since the last TakeLayerGradNorms, named
// "grad_sum/<param>": a run resumed between two freeze decisions then
// decides exactly as one that was never stopped.
func (t *Trainer) OptimizerState() (tensors map[string]*model.Tensor, steps int64, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer guard(&err)
	tensors = map[string]*model.Tensor{}
	for name, st := range t.state {
		shape := st.m.MustSize()
		tensors[expAvgPrefix+name] = &model.Tensor{Shape: shape, Data: tensorToHost(st.m)}
		tensors[expAvgSqPrefix+name] = &model.Tensor{Shape: shape, Data: tensorToHost(st.v)}
	}
	for name, sum := range t.gradSum {
		tensors[gradSumPrefix+name] = &model.Tensor{Shape: sum.MustSize(), Data: tensorToHost(sum)}
	}
	return tensors, t.steps, nil
}

// RestoreOptimizerState loads moments saved by OptimizerState, replacing
// the current ones. Moments of frozen parameters are ignored.
func (t *Trainer) RestoreOptimizerState(tensors map[string]*model.Tensor, steps int64) (err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer guard(&err)
	specs := map[string]model.Param{}
	for _, p := range t.enc.specs {
		specs[p.Name] = p
	}
	for name := range tensors {
		if param, ok := strings.CutPrefix(name, gradSumPrefix); ok {
			if err := t.restoreGradSum(param, tensors[name], specs); err != nil {
				return err
			}
			continue
		}
		param, ok := strings.CutPrefix(name, expAvgPrefix)
		if !ok {
			if _, ok := strings.CutPrefix(name, expAvgSqPrefix); !ok {
				return fmt.Errorf("optimizer state: unexpected tensor %q", name)
			}
			continue
		}
		spec, ok := specs[param]
		if !ok {
			return fmt.Errorf("optimizer state: moments for unknown parameter %q", param)
		}
		sq, ok := tensors[expAvgSqPrefix+param]
		if !ok {
			return fmt.Errorf("optimizer state: %q has exp_avg but no exp_avg_sq", param)
		}
		m := tensors[name]
		if !sameShape(m.Shape, spec.Shape) || !sameShape(sq.Shape, spec.Shape) {
			return fmt.Errorf("optimizer state: moments of %q have shape %v, parameter has %v", param, m.Shape, spec.Shape)
		}
		if t.frozenParam(param) {
			continue
		}
		mt, err := hostToTensor(m.Data, m.Shape, t.enc.device)
		if err != nil {
			return err
		}
		vt, err := hostToTensor(sq.Data, sq.Shape, t.enc.device)
		if err != nil {
			return err
		}
		if old, ok := t.state[param]; ok {
			old.m.MustDrop()
			old.v.MustDrop()
		}
		t.state[param] = &moments{m: mt, v: vt}
	}
	t.steps = steps
	return nil
}

// restoreGradSum replaces the gradient sum of param (an encoder layer's,
// not frozen) with saved values.
func (t *Trainer) restoreGradSum(param string, saved *model.Tensor, specs map[string]model.Param) error {
	spec, ok := specs[param]
	if !ok || !strings.HasPrefix(param, "encoder.layer.") {
		return fmt.Errorf("optimizer state: gradient sum for unknown layer parameter %q", param)
	}
	if !sameShape(saved.Shape, spec.Shape) {
		return fmt.Errorf("optimizer state: gradient sum of %q has shape %v, parameter has %v", param, saved.Shape, spec.Shape)
	}
	if t.frozenParam(param) {
		return nil
	}
	x, err := hostToTensor(saved.Data, saved.Shape, t.enc.device)
	if err != nil {
		return err
	}
	if old, ok := t.gradSum[param]; ok {
		old.MustDrop()
	}
	t.gradSum[param] = x
	return nil
}

// SetWeights overwrites parameters with host values (for resuming from a
// checkpoint into an existing encoder).
func (e *Encoder) SetWeights(w map[string]*model.Tensor) (err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer guard(&err)
	for _, p := range e.specs {
		src, ok := w[p.Name]
		if !ok {
			return fmt.Errorf("missing tensor %q", p.Name)
		}
		if !sameShape(src.Shape, p.Shape) {
			return fmt.Errorf("tensor %q has shape %v, want %v", p.Name, src.Shape, p.Shape)
		}
		x, err := hostToTensor(src.Data, src.Shape, e.device)
		if err != nil {
			return err
		}
		dst := e.params[p.Name]
		noGradCopy(dst, x)
		x.MustDrop()
	}
	return nil
}
