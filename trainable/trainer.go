package trainable

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"unsafe"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/text"
)

// OptimConfig configures AdamW and the step. The zero value means the
// usual BERT fine-tuning settings.
type OptimConfig struct {
	WeightDecay float64 // 0 means 0.01; negative means none
	Beta1       float64 // 0 means 0.9
	Beta2       float64 // 0 means 0.999
	Eps         float64 // 0 means 1e-8
	// MaxGradNorm clips the global L2 norm of the gradients; 0 means 1.0,
	// negative means no clipping.
	MaxGradNorm float64
	// NoDropout turns dropout off in training (for tests that compare
	// against a deterministic reference).
	NoDropout bool
}

func (c OptimConfig) withDefaults() OptimConfig {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.WeightDecay, 0.01)
	def(&c.Beta1, 0.9)
	def(&c.Beta2, 0.999)
	def(&c.Eps, 1e-8)
	def(&c.MaxGradNorm, 1.0)
	return c
}

// moments are AdamW's running averages for one parameter.
type moments struct{ m, v *ts.Tensor }

// Trainer fine-tunes an Encoder: forward and backward on batches, AdamW
// steps with decoupled weight decay (none on biases and LayerNorm weights),
// global gradient clipping, and freezing of a prefix of layers.
//
// Frozen layers (and, from K >= 1, the embeddings) have no gradient, leave
// the optimizer (their moments are freed and no decay touches them), and
// run without dropout under no-grad; their weights stay bit-identical.
type Trainer struct {
	enc    *Encoder
	cfg    OptimConfig
	frozen int
	steps  int64
	state  map[string]*moments
	decay  map[string]bool
	// layer maps each parameter to the freeze point that freezes it: 1 for
	// the embeddings and layer 0, i+1 for layer i, and past the last layer
	// for the pooler and head, which never freeze.
	layer map[string]int
	// gradSum accumulates each encoder layer parameter's gradient between
	// calls to TakeLayerGradNorms, for the freeze policy.
	gradSum map[string]*ts.Tensor
	// trackGrads turns that accumulation on.
	trackGrads bool
	// sync, when set, sums the trainable gradients across data-parallel
	// ranks before each step.
	sync func([]unsafe.Pointer) error
}

// SyncGrads makes Step first sum the trainable parameters' gradients with
// sum (across data-parallel ranks: each rank's loss is already scaled by
// its share of the global batch), which gets libtorch tensor handles
// (torch::Tensor*) valid for the call. Frozen parameters never take part.
func (t *Trainer) SyncGrads(sum func(handles []unsafe.Pointer) error) { t.sync = sum }

// handles are the libtorch handles of tensors, for code that passes them
// to C (package distributed); xs must stay alive while they are used.
func handles(xs []*ts.Tensor) []unsafe.Pointer {
	out := make([]unsafe.Pointer, len(xs))
	for i, x := range xs {
		out[i] = x.Ctensor()
	}
	return out
}

// BroadcastParameters replaces every parameter (frozen or not, in a fixed
// order) with what bcast leaves in it: across ranks, rank 0's values.
func (t *Trainer) BroadcastParameters(bcast func(handles []unsafe.Pointer) error) error {
	params := make([]*ts.Tensor, len(t.enc.specs))
	for i, p := range t.enc.specs {
		params[i] = t.enc.params[p.Name]
	}
	err := bcast(handles(params))
	runtime.KeepAlive(params)
	return err
}

// TrainableBytes is the size of the gradients a step computes (and a
// data-parallel step sums across ranks): the trainable parameters at fp32.
func (t *Trainer) TrainableBytes() int64 {
	var n int64
	for _, p := range t.enc.specs {
		if t.frozenParam(p.Name) {
			continue
		}
		elems := int64(1)
		for _, d := range p.Shape {
			elems *= d
		}
		n += 4 * elems
	}
	return n
}

