package export

import (
	"github.com/autofreeze/autofreeze/frozen/onnxpb"
	"github.com/autofreeze/autofreeze/model"
)

// embeddings adds Hugging Face's BertEmbeddings in eval mode:
// LayerNorm((word[input_ids] + token_type[token_type_ids]) + position[ids]),
// summed in that order, as Hugging Face does; without the token types for
// DistilBERT, with RoBERTa's position ids, and followed by ELECTRA's
// projection to the hidden size.
func (b *builder) embeddings() string {
	c := b.cfg
	e := int64(c.EmbeddingDim())
	sum := b.op("Gather", "embeddings/word", []string{
		b.param(model.WordEmbeddings, int64(c.VocabSize), e), InputIDs})
	if c.HasTokenTypes() {
		typ := b.op("Gather", "embeddings/token_type", []string{
			b.param(model.TokenTypeEmbeddings, int64(c.TypeVocabSize), e), TokenTypeIDs})
		sum = b.op("Add", "embeddings/add_type", []string{sum, typ})
	}
	table := b.param(model.PositionEmbeddings, int64(c.MaxPositions), e)
	var pos string
	if c.PaddingPositions() {
		pos = b.op("Gather", "embeddings/position", []string{table, b.paddingPositions()})
	} else {
		// Position ids are 0..seq-1: the first seq rows of the table.
		seq := b.op("Shape", "embeddings/seq_len", []string{InputIDs}, attrInt("start", 1), attrInt("end", 2))
		pos = b.op("Slice", "embeddings/position", []string{table, b.ints(0), seq, b.ints(0)})
	}
	sum = b.op("Add", "embeddings/add_position", []string{sum, pos})
	x := b.layerNormN(sum, model.EmbeddingsLayerNorm, "embeddings/layer_norm", e)
	return b.embeddingsProject(x)
}

// paddingPositions adds RoBERTa's position ids [batch, seq] (int64): at a
// real token (id != pad_token_id), pad + the running count of real tokens
// in its row; at padding, pad.
func (b *builder) paddingPositions() string {
	pad := b.int64Scalar(int64(b.cfg.PadTokenID))
	real := b.op("Not", "embeddings/real_token", []string{b.op("Equal", "embeddings/is_pad", []string{InputIDs, pad})})
	real = b.cast(real, "embeddings/real_token_int64", onnxpb.TensorProto_BOOL, onnxpb.TensorProto_INT64)
	count := b.op("CumSum", "embeddings/real_count", []string{real, b.int64Scalar(1)})
	count = b.op("Mul", "embeddings/real_count_masked", []string{count, real})
	return b.op("Add", "embeddings/position_ids", []string{count, pad})
}

// embeddingsProject adds ELECTRA's Linear from embedding_size to
// hidden_size when the model has one.
func (b *builder) embeddingsProject(x string) string {
	c := b.cfg
	if !c.HasEmbeddingProjection() {
		return x
	}
	return b.dense(x, model.EmbeddingsProject, c.HiddenSize, c.EmbeddingDim(), "embeddings/project")
}

// layerNorm adds LayerNormalization over the last axis with the given
// parameters (prefix.weight, prefix.bias) of the hidden size.
func (b *builder) layerNorm(x, prefix, name string) string {
	return b.layerNormN(x, prefix, name, int64(b.cfg.HiddenSize))
}

// layerNormN is layerNorm over n features.
func (b *builder) layerNormN(x, prefix, name string, n int64) string {
	return b.op("LayerNormalization", name, []string{x, b.param(prefix+".weight", n), b.param(prefix+".bias", n)},
		attrInt("axis", -1), attrFloat("epsilon", float32(b.cfg.LayerNormEps)))
}

// fusedEmbeddings is embeddings as one com.microsoft EmbedLayerNormalization
// node, which wants int32 ids and makes position ids 0..seq-1 itself unless
// given RoBERTa's; DistilBERT leaves out its optional segment inputs.
func (b *builder) fusedEmbeddings() string {
	c := b.cfg
	e := int64(c.EmbeddingDim())
	ids := b.cast(InputIDs, "embeddings/input_ids_int32", onnxpb.TensorProto_INT64, onnxpb.TensorProto_INT32)
	types, typeTable := "", ""
	if c.HasTokenTypes() {
		types = b.cast(TokenTypeIDs, "embeddings/token_type_ids_int32", onnxpb.TensorProto_INT64, onnxpb.TensorProto_INT32)
		typeTable = b.param(model.TokenTypeEmbeddings, int64(c.TypeVocabSize), e)
	}
	inputs := []string{
		ids, types,
		b.param(model.WordEmbeddings, int64(c.VocabSize), e),
		b.param(model.PositionEmbeddings, int64(c.MaxPositions), e),
		typeTable,
		b.param(model.EmbeddingsLayerNorm+".weight", e),
		b.param(model.EmbeddingsLayerNorm+".bias", e),
	}
	if c.PaddingPositions() {
		pos := b.cast(b.paddingPositions(), "embeddings/position_ids_int32", onnxpb.TensorProto_INT64, onnxpb.TensorProto_INT32)
		inputs = append(inputs, "", pos) // no mask; position_ids
	}
	outs := b.msOp("EmbedLayerNormalization", "embeddings/embed_layer_norm", inputs, 2, attrFloat("epsilon", float32(c.LayerNormEps)))
	return b.embeddingsProject(outs[0])
}
