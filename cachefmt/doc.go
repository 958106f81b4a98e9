// Package cachefmt stores the activations of a frozen prefix of encoder layers, so that later
// epochs train the rest of the model without running the prefix again.
//
// A cache holds one row per training example: its id, label, token count and the hidden
// states of its real tokens (never padding), in fp32, fp16 or bf16. Reading them back must be
// cheaper than recomputing them, so the format is columnar and compressed where it pays: the
// hidden states are split into byte planes and Huffman-coded, which shrinks the sign and
// exponent bytes and decodes at gigabytes per second. Every chunk carries a CRC-32C and every
// length is checked against the file before memory is allocated, because a cache outlives the
// process that wrote it and a wrong activation trains a wrong model silently. A manifest
// records the fingerprint of everything the activations depend on, so a cache built for other
// weights, layers, tokenizer or data is refused instead of used.
//
// The byte layout is specified in FORMAT.md, next to this file.
//
// Writing one shard (Create publishes the file atomically on Close):
//
//	w, err := cachefmt.CreateShard(dir, i, n, fp, hidden, nil)
//	for each example { err = w.Append(id, label, states) } // tokens × hidden floats
//	err = w.Close()
//	// once every shard job has finished:
//	m, err := cachefmt.Combine(dir, &cachefmt.CombineOptions{Want: &fp})
//
// Reading an epoch in shuffled order:
//
//	c, err := cachefmt.OpenCache(dir, fp, nil) // ErrStale if fp differs
//	b := cachefmt.NewBatches(ctx, c, order, 32, nil)
//	defer b.Close()
//	for { batch, err := b.Next(); if err == io.EOF { break } ... }
//
// Versions: 1 (current, the minimum supported) is the first.
package cachefmt
