package trainable

import (
	"fmt"
	"runtime"

	"github.com/sugarme/gotch/ts"

	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/text"
)

// LogitsFrom runs layers [inLayer, L) and the head without autograd or
// dropout on the hidden states entering layer inLayer (in, row-major
// [b.Size, b.SeqLen, hidden], as Hidden returns them), and returns
// row-major [b.Size, NumLabels] logits. With inLayer 0 and in nil the
// embeddings of b run first: that is Logits.
//
// The result is bit-identical to Logits on the same batch: Hidden and
// LogitsFrom run the same operations on the same shapes as one Logits call,
// and the hidden states cross the host in float32 unchanged. That is what
// lets the trainer evaluate through a cache of the held-out split's frozen
// prefix without changing a single metric.
func (e *Encoder) LogitsFrom(b text.Batch, in []float32, inLayer int) (out []float32, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer guard(&err)
	if e.numLabels == 0 {
		return nil, fmt.Errorf("the encoder has no classification head")
	}
	if (inLayer == 0) != (in == nil) || inLayer < 0 || inLayer >= e.cfg.NumLayers {
		return nil, fmt.Errorf("hidden states entering layer %d: want none for layer 0, or those entering a layer from 1 to %d", inLayer, e.cfg.NumLayers-1)
	}
	if err := checkBatch(b); err != nil {
		return nil, err
	}
	ts.NoGrad(func() {
		r := model.Range{Start: inLayer, End: e.cfg.NumLayers}
		var x *ts.Tensor
		x, err = e.input(b, r, in)
		if err != nil {
			return
		}
		x = e.runLayers(x, b, r, 0, 0)
		logits := e.head(x, 0)
		x.MustDrop()
		out = tensorToHost(logits)
		logits.MustDrop()
	})
	return out, err
}
