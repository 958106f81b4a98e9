package export

import (
	"errors"
	"fmt"
	"sort"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/autofreeze/autofreeze/frozen/onnxpb"
	"github.com/autofreeze/autofreeze/model"
)

// Export builds the ONNX model of layers opts.Range of the encoder described
// by cfg, with tensors (BertModel-layout names, as model.LoadWeights returns
// them) as initializers. The tensors are copied: the model stays valid while
// training changes them.
func Export(cfg *model.Config, tensors map[string]*model.Tensor, opts ExportOptions) (*onnxpb.ModelProto, error) {
	if cfg == nil {
		return nil, errors.New("export: no model config")
	}
	o, err := opts.resolve(cfg)
	if err != nil {
		return nil, err
	}
	fingerprint, err := model.Fingerprint(tensors, cfg.RangeParams(o.Range))
	if err != nil {
		return nil, fmt.Errorf("export layers %s: %w", o.Range, err)
	}

	b := newBuilder(cfg, tensors, o.DType)
	b.int8 = o.Int8
	io := elemType(o.IODType)
	h := cfg.HiddenSize
	var x string
	if o.Range.Start == 0 {
		b.input(InputIDs, onnxpb.TensorProto_INT64, dimBatch, dimSeq)
		if cfg.HasTokenTypes() {
			b.input(TokenTypeIDs, onnxpb.TensorProto_INT64, dimBatch, dimSeq)
		}
		b.input(AttentionMask, onnxpb.TensorProto_INT64, dimBatch, dimSeq)
		if o.Fused {
			x = b.fusedEmbeddings()
		} else {
			x = b.embeddings()
		}
	} else {
		b.input(HiddenStates, io, dimBatch, dimSeq, h)
		b.input(AttentionMask, onnxpb.TensorProto_INT64, dimBatch, dimSeq)
		x = b.cast(HiddenStates, "hidden_states_cast", io, b.dt)
	}
	if o.Fused {
		mask := b.int32Mask()
		for i := o.Range.Start; i < o.Range.End; i++ {
			x = b.fusedLayer(i, x, mask)
		}
	} else {
		mask := b.maskBias()
		for i := o.Range.Start; i < o.Range.End; i++ {
			x = b.layer(i, x, mask)
		}
	}
	x = b.cast(x, "output_cast", b.dt, io)
	b.renameOutput(x, Output)
	b.output(Output, io, dimBatch, dimSeq, h)
	if b.err != nil {
		return nil, fmt.Errorf("export layers %s: %w", o.Range, b.err)
	}

	b.g.Name = proto.String(fmt.Sprintf("bert_layers_%d_%d", o.Range.Start, o.Range.End))
	opsets := []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(int64(o.Opset))}}
	if b.usesMS {
		opsets = append(opsets, &onnxpb.OperatorSetIdProto{Domain: proto.String(msDomain), Version: proto.Int64(1)})
	}
	meta := map[string]string{
		MetaFingerprint:     fingerprint,
		MetaLayers:          o.Range.String(),
		MetaExporterVersion: ExporterVersion,
		MetaHiddenSize:      strconv.Itoa(h),
		MetaNumLayers:       strconv.Itoa(cfg.NumLayers),
		MetaMaxPositions:    strconv.Itoa(cfg.MaxSequenceLength()),
		MetaDType:           string(o.DType),
		MetaIODType:         string(o.IODType),
		MetaFused:           strconv.FormatBool(o.Fused),
		MetaQuantized:       strconv.FormatBool(o.Int8),
	}
	return &onnxpb.ModelProto{
		IrVersion:       proto.Int64(irVersions[o.Opset]),
		OpsetImport:     opsets,
		ProducerName:    proto.String("autofreeze"),
		ProducerVersion: proto.String(ExporterVersion),
		DocString: proto.String(fmt.Sprintf("Layers %s of a %d-layer %s encoder (hidden %d), exported by autofreeze from live weights.",
			o.Range, cfg.NumLayers, cfg.ModelType, h)),
		Graph:         b.g,
		MetadataProps: metadataProps(meta),
	}, nil
}

// renameOutput gives the node output x the graph output's name.
func (b *builder) renameOutput(x, name string) {
	for i := len(b.g.Node) - 1; i >= 0; i-- {
		n := b.g.Node[i]
		for j, out := range n.Output {
			if out == x {
				n.Output[j] = name
				return
			}
		}
	}
	// x is a graph input (nothing to compute): cannot happen for a non-empty range.
	b.err = fmt.Errorf("internal error: no node computes %s", x)
}

func metadataProps(m map[string]string) []*onnxpb.StringStringEntryProto {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	props := make([]*onnxpb.StringStringEntryProto, len(keys))
	for i, k := range keys {
		props[i] = &onnxpb.StringStringEntryProto{Key: proto.String(k), Value: proto.String(m[k])}
	}
	return props
}

// Metadata returns the model's metadata_props as a map.
func Metadata(m *onnxpb.ModelProto) map[string]string {
	out := make(map[string]string, len(m.GetMetadataProps()))
	for _, p := range m.GetMetadataProps() {
		out[p.GetKey()] = p.GetValue()
	}
	return out
}
