package export

import (
	"fmt"

	"github.com/autofreeze/autofreeze/frozen/onnxpb"
	"github.com/autofreeze/autofreeze/model"
)

// The fused form writes each layer as ONNX Runtime's contrib operators:
//
//	Attention(x, Wqkv, bqkv, mask)            packed QKV projection + all heads
//	MatMul -> SkipLayerNormalization           output projection, bias, residual, LayerNorm
//	MatMul -> BiasGelu                         intermediate projection, bias, exact GELU
//	MatMul -> SkipLayerNormalization           output projection, bias, residual, LayerNorm
//
// They compute what the plain form computes (Attention's mask_filter_value
// is set to the same lowest float) in fewer, larger kernels.

// int32Mask casts attention_mask to the int32 [batch, seq] key mask that
// Attention takes (1 = attend).
func (b *builder) int32Mask() string {
	return b.cast(AttentionMask, "mask/int32", onnxpb.TensorProto_INT64, onnxpb.TensorProto_INT32)
}

// fusedLayer adds encoder layer i in com.microsoft ops.
func (b *builder) fusedLayer(i int, x, mask string) string {
	c := b.cfg
	h, f := c.HiddenSize, c.IntermediateSize
	p := model.LayerPrefix(i)
	s := fmt.Sprintf("layer%d/", i)

	w, bias := b.packedQKV(p + ".attention.self.")
	attn := b.msOp("Attention", s+"attention", []string{x, w, bias, mask}, 1,
		attrInt("num_heads", int64(c.NumHeads)), attrFloat("mask_filter_value", b.lowest()))[0]

	attn = b.op("MatMul", s+"attention_output_matmul", []string{attn, b.linearT(p+".attention.output.dense.weight", h, h)})
	attn = b.skipLayerNorm(attn, x, p+".attention.output", s+"attention_layer_norm")

	inter := b.op("MatMul", s+"intermediate_matmul", []string{attn, b.linearT(p+".intermediate.dense.weight", f, h)})
	inter = b.msOp("BiasGelu", s+"gelu", []string{inter, b.param(p+".intermediate.dense.bias", int64(f))}, 1)[0]

	out := b.op("MatMul", s+"output_matmul", []string{inter, b.linearT(p+".output.dense.weight", h, f)})
	return b.skipLayerNorm(out, attn, p+".output", s+"output_layer_norm")
}

// skipLayerNorm adds LayerNorm(x + skip + prefix.dense.bias) with the
// parameters prefix.LayerNorm.{weight,bias}.
func (b *builder) skipLayerNorm(x, skip, prefix, name string) string {
	h := int64(b.cfg.HiddenSize)
	return b.msOp("SkipLayerNormalization", name, []string{
		x, skip,
		b.param(prefix+".LayerNorm.weight", h),
		b.param(prefix+".LayerNorm.bias", h),
		b.param(prefix+".dense.bias", h),
	}, 1, attrFloat("epsilon", float32(b.cfg.LayerNormEps)))[0]
}

// packedQKV adds Attention's weights: [hidden, 3*hidden], the transposed
// query, key and value weights side by side, and their biases concatenated.
func (b *builder) packedQKV(prefix string) (w, bias string) {
	h := b.cfg.HiddenSize
	packed := make([]float32, 0, h*3*h)
	packedBias := make([]float32, 0, 3*h)
	var ws [3][]float32
	for j, name := range []string{"query", "key", "value"} {
		t := b.weight(prefix+name+".weight", int64(h), int64(h))
		bt := b.weight(prefix+name+".bias", int64(h))
		if t == nil || bt == nil {
			return prefix + "qkv.weight", prefix + "qkv.bias"
		}
		ws[j] = t.Data
		packedBias = append(packedBias, bt.Data...)
	}
	for r := 0; r < h; r++ { // row r of W^T is column r of W
		for j := range ws {
			for c := 0; c < h; c++ {
				packed = append(packed, ws[j][c*h+r])
			}
		}
	}
	w, bias = prefix+"qkv.weight_T", prefix+"qkv.bias"
	b.initFloats(w, []int64{int64(h), int64(3 * h)}, packed)
	b.initFloats(bias, []int64{int64(3 * h)}, packedBias)
	return w, bias
}
