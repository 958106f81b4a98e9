// Package export writes a range of layers [A, B) of a BERT encoder, with the
// weights it is given, as an ONNX model.
//
// AutoFreeze freezes a prefix of layers while training goes on; from then on
// that prefix is pure inference, and ONNX Runtime runs inference faster and on
// more kinds of hardware than the training engine. Exporting straight from the
// live weights (not through PyTorch's exporter) keeps the training process free
// of Python, and lets the graph be written in exactly the patterns ONNX Runtime
// optimizes: the plain form uses standard ONNX operators only (opset 17 and
// later), while the fused form uses ONNX Runtime's com.microsoft operators.
//
// The package is pure Go: it builds protobuf messages (frozen/onnxpb) and
// writes files, so it runs and is tested without ONNX Runtime. Package frozen
// runs what it writes.
//
// # The graph contract
//
// A range starting at layer 0 includes the embeddings and takes the token
// inputs input_ids, token_type_ids and attention_mask, all int64 of shape
// [batch, seq]; position ids 0..seq-1 are made inside the graph. A range
// starting later takes hidden_states [batch, seq, hidden] (the output of layer
// A-1) and attention_mask. Either way the one output is hidden_states_out
// [batch, seq, hidden]: the output of layer B-1, which Hugging Face calls
// hidden_states[B]. Batch and seq are dynamic. Padded positions (mask 0) are
// masked out of attention the way Hugging Face does it, adding
// (1 - mask) * lowest-float to the scores; their own outputs are computed but
// meaningless.
//
// The model's metadata_props (keys Meta*) record the fingerprint of the source
// weights, the layer range, the exporter version and the shapes, so a cache
// built from the model can be matched to the weights that made it.
package export
