package trainable

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/autofreeze/autofreeze/model"
)

// The forward pass, written to match Hugging Face's BertModel and
// BertForSequenceClassification op for op, and the other model types'
// embeddings and heads (model/types.go): DistilBERT, RoBERTa, XLM-RoBERTa,
// ELECTRA. Functions here take and return
// tensors and drop their intermediates; a dropout probability of 0 (eval
// mode) skips dropout entirely.

func (e *Encoder) p(name string) *ts.Tensor { return e.params[name] }

// dropout applies inverted dropout with probability p, consuming x.
func dropout(x *ts.Tensor, p float64) *ts.Tensor {
	if p == 0 {
		return x
	}
	y := ts.MustDropout(x, p, true)
	x.MustDrop()
	return y
}

// linear computes x W^T + b with the parameters under prefix, consuming x
// when del is set. In mixed precision the product takes bfloat16 copies of
// x, W and b (W and b stay float32 leaves; autograd carries their gradients
// back to float32) and returns bfloat16, as autocast's linear does.
func (e *Encoder) linear(x *ts.Tensor, prefix string, del bool) *ts.Tensor {
	w, b := e.p(prefix+".weight"), e.p(prefix+".bias")
	if !e.bf16 {
		y := ts.MustLinear(x, w, b)
		if del {
			x.MustDrop()
		}
		return y
	}
	xl := e.lowp(x, del)
	wl, bl := w.MustTotype(gotch.BFloat16, false), b.MustTotype(gotch.BFloat16, false)
	y := ts.MustLinear(xl, wl, bl)
	wl.MustDrop()
	bl.MustDrop()
	if del || xl != x {
		xl.MustDrop()
	}
	return y
}

// lowp returns x in the dtype of matrix products: x itself in float32
// runs or when it is already bfloat16, else a bfloat16 copy (consuming x
// when del is set).
func (e *Encoder) lowp(x *ts.Tensor, del bool) *ts.Tensor {
	if !e.bf16 || x.DType() == gotch.BFloat16 {
		return x
	}
	return x.MustTotype(gotch.BFloat16, del)
}

// full returns x in float32, consuming it: the head's logits leave the
// model in float32, as autocast's loss functions take them.
func full(x *ts.Tensor) *ts.Tensor {
	if x.DType() == gotch.Float {
		return x
	}
	return x.MustTotype(gotch.Float, true)
}

func (e *Encoder) layerNorm(x *ts.Tensor, prefix string) *ts.Tensor {
	n := e.cfg.HiddenSize
	if prefix == model.EmbeddingsLayerNorm {
		n = e.cfg.EmbeddingDim() // ELECTRA's embeddings are narrower
	}
	y := ts.MustLayerNorm(x, []int64{int64(n)}, e.p(prefix+".weight"), e.p(prefix+".bias"), e.cfg.LayerNormEps, false)
	x.MustDrop()
	return y
}

// embed maps token ids [b, s] and type ids to hidden states [b, s, h]:
// word + token-type (when the type has them) + position embeddings,
// LayerNorm, dropout, and ELECTRA's projection to the hidden size.
// typeIDs may be nil for a type without token types.
func (e *Encoder) embed(ids, typeIDs *ts.Tensor, seq int64, drop float64) *ts.Tensor {
	x := ts.MustEmbedding(e.p(model.WordEmbeddings), ids, -1, false, false)
	if e.cfg.HasTokenTypes() {
		types := ts.MustEmbedding(e.p(model.TokenTypeEmbeddings), typeIDs, -1, false, false)
		x = x.MustAdd(types, true)
		types.MustDrop()
	}
	var positions *ts.Tensor
	if e.cfg.PaddingPositions() {
		pos := e.paddingPositions(ids)
		positions = ts.MustEmbedding(e.p(model.PositionEmbeddings), pos, -1, false, false) // [b, s, h]
		pos.MustDrop()
	} else {
		positions = e.p(model.PositionEmbeddings).MustNarrow(0, 0, seq, false) // [s, h] broadcasts over the batch
	}
	x2 := x.MustAdd(positions, true)
	positions.MustDrop()
	x3 := dropout(e.layerNorm(x2, model.EmbeddingsLayerNorm), drop)
	if e.cfg.HasEmbeddingProjection() {
		// The residual stream stays float32 in mixed precision.
		x3 = full(e.linear(x3, model.EmbeddingsProject, true))
	}
	return x3
}

