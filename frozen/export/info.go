package export

import (
	"errors"
	"fmt"
	"io"
	"os"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/autofreeze/autofreeze/frozen/onnxpb"
)

// ErrCorrupt is wrapped by errors about files that are not complete ONNX
// models.
var ErrCorrupt = errors.New("not a complete ONNX model")

// Info is what Inspect reads from an ONNX file: everything but the graph's
// nodes and weights.
type Info struct {
	Path      string
	IRVersion int64
	// Opsets maps each imported domain ("" is the default) to its version.
	Opsets   map[string]int64
	Inputs   []ValueInfo
	Outputs  []ValueInfo
	Metadata map[string]string
}

// ValueInfo describes a graph input or output.
type ValueInfo struct {
	Name     string
	ElemType onnxpb.TensorProto_DataType
	// Dims holds -1 where a dimension is dynamic; DimNames holds the
	// dynamic dimensions' names ("" where fixed).
	Dims     []int64
	DimNames []string
}

// Limits on the parts Inspect decodes, so a corrupt length cannot make it
// allocate much.
const (
	maxValueInfo = 1 << 20
	maxMetadata  = 64 << 20
)

// Inspect reads the header of the ONNX model at path (opsets, inputs,
// outputs, metadata) without reading its weights, checking every length
// against the file's size: a truncated or corrupt file gives an error that
// wraps ErrCorrupt and names the file.
func Inspect(path string) (*Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return ReadInfo(f, st.Size(), path)
}

// ReadInfo is Inspect for a model of size bytes read through f; path is used
// in errors and as Info.Path.
func ReadInfo(f io.ReaderAt, size int64, path string) (*Info, error) {
	info := &Info{Path: path, Opsets: map[string]int64{}, Metadata: map[string]string{}}
	var sawGraph bool
	err := walk(f, 0, size, func(num protowire.Number, off, n int64, v uint64) error {
		switch num {
		case 1: // ir_version
			info.IRVersion = int64(v)
		case 7: // graph
			sawGraph = true
			return walk(f, off, off+n, func(num protowire.Number, off, n int64, _ uint64) error {
				if num != 11 && num != 12 { // input, output
					return nil
				}
				vi := &onnxpb.ValueInfoProto{}
				if err := readMessage(f, off, n, maxValueInfo, vi); err != nil {
					return err
				}
				if num == 11 {
					info.Inputs = append(info.Inputs, valueInfoOf(vi))
				} else {
					info.Outputs = append(info.Outputs, valueInfoOf(vi))
				}
				return nil
			})
		case 8: // opset_import
			op := &onnxpb.OperatorSetIdProto{}
			if err := readMessage(f, off, n, maxValueInfo, op); err != nil {
				return err
			}
			info.Opsets[op.GetDomain()] = op.GetVersion()
		case 14: // metadata_props
			kv := &onnxpb.StringStringEntryProto{}
			if err := readMessage(f, off, n, maxMetadata, kv); err != nil {
				return err
			}
			info.Metadata[kv.GetKey()] = kv.GetValue()
		}
		return nil
	})
	if err == nil {
		switch {
		case info.IRVersion == 0:
			err = errors.New("no ir_version")
		case !sawGraph || len(info.Outputs) == 0:
			err = errors.New("no graph outputs")
		case len(info.Opsets) == 0:
			err = errors.New("no opset_import")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w (truncated or damaged? export it again): %w", path, ErrCorrupt, err)
	}
	return info, nil
}

// walk calls fn for every field of the message in [off, end) of r. For a
// varint field fn gets its value; for a length-delimited one, where its bytes
// lie. Fixed-width fields are skipped.
func walk(r io.ReaderAt, off, end int64, fn func(num protowire.Number, off, n int64, v uint64) error) error {
	var buf [2 * binary64]byte
	for off < end {
		k := int64(len(buf))
		if end-off < k {
			k = end - off
		}
		got, err := r.ReadAt(buf[:k], off)
		if int64(got) < k {
			return fmt.Errorf("read at %d: %w", off, err)
		}
		num, typ, tn := protowire.ConsumeTag(buf[:k])
		if tn < 0 {
			return fmt.Errorf("bad field tag at offset %d", off)
		}
		off += int64(tn)
		rest := buf[tn:k]
		switch typ {
		case protowire.VarintType:
			v, vn := protowire.ConsumeVarint(rest)
			if vn < 0 {
				return fmt.Errorf("bad varint (field %d) at offset %d", num, off)
			}
			off += int64(vn)
			if err := fn(num, off, 0, v); err != nil {
				return err
			}
		case protowire.BytesType:
			n, vn := protowire.ConsumeVarint(rest)
			if vn < 0 {
				return fmt.Errorf("bad length (field %d) at offset %d", num, off)
			}
			off += int64(vn)
			if n > uint64(end-off) {
				return fmt.Errorf("field %d at offset %d claims %d bytes, but only %d remain", num, off, n, end-off)
			}
			if err := fn(num, off, int64(n), 0); err != nil {
				return err
			}
			off += int64(n)
		case protowire.Fixed32Type:
			off += 4
		case protowire.Fixed64Type:
			off += 8
		default:
			return fmt.Errorf("unexpected wire type %d (field %d) at offset %d", typ, num, off)
		}
	}
	if off != end {
		return fmt.Errorf("last field overruns its message by %d bytes", off-end)
	}
	return nil
}

// binary64 is the longest varint.
const binary64 = 10

func readMessage(r io.ReaderAt, off, n, limit int64, m proto.Message) error {
	if n > limit {
		return fmt.Errorf("a %d-byte header field at offset %d (limit %d)", n, off, limit)
	}
	buf := make([]byte, n)
	if _, err := r.ReadAt(buf, off); err != nil {
		return fmt.Errorf("read at %d: %w", off, err)
	}
	if err := proto.Unmarshal(buf, m); err != nil {
		return fmt.Errorf("at offset %d: %w", off, err)
	}
	return nil
}

func valueInfoOf(vi *onnxpb.ValueInfoProto) ValueInfo {
	t := vi.GetType().GetTensorType()
	out := ValueInfo{Name: vi.GetName(), ElemType: onnxpb.TensorProto_DataType(t.GetElemType())}
	for _, d := range t.GetShape().GetDim() {
		if p, ok := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); ok {
			out.Dims = append(out.Dims, p.DimValue)
			out.DimNames = append(out.DimNames, "")
		} else {
			out.Dims = append(out.Dims, -1)
			out.DimNames = append(out.DimNames, d.GetDimParam())
		}
	}
	return out
}
