// Package trainable runs the BERT encoder in libtorch through gotch: the
// forward pass over any layer range, the training step, per-layer gradient
// norms, the optimizer and checkpoints.
//
// It is the only package that holds gotch tensors. Everything it hands out
// is plain Go data (float32 slices, model.Tensor maps), so the rest of
// autofreeze never links against libtorch through it by accident and never
// sees a native handle. gotch keeps grad mode and its last error per OS
// thread, so every exported method locks its goroutine to its thread.
package trainable

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/autofreeze/autofreeze/model"
)

// Options configure an Encoder. The zero value means the default device
// (the CPU), seed 0.
type Options struct {
	// Device is where the parameters live; the zero value is
	// DefaultDevice (the CPU unless SetDefaultDevice said otherwise).
	Device gotch.Device
	// Seed initialises the tensors the checkpoint lacks (a new
	// classification head, a missing pooler), with N(0, InitStd).
	Seed uint64
	// InitStd is the standard deviation of that initialisation; 0 means
	// 0.02, BERT's initializer_range.
	InitStd float64
	// BF16 runs the forward pass in mixed precision as autocast does
	// (package precision): linear layers and the attention products in
	// bfloat16; everything else, the parameters and their gradients in
	// float32.
	BF16 bool
}

// Encoder is a BERT-family encoder (any model type package model reads)
// with an optional classification head of that type, its parameters held
// as libtorch leaf tensors.
type Encoder struct {
	cfg       *model.Config
	numLabels int
	device    gotch.Device
	bf16      bool
	params    map[string]*ts.Tensor
	specs     []model.Param
	// initialised lists the tensors that were not in the checkpoint.
	initialised []string
}

// New builds an encoder from host weights. numLabels > 0 adds a
// classification head: taken from the weights when they hold one of that
// size, freshly initialised otherwise. The weights map is not retained.
func New(cfg *model.Config, weights map[string]*model.Tensor, numLabels int, opts Options) (e *Encoder, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer guard(&err)
	if opts.Device == (gotch.Device{}) {
		opts.Device = DefaultDevice()
	}
	std := opts.InitStd
	if std == 0 {
		std = 0.02
	}
	e = &Encoder{cfg: cfg, numLabels: numLabels, device: opts.Device, bf16: opts.BF16, params: map[string]*ts.Tensor{}}
	e.specs = cfg.EncoderParams()
	if numLabels > 0 {
		e.specs = append(e.specs, cfg.ClassifierParams(numLabels)...)
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 0x5eed))
	for _, p := range e.specs {
		t, ok := weights[p.Name]
		if ok && !sameShape(t.Shape, p.Shape) {
			if p.Name == model.ClassifierWeight || p.Name == model.ClassifierBias {
				ok = false // a head for another label set: start a new one
			} else {
				return nil, fmt.Errorf("tensor %q has shape %v, want %v", p.Name, t.Shape, p.Shape)
			}
		}
		if !ok {
			t = initTensor(p, rng, std)
			e.initialised = append(e.initialised, p.Name)
		}
		x, err := hostToTensor(t.Data, t.Shape, e.device)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", p.Name, err)
		}
		x.MustRequiresGrad_(true)
		e.params[p.Name] = x
	}
	return e, nil
}

// initTensor is BERT's initialisation: N(0, std) weights, zero biases, unit
// LayerNorm weights.
func initTensor(p model.Param, rng *rand.Rand, std float64) *model.Tensor {
	t := &model.Tensor{Shape: p.Shape, Data: make([]float32, model.NumElements(p.Shape))}
	switch {
	case len(p.Shape) == 1 && isLayerNormWeight(p.Name):
		for i := range t.Data {
			t.Data[i] = 1
		}
	case len(p.Shape) == 1:
		// biases stay zero
	default:
		for i := range t.Data {
			t.Data[i] = float32(rng.NormFloat64() * std)
		}
	}
	return t
}

func isLayerNormWeight(name string) bool {
	const suffix = "LayerNorm.weight"
	return len(name) >= len(suffix) && name[len(name)-len(suffix):] == suffix
}

func sameShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// BF16 reports whether the forward pass runs in mixed precision.
func (e *Encoder) BF16() bool { return e.bf16 }

// Config is the encoder's configuration.
func (e *Encoder) Config() *model.Config { return e.cfg }

// NumLabels is the size of the classification head (0 without one).
func (e *Encoder) NumLabels() int { return e.numLabels }

// Initialised lists the tensors that the weights lacked and New
// initialised (for example a new classification head).
func (e *Encoder) Initialised() []string { return append([]string(nil), e.initialised...) }

// Params lists every parameter in a fixed order: embeddings, layers,
// pooler, classifier.
func (e *Encoder) Params() []model.Param { return append([]model.Param(nil), e.specs...) }

// Weights copies every parameter to host memory, under the names
// model.LoadWeights gives them (BertModel's for the embeddings and layers
// of every model type; model.Config.HFName maps them to transformers').
func (e *Encoder) Weights() (out map[string]*model.Tensor, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer guard(&err)
	out = make(map[string]*model.Tensor, len(e.specs))
	for _, p := range e.specs {
		out[p.Name] = &model.Tensor{Shape: p.Shape, Data: tensorToHost(e.params[p.Name])}
	}
	return out, nil
}

// Close frees the native tensors. The encoder is unusable afterwards.
func (e *Encoder) Close() {
	for name, t := range e.params {
		t.MustDrop()
		delete(e.params, name)
	}
}

// checkFinite reports the first non-finite value of a host slice.
func checkFinite(what string, xs []float32) error {
	for i, v := range xs {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%s: value %d is %v", what, i, v)
		}
	}
	return nil
}
