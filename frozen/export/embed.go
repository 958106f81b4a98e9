package export

import (
	"github.com/autofreeze/autofreeze/frozen/onnxpb"
)

// embeddings adds Hugging Face's BertEmbeddings in eval mode:
// LayerNorm((word[input_ids] + token_type[token_type_ids]) + position[0..seq)),
// summed in that order, as Hugging Face does.
func (b *builder) embeddings() string {
	c := b.cfg
	h := int64(c.HiddenSize)
	word := b.op("Gather", "embeddings/word", []string{
		b.param("embeddings.word_embeddings.weight", int64(c.VocabSize), h), InputIDs})
	typ := b.op("Gather", "embeddings/token_type", []string{
		b.param("embeddings.token_type_embeddings.weight", int64(c.TypeVocabSize), h), TokenTypeIDs})
	sum := b.op("Add", "embeddings/add_type", []string{word, typ})
	// Position ids are 0..seq-1: the first seq rows of the table.
	seq := b.op("Shape", "embeddings/seq_len", []string{InputIDs}, attrInt("start", 1), attrInt("end", 2))
	pos := b.op("Slice", "embeddings/position", []string{
		b.param("embeddings.position_embeddings.weight", int64(c.MaxPositions), h),
		b.ints(0), seq, b.ints(0)})
	sum = b.op("Add", "embeddings/add_position", []string{sum, pos})
	return b.layerNorm(sum, "embeddings.LayerNorm", "embeddings/layer_norm")
}

// layerNorm adds LayerNormalization over the last axis with the given
// parameters (prefix.weight, prefix.bias).
func (b *builder) layerNorm(x, prefix, name string) string {
	h := int64(b.cfg.HiddenSize)
	return b.op("LayerNormalization", name, []string{x, b.param(prefix+".weight", h), b.param(prefix+".bias", h)},
		attrInt("axis", -1), attrFloat("epsilon", float32(b.cfg.LayerNormEps)))
}

// fusedEmbeddings is embeddings as one com.microsoft EmbedLayerNormalization
// node, which wants int32 ids and makes position ids 0..seq-1 itself.
func (b *builder) fusedEmbeddings() string {
	c := b.cfg
	h := int64(c.HiddenSize)
	ids := b.cast(InputIDs, "embeddings/input_ids_int32", onnxpb.TensorProto_INT64, onnxpb.TensorProto_INT32)
	types := b.cast(TokenTypeIDs, "embeddings/token_type_ids_int32", onnxpb.TensorProto_INT64, onnxpb.TensorProto_INT32)
	outs := b.msOp("EmbedLayerNormalization", "embeddings/embed_layer_norm", []string{
		ids, types,
		b.param("embeddings.word_embeddings.weight", int64(c.VocabSize), h),
		b.param("embeddings.position_embeddings.weight", int64(c.MaxPositions), h),
		b.param("embeddings.token_type_embeddings.weight", int64(c.TypeVocabSize), h),
		b.param("embeddings.LayerNorm.weight", h),
		b.param("embeddings.LayerNorm.bias", h),
	}, 2, attrFloat("epsilon", float32(c.LayerNormEps)))
	return outs[0]
}