// NewTrainer prepares enc for training with cfg.
func NewTrainer(enc *Encoder, cfg OptimConfig) *Trainer {
	t := &Trainer{enc: enc, cfg: cfg.withDefaults(), state: map[string]*moments{}, decay: map[string]bool{},
		layer: map[string]int{}, gradSum: map[string]*ts.Tensor{}}
	for _, p := range enc.specs {
		t.decay[p.Name] = !p.NoDecay && t.cfg.WeightDecay > 0
		t.layer[p.Name] = enc.cfg.NumLayers + 1
	}
	for _, p := range enc.cfg.EmbeddingParams() {
		t.layer[p.Name] = 1
	}
	for i := 0; i < enc.cfg.NumLayers; i++ {
		for _, p := range enc.cfg.LayerParams(i) {
			t.layer[p.Name] = i + 1
		}
	}
	return t
}

// Encoder is the model being trained.
func (t *Trainer) Encoder() *Encoder { return t.enc }

// Steps is the number of optimizer steps taken.
func (t *Trainer) Steps() int64 { return t.steps }

// Frozen is K: layers [0, K) and, when K >= 1, the embeddings are frozen.
func (t *Trainer) Frozen() int { return t.frozen }

// TrackLayerGrads turns on the accumulation of each encoder layer's
// gradients that TakeLayerGradNorms reads (the freeze policy's signal).
func (t *Trainer) TrackLayerGrads(on bool) { t.trackGrads = on }

// frozenParam reports whether parameter name is frozen at K = t.frozen.
func (t *Trainer) frozenParam(name string) bool { return t.layer[name] <= t.frozen }

// Freeze freezes layers [0, k) and the embeddings. K only grows; the last
// encoder layer and the head always train.
func (t *Trainer) Freeze(k int) (err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer guard(&err)
	if k < t.frozen {
		return fmt.Errorf("cannot unfreeze: %d layers are frozen, asked for %d", t.frozen, k)
	}
	if k > t.enc.cfg.NumLayers-1 {
		return fmt.Errorf("cannot freeze %d layers: the last of the %d layers always trains", k, t.enc.cfg.NumLayers)
	}
	t.frozen = k
	for _, p := range t.enc.specs {
		if !t.frozenParam(p.Name) {
			continue
		}
		x := t.enc.params[p.Name]
		if x.MustRequiresGrad() {
			x.MustRequiresGrad_(false)
			zeroGrad(x)
		}
		if st, ok := t.state[p.Name]; ok {
			st.m.MustDrop()
			st.v.MustDrop()
			delete(t.state, p.Name)
		}
		if g, ok := t.gradSum[p.Name]; ok {
			g.MustDrop()
			delete(t.gradSum, p.Name)
		}
	}
	return nil
}

// Targets are one batch's training targets, for the problem the head is
// trained for.
type Targets struct {
	Problem model.Problem // "" is SingleLabel
	// Classes are the class ids of a single-label batch.
	Classes []int64
	// Values are a multi-label batch's 0/1 per class, row-major [rows,
	// labels], or a regression batch's one score per row.
	Values []float32
}

// rows is how many examples t holds targets for, given numLabels outputs.
func (t Targets) rows(numLabels int) int {
	switch t.Problem {
	case "", model.SingleLabel:
		return len(t.Classes)
	case model.MultiLabel:
		return len(t.Values) / max(numLabels, 1)
	}
	return len(t.Values)
}

// Backward runs the forward and backward pass of one (micro-)batch of a
// single-label classifier: BackwardTargets with class ids.
func (t *Trainer) Backward(b text.Batch, in []float32, inLayer int, labels []int64, scale float64) (loss float64, err error) {
	return t.BackwardTargets(b, in, inLayer, Targets{Problem: model.SingleLabel, Classes: labels}, scale)
}

