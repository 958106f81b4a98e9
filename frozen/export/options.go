package export

import (
	"errors"
	"fmt"
	"strings"

	"github.com/autofreeze/autofreeze/model"
)

// ExporterVersion changes whenever the numbers an exported graph computes may
// change; it is part of every cache fingerprint.
const ExporterVersion = "1"

// Names of the graph's inputs and output.
const (
	InputIDs      = "input_ids"
	TokenTypeIDs  = "token_type_ids"
	AttentionMask = "attention_mask"
	HiddenStates  = "hidden_states"
	// Output is the hidden states after the last layer of the range.
	Output = "hidden_states_out"
)

// Keys of the model's metadata_props.
const (
	MetaFingerprint     = "autofreeze.fingerprint"      // model.Fingerprint of the range's parameters
	MetaLayers          = "autofreeze.layers"           // "A:B"
	MetaExporterVersion = "autofreeze.exporter_version" // ExporterVersion
	MetaHiddenSize      = "autofreeze.hidden_size"
	MetaNumLayers       = "autofreeze.num_layers" // of the source model
	MetaMaxPositions    = "autofreeze.max_positions"
	MetaDType           = "autofreeze.dtype"    // compute and weight precision
	MetaIODType         = "autofreeze.io_dtype" // precision of hidden_states and the output
	MetaFused           = "autofreeze.fused"    // "true" or "false"
	MetaQuantized       = "autofreeze.int8"     // "true": int8 weights in the projections
)

// DType is a floating-point precision.
type DType string

const (
	FP32 DType = "fp32"
	FP16 DType = "fp16"
)

// ParseDType parses "fp32" or "fp16".
func ParseDType(s string) (DType, error) {
	switch d := DType(strings.ToLower(s)); d {
	case FP32, FP16:
		return d, nil
	}
	return "", fmt.Errorf("dtype %q: want fp32 or fp16", s)
}

// Opsets the exporter can write. Below 17 there is no LayerNormalization op;
// ONNX Runtime 1.27 refuses anything above 26. Every op used means the same
// in all of them.
const (
	DefaultOpset = 17
	MinOpset     = 17
	MaxOpset     = 26
)

// irVersions maps each opset to the ONNX IR version released with it
// (onnx.helper.VERSION_TABLE), the oldest IR that can carry it, so older
// runtimes load the file.
var irVersions = map[int]int64{17: 8, 18: 8, 19: 9, 20: 9, 21: 10, 22: 10, 23: 11, 24: 12, 25: 13, 26: 13}

// ExportOptions choose what Export writes. The zero value exports the whole
// encoder as plain fp32 opset-17 ONNX.
type ExportOptions struct {
	// Range is the layers to export; the zero Range means all of them.
	Range model.Range
	// Opset of the default ONNX domain, MinOpset..MaxOpset; 0 means
	// DefaultOpset.
	Opset int
	// DType is the precision of the weights and of the arithmetic: fp32
	// (default) or fp16. ONNX Runtime's CPU provider has no fp16 kernels for
	// most of these ops: fp16 graphs are for the CUDA and TensorRT providers.
	DType DType
	// IODType is the precision of hidden_states and hidden_states_out; empty
	// means DType. DType fp32 with IODType fp16 computes in fp32 and halves
	// what crosses the boundary, which works on CPU too.
	IODType DType
	// Fused writes ONNX Runtime's com.microsoft operators (Attention,
	// SkipLayerNormalization, BiasGelu, EmbedLayerNormalization) instead of
	// standard ones. Such a model runs on ONNX Runtime only.
	Fused bool
	// Int8 (with Fused and fp32) stores the weights of each layer's
	// attention output and intermediate projections as int8, one symmetric
	// scale per output feature, multiplied by ONNX Runtime's
	// DynamicQuantizeMatMul, which quantizes the activations on the fly (u8
	// x s8 kernels, VNNI where the CPU has it); the intermediate
	// projection's input is first smoothed by its LayerNorm's scale. The
	// QKV and output projections stay fp32. On MiniLM it is 1.8x the gotch
	// fp32 forward on 2 CPU threads, and the hidden states after six layers
	// are within 5% RMS of fp32 (TestInt8ExportStaysClose), so caches built
	// this way train a slightly different model (BENCHMARKS.md has the
	// accuracy).
	Int8 bool
}

// ErrOptions is wrapped by errors about options Export cannot honour.
var ErrOptions = errors.New("export options")

// resolve fills defaults and checks opts against cfg.
func (o ExportOptions) resolve(cfg *model.Config) (ExportOptions, error) {
	if o.Range == (model.Range{}) {
		o.Range = model.Range{Start: 0, End: cfg.NumLayers}
	}
	if err := o.Range.Check(cfg.NumLayers); err != nil {
		return o, fmt.Errorf("%w: %w", ErrOptions, err)
	}
	if o.Opset == 0 {
		o.Opset = DefaultOpset
	}
	if o.Opset < MinOpset {
		return o, fmt.Errorf("%w: opset %d is too old: the exporter needs opset %d or later (LayerNormalization became standard in 17)", ErrOptions, o.Opset, MinOpset)
	}
	if o.Opset > MaxOpset {
		return o, fmt.Errorf("%w: opset %d is newer than the exporter supports (%d..%d)", ErrOptions, o.Opset, MinOpset, MaxOpset)
	}
	if o.DType == "" {
		o.DType = FP32
	}
	if o.IODType == "" {
		o.IODType = o.DType
	}
	for _, d := range []DType{o.DType, o.IODType} {
		if _, err := ParseDType(string(d)); err != nil {
			return o, fmt.Errorf("%w: %w", ErrOptions, err)
		}
	}
	if o.Int8 && (!o.Fused || o.DType != FP32) {
		return o, fmt.Errorf("%w: int8 weights need the fused form (--fused) with fp32 arithmetic", ErrOptions)
	}
	return o, nil
}
