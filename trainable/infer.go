package trainable

import (
	"fmt"
	"runtime"

	"github.com/sugarme/gotch/ts"

	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/text"
)

// Hidden runs encoder layers r = [Start, End) on a batch without autograd or
// dropout and returns the hidden states after layer End-1 as a row-major
// [b.Size, b.SeqLen, hidden] slice. When r.Start is 0 the embeddings run
// first on b's token ids; otherwise in holds the hidden states entering
// layer r.Start, in the same layout. The attention mask always comes from b.
func (e *Encoder) Hidden(b text.Batch, r model.Range, in []float32) (out []float32, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer guard(&err)
	if err := r.Check(e.cfg.NumLayers); err != nil {
		return nil, err
	}
	if err := checkBatch(b); err != nil {
		return nil, err
	}
	ts.NoGrad(func() {
		var x *ts.Tensor
		x, err = e.input(b, r, in)
		if err != nil {
			return
		}
		x = e.runLayers(x, b, r, 0, 0)
		out = tensorToHost(x)
		x.MustDrop()
	})
	return out, err
}

// Logits runs the whole model, classification head included, without
// autograd or dropout, and returns row-major [b.Size, NumLabels] logits.
func (e *Encoder) Logits(b text.Batch) ([]float32, error) {
	return e.LogitsFrom(b, nil, 0)
}

// input builds the tensor entering layer r.Start: the embeddings of b when
// r.Start is 0, else the given hidden states.
func (e *Encoder) input(b text.Batch, r model.Range, in []float32) (*ts.Tensor, error) {
	if r.Start == 0 {
		return e.embedBatch(b, 0)
	}
	h := e.cfg.HiddenSize
	if len(in) != b.Size*b.SeqLen*h {
		return nil, fmt.Errorf("hidden states entering layer %d: got %d values, want %d x %d x %d", r.Start, len(in), b.Size, b.SeqLen, h)
	}
	return hostToTensor(in, []int64{int64(b.Size), int64(b.SeqLen), int64(h)}, e.device)
}

func (e *Encoder) embedBatch(b text.Batch, drop float64) (*ts.Tensor, error) {
	if n := e.cfg.MaxSequenceLength(); b.SeqLen > n {
		return nil, fmt.Errorf("sequence length %d is over the model's %d positions (max_position_embeddings %d)", b.SeqLen, n, e.cfg.MaxPositions)
	}
	shape := []int64{int64(b.Size), int64(b.SeqLen)}
	ids, err := int64ToTensor(b.IDs, shape, e.device)
	if err != nil {
		return nil, err
	}
	defer ids.MustDrop()
	var tids *ts.Tensor
	if e.cfg.HasTokenTypes() {
		if tids, err = int64ToTensor(b.TypeIDs, shape, e.device); err != nil {
			return nil, err
		}
		defer tids.MustDrop()
	}
	return e.embed(ids, tids, int64(b.SeqLen), drop), nil
}

// runLayers runs layers r on x, consuming it.
func (e *Encoder) runLayers(x *ts.Tensor, b text.Batch, r model.Range, drop, attnDrop float64) *ts.Tensor {
	mask, err := int64ToTensor(b.Mask, []int64{int64(b.Size), int64(b.SeqLen)}, e.device)
	if err != nil {
		panic(err)
	}
	ext := extendedMask(mask)
	mask.MustDrop()
	defer ext.MustDrop()
	for i := r.Start; i < r.End; i++ {
		x = e.layer(i, x, ext, drop, attnDrop)
	}
	return x
}

func checkBatch(b text.Batch) error {
	n := b.Size * b.SeqLen
	if b.Size <= 0 || b.SeqLen <= 0 {
		return fmt.Errorf("empty batch (%d x %d)", b.Size, b.SeqLen)
	}
	if len(b.IDs) != n || len(b.TypeIDs) != n || len(b.Mask) != n {
		return fmt.Errorf("batch of %d x %d has %d ids, %d type ids, %d mask values", b.Size, b.SeqLen, len(b.IDs), len(b.TypeIDs), len(b.Mask))
	}
	return nil
}