// BackwardTargets runs the forward and backward pass of one (micro-)batch
// and adds the gradients of loss*scale to the parameters' gradients; scale
// is 1/accumulation steps. With K frozen layers, in may hold the hidden
// states entering layer inLayer <= K (from the activation cache) as
// [b.Size, b.SeqLen, hidden]: layers [inLayer, K) then run under no-grad.
// When in is nil the whole frozen prefix runs here under no-grad. It
// returns the unscaled loss, as Hugging Face's *ForSequenceClassification
// computes it for the problem: the mean cross-entropy (single label), the
// mean binary cross-entropy over every row and label (multi-label), the
// mean squared error (regression).
func (t *Trainer) BackwardTargets(b text.Batch, in []float32, inLayer int, tg Targets, scale float64) (loss float64, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer guard(&err)
	if err := checkBatch(b); err != nil {
		return 0, err
	}
	if t.enc.numLabels == 0 {
		return 0, fmt.Errorf("the encoder has no classification head")
	}
	if n := tg.rows(t.enc.numLabels); n != b.Size || (tg.Problem == model.MultiLabel && len(tg.Values) != b.Size*t.enc.numLabels) {
		return 0, fmt.Errorf("targets for %d rows for a batch of %d", n, b.Size)
	}
	if tg.Problem == model.Regression && t.enc.numLabels != 1 {
		return 0, fmt.Errorf("regression needs a head with one output, this one has %d", t.enc.numLabels)
	}
	x, err := t.suffixInput(b, in, inLayer)
	if err != nil {
		return 0, err
	}
	drop, attnDrop := t.enc.cfg.HiddenDropout, t.enc.cfg.AttentionDropout
	if t.cfg.NoDropout {
		drop, attnDrop = 0, 0
	}
	if t.frozen == 0 {
		x = dropout(x, drop) // embeddings' own dropout, as in training mode
	}
	x = t.enc.runLayers(x, b, model.Range{Start: t.frozen, End: t.enc.cfg.NumLayers}, drop, attnDrop)
	logits := t.enc.head(x, drop)
	x.MustDrop()
	lossT, err := t.enc.loss(logits, tg)
	logits.MustDrop()
	if err != nil {
		return 0, err
	}
	loss = scalar(lossT)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		lossT.MustDrop()
		return loss, fmt.Errorf("loss is %v: lower the learning rate or check the data", loss)
	}
	scaled := lossT
	if scale != 1 {
		scaled = lossT.MustMulScalar(ts.FloatScalar(scale), false)
		lossT.MustDrop()
	}
	scaled.MustBackward()
	scaled.MustDrop()
	return loss, nil
}

// loss is the mean loss of logits [rows, numLabels] against tg.
func (e *Encoder) loss(logits *ts.Tensor, tg Targets) (*ts.Tensor, error) {
	rows := int64(tg.rows(e.numLabels))
	switch tg.Problem {
	case "", model.SingleLabel:
		target, err := int64ToTensor(tg.Classes, []int64{rows}, e.device)
		if err != nil {
			return nil, err
		}
		defer target.MustDrop()
		return logits.MustCrossEntropyLoss(target, &ts.Tensor{}, 1 /* mean */, -100, 0, false), nil
	case model.MultiLabel:
		target, err := hostToTensor(tg.Values, []int64{rows, int64(e.numLabels)}, e.device)
		if err != nil {
			return nil, err
		}
		defer target.MustDrop()
		return logits.MustBinaryCrossEntropyWithLogits(target, &ts.Tensor{}, &ts.Tensor{}, 1 /* mean */, false), nil
	case model.Regression:
		target, err := hostToTensor(tg.Values, []int64{rows, 1}, e.device)
		if err != nil {
			return nil, err
		}
		defer target.MustDrop()
		return logits.MustMseLoss(target, 1 /* mean */, false), nil
	}
	return nil, fmt.Errorf("unknown problem %q", tg.Problem)
}

