package export

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/autofreeze/autofreeze/frozen/onnxpb"
	"github.com/autofreeze/autofreeze/model"
)

// msDomain is ONNX Runtime's contrib operator domain.
const msDomain = "com.microsoft"

// builder accumulates one graph. Node outputs are named after the node, so
// a profile or a Netron view of the model reads like the layer it came from.
type builder struct {
	int8    bool // DynamicQuantizeMatMul with int8 weights in the fused projections
	g       *onnxpb.GraphProto
	cfg     *model.Config
	tensors map[string]*model.Tensor
	dt      onnxpb.TensorProto_DataType // weights and arithmetic
	consts  map[string]string           // constant key -> initializer name
	usesMS  bool
	err     error // sticky: the first missing or misshapen tensor
}

func newBuilder(cfg *model.Config, tensors map[string]*model.Tensor, dt DType) *builder {
	return &builder{
		g:       &onnxpb.GraphProto{},
		cfg:     cfg,
		tensors: tensors,
		dt:      elemType(dt),
		consts:  map[string]string{},
	}
}

func elemType(d DType) onnxpb.TensorProto_DataType {
	if d == FP16 {
		return onnxpb.TensorProto_FLOAT16
	}
	return onnxpb.TensorProto_FLOAT
}

// op adds a node of the default domain with one output, named name, and
// returns that output.
func (b *builder) op(opType, name string, inputs []string, attrs ...*onnxpb.AttributeProto) string {
	return b.node("", opType, name, inputs, 1, attrs...)[0]
}

// msOp adds a com.microsoft node with nOut outputs.
func (b *builder) msOp(opType, name string, inputs []string, nOut int, attrs ...*onnxpb.AttributeProto) []string {
	b.usesMS = true
	return b.node(msDomain, opType, name, inputs, nOut, attrs...)
}

func (b *builder) node(domain, opType, name string, inputs []string, nOut int, attrs ...*onnxpb.AttributeProto) []string {
	outs := make([]string, nOut)
	for i := range outs {
		outs[i] = name + "_out" + strconv.Itoa(i)
	}
	n := &onnxpb.NodeProto{
		Name:      proto.String(name),
		OpType:    proto.String(opType),
		Input:     inputs,
		Output:    outs,
		Attribute: attrs,
	}
	if domain != "" {
		n.Domain = proto.String(domain)
	}
	b.g.Node = append(b.g.Node, n)
	return outs
}

func attrInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func attrFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

func attrInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

// weight returns the named source tensor, checked against shape.
func (b *builder) weight(name string, shape ...int64) *model.Tensor {
	t, ok := b.tensors[name]
	switch {
	case b.err != nil:
		return nil
	case !ok:
		b.err = fmt.Errorf("%w %q", model.ErrMissingTensor, name)
		return nil
	case !sameShape(t.Shape, shape):
		b.err = fmt.Errorf("tensor %q has shape %v, want %v", name, t.Shape, shape)
		return nil
	case int64(len(t.Data)) != model.NumElements(shape):
		b.err = fmt.Errorf("tensor %q has %d values for shape %v", name, len(t.Data), shape)
		return nil
	}
	return t
}

func sameShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// param adds source tensor name, unchanged, as an initializer of the same
// name and returns that name.
func (b *builder) param(name string, shape ...int64) string {
	t := b.weight(name, shape...)
	if t == nil {
		return name
	}
	b.initFloats(name, shape, t.Data)
	return name
}

// linearT adds the weight of a PyTorch Linear ([out, in], y = x W^T + b)
// transposed to [in, out], the layout of ONNX MatMul's second input. It
// returns the initializer's name.
func (b *builder) linearT(name string, out, in int) string {
	t := b.weight(name, int64(out), int64(in))
	if t == nil {
		return name
	}
	b.initFloats(name+"_T", []int64{int64(in), int64(out)}, transpose(t.Data, out, in))
	return name + "_T"
}

// transpose returns the [cols, rows] transpose of a row-major [rows, cols]
// matrix.
func transpose(a []float32, rows, cols int) []float32 {
	out := make([]float32, len(a))
	for r := 0; r < rows; r++ {
		row := a[r*cols : (r+1)*cols]
		for c, v := range row {
			out[c*rows+r] = v
		}
	}
	return out
}

