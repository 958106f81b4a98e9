// Package frozen runs the frozen prefix of an encoder on ONNX Runtime.
//
// Once AutoFreeze freezes layers [0, K), they only ever run forward, so
// their outputs can be computed once per example and cached, and that
// computation should be as cheap as possible. Package frozen/export writes
// the prefix, from the live weights, as an ONNX model; this package loads it
// into an ONNX Runtime session and runs batches through it: token batches
// for a range that starts at the embeddings, hidden-state batches for one
// that starts later (when the cache advances from K to K').
//
// ONNX Runtime is a native library loaded at run time (InitRuntime), so
// this package is the only one that needs it; its sessions and tensors never
// leave it, and callers see plain Go slices. On GPU boxes the CUDA or
// TensorRT provider is used when asked for; where it cannot load, the runner
// says why and falls back to the CPU unless told to be strict.
package frozen