// suffixInput is the tensor entering layer K: the embeddings (with grad)
// when nothing is frozen, else the frozen prefix (or its part from inLayer,
// given the hidden states entering it) run under no-grad in eval mode.
func (t *Trainer) suffixInput(b text.Batch, in []float32, inLayer int) (*ts.Tensor, error) {
	if t.frozen == 0 {
		if in != nil {
			return nil, fmt.Errorf("hidden states given but no layer is frozen")
		}
		return t.enc.embedBatch(b, 0)
	}
	if in == nil {
		inLayer = 0
	} else if inLayer < 1 || inLayer > t.frozen {
		return nil, fmt.Errorf("hidden states entering layer %d given, but %d layers are frozen", inLayer, t.frozen)
	}
	var x *ts.Tensor
	var err error
	ts.NoGrad(func() {
		if in == nil {
			x, err = t.enc.embedBatch(b, 0)
		} else {
			x, err = t.enc.input(b, model.Range{Start: inLayer, End: t.enc.cfg.NumLayers}, in)
		}
		if err == nil && inLayer < t.frozen {
			x = t.enc.runLayers(x, b, model.Range{Start: inLayer, End: t.frozen}, 0, 0)
		}
	})
	return x, err
}

// Step clips the accumulated gradients, applies one AdamW update with
// learning rate lr to every trainable parameter, and zeroes the gradients.
// It returns the global gradient L2 norm before clipping.
func (t *Trainer) Step(lr float64) (gradNorm float64, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer guard(&err)
	var names []string
	var grads []*ts.Tensor
	var stand []int // indexes of zero tensors standing in for missing gradients
	for _, p := range t.enc.specs {
		if t.frozenParam(p.Name) {
			continue
		}
		x := t.enc.params[p.Name]
		g := x.MustGrad(false)
		if !g.MustDefined() {
			g.MustDrop()
			if t.sync == nil {
				continue
			}
			// Another rank may have a gradient here: take part with zeros.
			g = x.MustZerosLike(false)
			stand = append(stand, len(grads))
		}
		names = append(names, p.Name)
		grads = append(grads, g)
	}
	defer func() {
		for _, g := range grads {
			g.MustDrop()
		}
	}()
	if t.sync != nil {
		err := t.sync(handles(grads))
		runtime.KeepAlive(grads)
		if err != nil {
			return 0, fmt.Errorf("summing gradients across ranks: %w", err)
		}
		names, grads = dropUnused(names, grads, stand)
	}
	gradNorm = globalNorm(grads)
	if math.IsNaN(gradNorm) || math.IsInf(gradNorm, 0) {
		for _, g := range grads {
			g.MustZero_()
		}
		return gradNorm, fmt.Errorf("gradient norm is %v: lower the learning rate", gradNorm)
	}
	ts.NoGrad(func() {
		if t.trackGrads {
			t.accumulateLayerGrads(names, grads)
		}
		if c := t.cfg.MaxGradNorm; c > 0 && gradNorm > c {
			coef := ts.FloatScalar(c / (gradNorm + 1e-6))
			for _, g := range grads {
				g.MustMulScalar_(coef)
			}
		}
		t.steps++
		for i, name := range names {
			t.adamW(name, grads[i], lr)
			grads[i].MustZero_()
		}
	})
	return gradNorm, nil
}

// adamW is PyTorch's AdamW (decoupled weight decay, bias-corrected moments)
// for one parameter.
func (t *Trainer) adamW(name string, g *ts.Tensor, lr float64) {
	p := t.enc.params[name]
	st, ok := t.state[name]
	if !ok {
		st = &moments{m: p.MustZerosLike(false), v: p.MustZerosLike(false)}
		t.state[name] = st
	}
	c := t.cfg
	if t.decay[name] {
		p.MustMulScalar_(ts.FloatScalar(1 - lr*c.WeightDecay))
	}
	st.m.MustLerp_(g, ts.FloatScalar(1-c.Beta1)) // m += (1-b1)(g-m)
	st.v.MustMulScalar_(ts.FloatScalar(c.Beta2))
	g2 := g.MustMulScalar(ts.FloatScalar(1-c.Beta2), false)
	st.v.MustAddcmul_(g2, g) // v = b2 v + (1-b2) g²
	g2.MustDrop()
	step := float64(t.steps)
	bias1 := 1 - math.Pow(c.Beta1, step)
	bias2 := 1 - math.Pow(c.Beta2, step)
	denom := st.v.MustSqrt(false)
	denom.MustDivScalar_(ts.FloatScalar(math.Sqrt(bias2)))
	denom.MustAddScalar_(ts.FloatScalar(c.Eps))
	upd := st.m.MustDiv(denom, false)
	denom.MustDrop()
	upd.MustMulScalar_(ts.FloatScalar(-lr / bias1))
	p.MustAdd_(upd)
	upd.MustDrop()
}

