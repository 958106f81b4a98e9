package export

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/autofreeze/autofreeze/frozen/onnxpb"
	"github.com/autofreeze/autofreeze/internal/atomicfile"
)

// Protocol buffers cannot hold a message of 2 GiB or more, so a larger model
// keeps its weights in a second file, as ONNX's external data: each large
// initializer names the file, an offset and a length.
const (
	// DefaultMaxInline is the largest model written as one file. It leaves
	// room under the 2 GiB limit for the graph and metadata.
	DefaultMaxInline = 2<<30 - 64<<20
	// ExternalDataSuffix is appended to the model's file name to name its
	// data file, which lies beside it.
	ExternalDataSuffix = ".data"
	// externalAlign aligns each tensor in the data file to a page, so
	// ONNX Runtime can map it instead of copying it.
	externalAlign = 4096
	// defaultMinExternal: tensors smaller than this stay inline.
	defaultMinExternal = 1024
)

// WriteOptions tune WriteModelWith; the zero value is WriteModel's behaviour.
type WriteOptions struct {
	// MaxInline is the largest serialized model written as a single file;
	// above it, initializers of at least MinExternal bytes move to
	// PATH.data. 0 means DefaultMaxInline.
	MaxInline int64
	// MinExternal: 0 means 1 KiB.
	MinExternal int64
}

// WriteModel atomically writes m to path (temporary name, fsync, rename,
// fsync of the directory). A model over DefaultMaxInline bytes is written
// with external data in path+".data", published before path.
func WriteModel(path string, m *onnxpb.ModelProto) error {
	return WriteModelWith(path, m, WriteOptions{})
}

// WriteModelWith is WriteModel with options. It changes m's graph while it
// runs (and restores it), so m must not be used concurrently.
func WriteModelWith(path string, m *onnxpb.ModelProto, o WriteOptions) error {
	if m.GetGraph() == nil {
		return errors.New("write model: no graph")
	}
	if o.MaxInline <= 0 {
		o.MaxInline = DefaultMaxInline
	}
	if o.MinExternal <= 0 {
		o.MinExternal = defaultMinExternal
	}
	dataPath := path + ExternalDataSuffix
	if int64(proto.Size(m)) <= o.MaxInline {
		if err := marshalTo(path, m); err != nil {
			return err
		}
		// A data file left by an earlier, larger export is stale now.
		if err := os.Remove(dataPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}

	g := m.Graph
	inline := g.Initializer
	external := make([]*onnxpb.TensorProto, len(inline))
	var moved []*onnxpb.TensorProto
	var offset int64
	for i, t := range inline {
		if int64(len(t.RawData)) < o.MinExternal || t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
			external[i] = t
			continue
		}
		offset = alignUp(offset, externalAlign)
		external[i] = &onnxpb.TensorProto{
			Name:         t.Name,
			Dims:         t.Dims,
			DataType:     t.DataType,
			DocString:    t.DocString,
			DataLocation: onnxpb.TensorProto_EXTERNAL.Enum(),
			ExternalData: []*onnxpb.StringStringEntryProto{
				{Key: proto.String("location"), Value: proto.String(filepath.Base(dataPath))},
				{Key: proto.String("offset"), Value: proto.String(strconv.FormatInt(offset, 10))},
				{Key: proto.String("length"), Value: proto.String(strconv.Itoa(len(t.RawData)))},
			},
		}
		moved = append(moved, t)
		offset += int64(len(t.RawData))
	}
	if err := atomicfile.Write(dataPath, func(w io.Writer) error {
		return writeExternal(w, moved)
	}); err != nil {
		return fmt.Errorf("write external data %s: %w", dataPath, err)
	}
	g.Initializer = external
	defer func() { g.Initializer = inline }()
	if n := int64(proto.Size(m)); n > o.MaxInline {
		return fmt.Errorf("write model %s: the graph alone is %d bytes, over the %d-byte limit", path, n, o.MaxInline)
	}
	return marshalTo(path, m)
}

func marshalTo(path string, m *onnxpb.ModelProto) error {
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return fmt.Errorf("write model %s: %w", path, err)
	}
	if err := atomicfile.WriteFile(path, data); err != nil {
		return fmt.Errorf("write model %s: %w", path, err)
	}
	return nil
}

// writeExternal writes the tensors' bytes back to back, each starting at a
// multiple of externalAlign, matching the offsets WriteModelWith recorded.
func writeExternal(w io.Writer, tensors []*onnxpb.TensorProto) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	var offset int64
	pad := make([]byte, externalAlign)
	for _, t := range tensors {
		next := alignUp(offset, externalAlign)
		if _, err := bw.Write(pad[:next-offset]); err != nil {
			return err
		}
		if _, err := bw.Write(t.RawData); err != nil {
			return err
		}
		offset = next + int64(len(t.RawData))
	}
	return bw.Flush()
}

func alignUp(n, a int64) int64 { return (n + a - 1) / a * a }