// initFloats adds an initializer in the graph's precision.
func (b *builder) initFloats(name string, dims []int64, data []float32) {
	b.g.Initializer = append(b.g.Initializer, floatTensor(name, dims, data, b.dt))
}

func floatTensor(name string, dims []int64, data []float32, dt onnxpb.TensorProto_DataType) *onnxpb.TensorProto {
	var raw []byte
	if dt == onnxpb.TensorProto_FLOAT16 {
		raw = make([]byte, 0, 2*len(data))
		for _, v := range data {
			raw = binary.LittleEndian.AppendUint16(raw, Float32ToHalf(v))
		}
	} else {
		raw = make([]byte, 0, 4*len(data))
		for _, v := range data {
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
		}
	}
	return &onnxpb.TensorProto{
		Name:     proto.String(name),
		Dims:     append([]int64(nil), dims...),
		DataType: proto.Int32(int32(dt)),
		RawData:  raw,
	}
}

// scalar returns a float constant of the graph's precision, shared by every
// node that uses the same value.
func (b *builder) scalar(v float32) string {
	key := "f" + strconv.FormatUint(uint64(math.Float32bits(v)), 16)
	if name, ok := b.consts[key]; ok {
		return name
	}
	name := "const_" + strconv.FormatFloat(float64(v), 'g', -1, 32)
	b.consts[key] = name
	b.initFloats(name, nil, []float32{v})
	return name
}

// ints returns a 1-D int64 constant.
func (b *builder) ints(vals ...int64) string {
	key := fmt.Sprint("i", vals)
	if name, ok := b.consts[key]; ok {
		return name
	}
	name := "const_ints_" + strconv.Itoa(len(b.consts))
	b.consts[key] = name
	raw := make([]byte, 0, 8*len(vals))
	for _, v := range vals {
		raw = binary.LittleEndian.AppendUint64(raw, uint64(v))
	}
	b.g.Initializer = append(b.g.Initializer, &onnxpb.TensorProto{
		Name:     proto.String(name),
		Dims:     []int64{int64(len(vals))},
		DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)),
		RawData:  raw,
	})
	return name
}

// int64Scalar returns a 0-D int64 constant.
func (b *builder) int64Scalar(v int64) string {
	key := "s" + strconv.FormatInt(v, 10)
	if name, ok := b.consts[key]; ok {
		return name
	}
	name := "const_int64_" + strconv.FormatInt(v, 10)
	b.consts[key] = name
	b.g.Initializer = append(b.g.Initializer, &onnxpb.TensorProto{
		Name:     proto.String(name),
		DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)),
		RawData:  binary.LittleEndian.AppendUint64(nil, uint64(v)),
	})
	return name
}

// cast converts x to type to, unless it already is (from == to).
func (b *builder) cast(x, name string, from, to onnxpb.TensorProto_DataType) string {
	if from == to {
		return x
	}
	return b.op("Cast", name, []string{x}, attrInt("to", int64(to)))
}

// Dimension names of the graph's inputs and output.
const (
	dimBatch = "batch"
	dimSeq   = "seq"
)

func (b *builder) input(name string, dt onnxpb.TensorProto_DataType, dims ...any) {
	b.g.Input = append(b.g.Input, valueInfo(name, dt, dims...))
}

func (b *builder) output(name string, dt onnxpb.TensorProto_DataType, dims ...any) {
	b.g.Output = append(b.g.Output, valueInfo(name, dt, dims...))
}

// valueInfo describes a tensor; each dim is an int (fixed) or a string (a
// named dynamic dimension).
func valueInfo(name string, dt onnxpb.TensorProto_DataType, dims ...any) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		dim := &onnxpb.TensorShapeProto_Dimension{}
		switch d := d.(type) {
		case int:
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}
		case string:
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d}
		default:
			panic(fmt.Sprintf("valueInfo: dim %v of type %T", d, d))
		}
		shape.Dim = append(shape.Dim, dim)
	}
	return &onnxpb.ValueInfoProto{
		Name: proto.String(name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(dt)),
			Shape:    shape,
		}}},
	}
}