// globalNorm is the L2 norm of all gradients together.
func globalNorm(grads []*ts.Tensor) float64 {
	if len(grads) == 0 {
		return 0
	}
	norms := make([]*ts.Tensor, len(grads))
	for i, g := range grads {
		norms[i] = g.MustNorm(false)
	}
	all := ts.MustStack(norms, 0)
	for _, n := range norms {
		n.MustDrop()
	}
	total := all.MustNorm(true)
	v := scalar(total)
	total.MustDrop()
	return v
}

func zeroGrad(x *ts.Tensor) {
	g := x.MustGrad(false)
	if g.MustDefined() {
		g.MustZero_()
	}
	g.MustDrop()
}

// ZeroGrads discards accumulated gradients without a step.
func (t *Trainer) ZeroGrads() (err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer guard(&err)
	for _, p := range t.enc.specs {
		zeroGrad(t.enc.params[p.Name])
	}
	return nil
}

// accumulateLayerGrads adds each encoder layer parameter's gradient into its
// running sum, on the device: no host copy per step.
func (t *Trainer) accumulateLayerGrads(names []string, grads []*ts.Tensor) {
	for i, name := range names {
		if !strings.HasPrefix(name, "encoder.layer.") {
			continue
		}
		if s, ok := t.gradSum[name]; ok {
			s.MustAdd_(grads[i])
		} else {
			sum := grads[i].MustZerosLike(false)
			sum.MustAdd_(grads[i])
			t.gradSum[name] = sum
		}
	}
}

// TakeLayerGradNorms returns, for each encoder layer, the norm of its
// gradients summed since the last call: the sum over the layer's parameters
// of each summed gradient's L1 norm (l2 false, as AutoFreeze's reference
// code does), or the L2 norm over all of them (l2 true). Frozen layers give
// 0. The sums restart from zero.
func (t *Trainer) TakeLayerGradNorms(l2 bool) (norms []float64, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer guard(&err)
	norms = make([]float64, t.enc.cfg.NumLayers)
	for i := range norms {
		var parts []*ts.Tensor
		for _, p := range t.enc.cfg.LayerParams(i) {
			s, ok := t.gradSum[p.Name]
			if !ok {
				continue
			}
			if l2 {
				parts = append(parts, s.MustSquare(false).MustSum(gotch.Double, true))
			} else {
				parts = append(parts, s.MustAbs(false).MustSum(gotch.Double, true))
			}
		}
		if len(parts) == 0 {
			continue
		}
		total := ts.MustStack(parts, 0).MustSum(gotch.Double, true)
		for _, x := range parts {
			x.MustDrop()
		}
		v := scalar(total)
		total.MustDrop()
		if l2 {
			v = math.Sqrt(v)
		}
		norms[i] = v
	}
	for name, s := range t.gradSum {
		s.MustDrop()
		delete(t.gradSum, name)
	}
	return norms, nil
}

// dropUnused removes the stand-in gradients (indexes stand) that are still
// all zero after the sum across ranks: no rank had a gradient there, and,
// as on one process, the parameter is left alone (no decay).
func dropUnused(names []string, grads []*ts.Tensor, stand []int) ([]string, []*ts.Tensor) {
	if len(stand) == 0 {
		return names, grads
	}
	unused := map[int]bool{}
	for _, i := range stand {
		m := grads[i].MustAbs(false)
		mx := m.MustMax(true)
		if scalar(mx) == 0 {
			unused[i] = true
		}
		mx.MustDrop()
	}
	keptNames, kept := names[:0:0], grads[:0:0]
	for i := range grads {
		if unused[i] {
			grads[i].MustDrop()
			continue
		}
		keptNames, kept = append(keptNames, names[i]), append(kept, grads[i])
	}
	return keptNames, kept
}
