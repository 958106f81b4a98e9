package export

import (
	"fmt"
	"math"

	"github.com/autofreeze/autofreeze/frozen/onnxpb"
	"github.com/autofreeze/autofreeze/model"
)

// lowest is the most negative finite value of the graph's precision: Hugging
// Face's torch.finfo(dtype).min, which its extended attention mask adds to
// the scores of padded keys.
func (b *builder) lowest() float32 {
	if b.dt == onnxpb.TensorProto_FLOAT16 {
		return -65504
	}
	return -math.MaxFloat32
}

// maskBias turns attention_mask [batch, seq] (1 = token, 0 = padding) into
// Hugging Face's extended mask (1 - mask[:, None, None, :]) * lowest, of shape
// [batch, 1, 1, seq], added to every head's scores.
func (b *builder) maskBias() string {
	m := b.op("Unsqueeze", "mask/unsqueeze", []string{AttentionMask, b.ints(1, 2)})
	m = b.cast(m, "mask/cast", onnxpb.TensorProto_INT64, b.dt)
	m = b.op("Sub", "mask/invert", []string{b.scalar(1), m})
	return b.op("Mul", "mask/bias", []string{m, b.scalar(b.lowest())})
}

// layer adds encoder layer i (Hugging Face's BertLayer in eval mode) in
// standard ONNX ops, reading x [batch, seq, hidden].
func (b *builder) layer(i int, x, maskBias string) string {
	c := b.cfg
	h, f := c.HiddenSize, c.IntermediateSize
	p := model.LayerPrefix(i)
	s := fmt.Sprintf("layer%d/", i)

	q := b.dense(x, p+".attention.self.query", h, h, s+"query")
	k := b.dense(x, p+".attention.self.key", h, h, s+"key")
	v := b.dense(x, p+".attention.self.value", h, h, s+"value")
	// [batch, seq, hidden] -> [batch, heads, seq, head_dim]; keys go to
	// [batch, heads, head_dim, seq] so that q k^T is one MatMul.
	split := b.ints(0, 0, int64(c.NumHeads), int64(c.HeadDim()))
	q = b.op("Transpose", s+"query_heads", []string{b.op("Reshape", s+"query_split", []string{q, split})}, attrInts("perm", 0, 2, 1, 3))
	k = b.op("Transpose", s+"key_heads", []string{b.op("Reshape", s+"key_split", []string{k, split})}, attrInts("perm", 0, 2, 3, 1))
	v = b.op("Transpose", s+"value_heads", []string{b.op("Reshape", s+"value_split", []string{v, split})}, attrInts("perm", 0, 2, 1, 3))

	scores := b.op("MatMul", s+"scores", []string{q, k})
	scores = b.op("Div", s+"scores_scaled", []string{scores, b.scalar(float32(math.Sqrt(float64(c.HeadDim()))))})
	scores = b.op("Add", s+"scores_masked", []string{scores, maskBias})
	probs := b.op("Softmax", s+"probs", []string{scores}, attrInt("axis", -1))
	ctx := b.op("MatMul", s+"context_heads", []string{probs, v})
	ctx = b.op("Transpose", s+"context_merge", []string{ctx}, attrInts("perm", 0, 2, 1, 3))
	ctx = b.op("Reshape", s+"context", []string{ctx, b.ints(0, 0, int64(h))})

	attn := b.dense(ctx, p+".attention.output.dense", h, h, s+"attention_output")
	attn = b.op("Add", s+"attention_residual", []string{attn, x})
	attn = b.layerNorm(attn, p+".attention.output.LayerNorm", s+"attention_layer_norm")

	inter := b.dense(attn, p+".intermediate.dense", f, h, s+"intermediate")
	inter = b.gelu(inter, s+"gelu")
	out := b.dense(inter, p+".output.dense", h, f, s+"output")
	out = b.op("Add", s+"output_residual", []string{out, attn})
	return b.layerNorm(out, p+".output.LayerNorm", s+"output_layer_norm")
}

// dense adds a PyTorch Linear: MatMul by the transposed weight, then Add the
// bias, the pair ONNX Runtime fuses.
func (b *builder) dense(x, prefix string, out, in int, name string) string {
	y := b.op("MatMul", name+"_matmul", []string{x, b.linearT(prefix+".weight", out, in)})
	return b.op("Add", name+"_bias", []string{y, b.param(prefix+".bias", int64(out))})
}

// gelu adds the exact (erf) GELU, x * (1 + erf(x / sqrt 2)) * 0.5, in the
// order ONNX Runtime's GeluFusion recognises (it ignores Mul by 1/sqrt 2).
func (b *builder) gelu(x, name string) string {
	y := b.op("Div", name+"/div", []string{x, b.scalar(float32(math.Sqrt2))})
	y = b.op("Erf", name+"/erf", []string{y})
	y = b.op("Add", name+"/add", []string{y, b.scalar(1)})
	y = b.op("Mul", name+"/mul", []string{x, y})
	return b.op("Mul", name+"/half", []string{y, b.scalar(0.5)})
}
