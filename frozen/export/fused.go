package export

import (
	"fmt"
	"math"

	"google.golang.org/protobuf/proto"

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

	attn = b.project(attn, p+".attention.output.dense.weight", h, h, s+"attention_output_matmul")
	attn = b.skipLayerNorm(attn, x, p+".attention.output", s+"attention_layer_norm")

	inter := b.projectSmoothed(attn, p+".intermediate.dense.weight", f, h, s+"intermediate_matmul", b.lnSmoothing(p+".attention.output.LayerNorm", h))
	inter = b.msOp("BiasGelu", s+"gelu", []string{inter, b.param(p+".intermediate.dense.bias", int64(f))}, 1)[0]

	// The output projection stays fp32 even with int8: its input, the GELU
	// output, has outlier channels no static scale can flatten, and
	// quantizing it triples the drift (measured: 15% RMS after six layers
	// against 5%).
	out := b.op("MatMul", s+"output_matmul", []string{inter, b.linearT(p+".output.dense.weight", h, f)})
	return b.skipLayerNorm(out, attn, p+".output", s+"output_layer_norm")
}

// project multiplies x by a Linear's transposed weight (no bias): MatMul,
// or with int8 weights DynamicQuantizeMatMul.
func (b *builder) project(x, weight string, out, in int, name string) string {
	if !b.int8 {
		return b.op("MatMul", name, []string{x, b.linearT(weight, out, in)})
	}
	w, scale := b.linearTInt8(weight, out, in)
	return b.msOp("DynamicQuantizeMatMul", name, []string{x, w, scale}, 1)[0]
}

// lnSmoothing is a per-channel divisor for the output of LayerNorm prefix:
// |γ_i| + |β_i|, a bound on channel i's magnitude, known without data (a
// calibration-free SmoothQuant). Dividing the activations by it and
// multiplying the weights' input rows by it leaves the product unchanged
// while flattening the outlier channels that per-tensor activation
// quantization cannot represent (measured on MiniLM: 2.3% RMS drift after
// one layer's intermediate projection, against 3.9% unsmoothed).
func (b *builder) lnSmoothing(prefix string, h int) []float32 {
	g := b.weight(prefix+".weight", int64(h))
	be := b.weight(prefix+".bias", int64(h))
	if g == nil || be == nil {
		return nil
	}
	s := make([]float32, h)
	for i := range s {
		s[i] = float32(math.Abs(float64(g.Data[i])) + math.Abs(float64(be.Data[i])))
		if s[i] == 0 {
			s[i] = 1
		}
	}
	return s
}

// projectSmoothed is project with the activations divided, channel by
// channel, by smooth (and the weight's input rows multiplied by it) before
// quantizing; plain MatMul without int8.
func (b *builder) projectSmoothed(x, weight string, out, in int, name string, smooth []float32) string {
	if !b.int8 || smooth == nil {
		return b.project(x, weight, out, in, name)
	}
	t := b.weight(weight, int64(out), int64(in))
	if t == nil {
		return b.project(x, weight, out, in, name)
	}
	scaled := make([]float32, len(t.Data))
	inv := make([]float32, in)
	for i := range inv {
		inv[i] = 1 / smooth[i]
	}
	for o := 0; o < out; o++ {
		for i := 0; i < in; i++ {
			scaled[o*in+i] = t.Data[o*in+i] * smooth[i]
		}
	}
	invName := name + "/smooth_inv"
	b.initFloats(invName, []int64{int64(in)}, inv)
	xs := b.op("Mul", name+"/smooth", []string{x, invName})
	q, scales := QuantizeColumns(scaled, out, in)
	w, scale := b.int8Initializers(weight, q, scales, out, in)
	return b.msOp("DynamicQuantizeMatMul", name, []string{xs, w, scale}, 1)[0]
}

// linearTInt8 adds a Linear's weight ([out, in]) transposed to [in, out]
// as int8, symmetric, with one scale per output feature (column): column j
// holds round(W[j, :] / s_j) with s_j = max|W[j, :]| / 127. It returns the
// names of the weight and of the scales.
func (b *builder) linearTInt8(name string, out, in int) (w, scale string) {
	w, scale = name+"_T_int8", name+"_scale"
	t := b.weight(name, int64(out), int64(in))
	if t == nil {
		return w, scale
	}
	q, scales := QuantizeColumns(t.Data, out, in)
	return b.int8Initializers(name, q, scales, out, in)
}

// int8Initializers adds the int8 transposed weight q ([in, out]) and its
// per-column scales as initializers named after the source weight.
func (b *builder) int8Initializers(name string, q []int8, scales []float32, out, in int) (w, scale string) {
	w, scale = name+"_T_int8", name+"_scale"
	raw := make([]byte, len(q))
	for i, v := range q {
		raw[i] = byte(v)
	}
	b.g.Initializer = append(b.g.Initializer, &onnxpb.TensorProto{
		Name: proto.String(w), Dims: []int64{int64(in), int64(out)},
		DataType: proto.Int32(int32(onnxpb.TensorProto_INT8)), RawData: raw,
	})
	b.g.Initializer = append(b.g.Initializer, floatTensor(scale, []int64{int64(out)}, scales, onnxpb.TensorProto_FLOAT))
	return w, scale
}

// QuantizeColumns quantizes a row-major [out, in] weight to its int8
// transpose [in, out]: q[i*out+j] = round(W[j, i] / scales[j]), scales[j] =
// max_i |W[j, i]| / 127 (1 for an all-zero row), so every value is in
// [-127, 127] and W[j, i] ≈ q[i*out+j]·scales[j] within scales[j]/2.
func QuantizeColumns(wt []float32, out, in int) (q []int8, scales []float32) {
	q = make([]int8, out*in)
	scales = make([]float32, out)
	for j := 0; j < out; j++ {
		row := wt[j*in : (j+1)*in]
		var m float32
		for _, v := range row {
			m = max(m, float32(math.Abs(float64(v))))
		}
		s := m / 127
		if s == 0 {
			s = 1
		}
		scales[j] = s
		for i, v := range row {
			r := math.Round(float64(v / s))
			q[i*out+j] = int8(max(-127, min(127, r)))
		}
	}
	return q, scales
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
