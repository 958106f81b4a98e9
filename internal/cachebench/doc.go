// Package cachebench measures the activation cache (package cachefmt) on
// real data: hidden states of all-MiniLM-L6-v2 entering layer 3, computed
// by ONNX Runtime over IMDb reviews. It holds benchmarks only (see
// README.md for the commands and the numbers): the bytes on disk per
// example against the padded fp32 layout AutoFreeze's reference code keeps
// and against raw fp32 of the real tokens, encode and decode throughput per
// core, and the time to read an epoch from the cache against the time the
// trainable suffix needs to train on it.
package cachebench