// paddingPositions are RoBERTa's position ids for ids [b, s]: pad + the
// running count of real tokens (id != pad) at real tokens, pad at padding.
func (e *Encoder) paddingPositions(ids *ts.Tensor) *ts.Tensor {
	pad := int64(e.cfg.PadTokenID)
	real := ids.MustNe(ts.IntScalar(pad), false).MustTotype(gotch.Int64, true)
	count := real.MustCumsum(1, gotch.Int64, false)
	pos := count.MustMul(real, true)
	real.MustDrop()
	return pos.MustAddScalar(ts.IntScalar(pad), true)
}

// extendedMask turns a [b, s] 0/1 mask into the additive [b, 1, 1, s] mask
// of Hugging Face: 0 where attended, the lowest float32 where masked.
func extendedMask(mask *ts.Tensor) *ts.Tensor {
	m := mask.MustTotype(gotch.Float, false).MustUnsqueeze(1, true).MustUnsqueeze(2, true)
	inv := m.MustRsubScalar(ts.FloatScalar(1), true) // 1 - mask
	return inv.MustMulScalar(ts.FloatScalar(-math.MaxFloat32), true)
}

// layer runs encoder layer i on x [b, s, h] with the additive mask ext,
// consuming x.
func (e *Encoder) layer(i int, x, ext *ts.Tensor, drop, attnDrop float64) *ts.Tensor {
	pre := model.LayerPrefix(i)
	shape := x.MustSize()
	b, s := shape[0], shape[1]
	nh, hd := int64(e.cfg.NumHeads), int64(e.cfg.HeadDim())
	heads := func(name string) *ts.Tensor { // [b, nh, s, hd]
		return e.linear(x, pre+".attention.self."+name, false).
			MustView([]int64{b, s, nh, hd}, true).MustPermute([]int64{0, 2, 1, 3}, true)
	}
	q, k, v := heads("query"), heads("key"), heads("value")
	kt := k.MustTranspose(-1, -2, true)
	scores := q.MustMatmul(kt, true).MustDivScalar(ts.FloatScalar(math.Sqrt(float64(hd))), true)
	kt.MustDrop()
	scores2 := scores.MustAdd(ext, true)
	// The softmax runs in float32 (the mask is float32, so scores2 is); in
	// mixed precision its output goes back to bfloat16 for the product.
	probs := e.lowp(dropout(scores2.MustSoftmax(-1, gotch.Float, true), attnDrop), true)
	ctx := probs.MustMatmul(v, true).MustPermute([]int64{0, 2, 1, 3}, true).
		MustContiguous(true).MustView([]int64{b, s, int64(e.cfg.HiddenSize)}, true)
	v.MustDrop()
	attn := e.linear(ctx, pre+".attention.output.dense", true)
	if e.cfg.AttentionOutputDropout() {
		attn = dropout(attn, drop)
	}
	attn2 := attn.MustAdd(x, true)
	x.MustDrop()
	h := e.layerNorm(attn2, pre+".attention.output.LayerNorm")
	inter := e.linear(h, pre+".intermediate.dense", false).MustGelu("none", true)
	out := dropout(e.linear(inter, pre+".output.dense", true), drop)
	out2 := out.MustAdd(h, true)
	h.MustDrop()
	return e.layerNorm(out2, pre+".output.LayerNorm")
}

// head runs the model type's classification head on the first token of the
// last hidden states [b, s, h], returning logits [b, numLabels]. x is kept.
// drop > 0 means training: the head then uses its own dropout
// (model.Config.HeadDropout); 0 means none.
func (e *Encoder) head(x *ts.Tensor, drop float64) *ts.Tensor {
	if drop > 0 {
		drop = e.cfg.HeadDropout()
	}
	cls := x.MustSelect(1, 0, false)
	var hidden *ts.Tensor
	switch e.cfg.Head() {
	case model.HeadPooler: // BERT: pooler dense + tanh, dropout
		hidden = e.linear(cls, "pooler.dense", true).MustTanh(true)
	case model.HeadDenseTanh: // RoBERTa: dropout, dense + tanh, dropout
		hidden = e.linear(dropout(cls, drop), model.HeadDense, true).MustTanh(true)
	case model.HeadDenseGELU: // ELECTRA: dropout, dense + GELU, dropout
		hidden = e.linear(dropout(cls, drop), model.HeadDense, true).MustGelu("none", true)
	case model.HeadReLU: // DistilBERT: pre_classifier + ReLU, dropout
		hidden = e.linear(cls, model.PreClassifier, true).MustRelu(true)
	default:
		panic(fmt.Sprintf("unknown classification head %d", e.cfg.Head()))
	}
	return full(e.linear(dropout(hidden, drop), "classifier", true))
}
