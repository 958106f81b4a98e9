package model

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	"github.com/autofreeze/autofreeze/internal/atomicfile"
)

// The safetensors format: an 8-byte little-endian header length N, N bytes of
// JSON mapping each tensor name to {dtype, shape, data_offsets} (offsets
// relative to the end of the header), then the raw little-endian data.

// ErrCorrupt is wrapped by errors about weight files that cannot be read as
// what they claim to be.
var ErrCorrupt = errors.New("corrupt weight file")

// maxHeader bounds the JSON header so a corrupt length cannot make us
// allocate gigabytes.
const maxHeader = 100 << 20

type stEntry struct {
	DType   string   `json:"dtype"`
	Shape   []int64  `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// Tensor is a dense float32 tensor in row-major order.
type Tensor struct {
	Shape []int64
	Data  []float32
}

// NumElements is the product of the shape.
func NumElements(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// ReadSafetensors reads every floating-point tensor of a safetensors file,
// converting F16 and BF16 to float32. Integer tensors (such as BERT's
// position_ids buffer) are skipped.
func ReadSafetensors(path string) (map[string]*Tensor, error) {
	return readWeightFile(path, readSafetensors)
}

// readWeightFile opens path and hands it, with its size, to read.
func readWeightFile(path string, read func(r io.ReaderAt, size int64, name string) (map[string]*Tensor, error)) (map[string]*Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return read(f, st.Size(), path)
}

// readSafetensors reads a safetensors file of size bytes from r; name is
// used in errors.
func readSafetensors(r io.ReaderAt, size int64, name string) (map[string]*Tensor, error) {
	corrupt := func(format string, a ...any) error {
		return fmt.Errorf("%s: %w: %s (re-download or re-save the model)", name, ErrCorrupt, fmt.Sprintf(format, a...))
	}
	var lenBuf [8]byte
	if err := readFullAt(r, lenBuf[:], 0); err != nil {
		return nil, corrupt("file is %d bytes, too short for a safetensors header", size)
	}
	if string(lenBuf[:]) == lfsPointer[:8] {
		return nil, fmt.Errorf("%s: %w: this is a Git LFS pointer, not the weights: fetch them with `git lfs pull` (or download the file again)", name, ErrCorrupt)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > maxHeader || int64(n) > size-8 {
		return nil, corrupt("header length %d does not fit in a %d-byte file", n, size)
	}
	header := make([]byte, n)
	if err := readFullAt(r, header, 8); err != nil {
		return nil, corrupt("reading header: %v", err)
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(header, &entries); err != nil {
		return nil, corrupt("header is not a JSON object: %v", err)
	}
	names := make([]string, 0, len(entries))
	for name := range entries {
		if name != "__metadata__" {
			names = append(names, name)
		}
	}
	sort.Strings(names) // so that the first error is always the same one
	dataStart := 8 + int64(n)
	dataLen := size - dataStart
	type span struct {
		name   string
		e      stHeaderEntry
		numel  int64
		lo, hi int64
		float  bool
	}
	spans := make([]span, 0, len(names))
	for _, tname := range names {
		var e stHeaderEntry
		if err := json.Unmarshal(entries[tname], &e); err != nil {
			return nil, corrupt("tensor %q: %v", tname, err)
		}
		width, isFloat := dtypeWidth(e.DType)
		if width == 0 {
			return nil, corrupt("tensor %q has unknown dtype %q", tname, e.DType)
		}
		if width < 0 {
			return nil, fmt.Errorf("%s: %w: tensor %q has dtype %s, which autofreeze does not read (save the weights as F32, F16 or BF16)", name, ErrUnsupported, tname, e.DType)
		}
		numel := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && numel > math.MaxInt64/d) {
				return nil, corrupt("tensor %q has invalid shape %v", tname, e.Shape)
			}
			numel *= d
		}
		if len(e.Offsets) != 2 {
			return nil, corrupt("tensor %q: data_offsets has %d numbers, want [begin, end]", tname, len(e.Offsets))
		}
		lo, hi := e.Offsets[0], e.Offsets[1]
		if lo < 0 || hi < lo || hi > dataLen {
			return nil, corrupt("tensor %q: data offsets [%d, %d) outside the %d data bytes (file truncated?)", tname, lo, hi, dataLen)
		}
		if numel > dataLen/int64(width) || hi-lo != numel*int64(width) {
			return nil, corrupt("tensor %q: shape %v of %s needs %d bytes, offsets give %d", tname, e.Shape, e.DType, numel*int64(width), hi-lo)
		}
		spans = append(spans, span{name: tname, e: e, numel: numel, lo: lo, hi: hi, float: isFloat})
	}
	// Every tensor owns its bytes: overlapping or aliased ranges are refused
	// (as Hugging Face's safetensors loader refuses them), since writing one
	// tensor would silently change another.
	byOffset := make([]int, 0, len(spans))
	for i, sp := range spans {
		if sp.hi > sp.lo {
			byOffset = append(byOffset, i)
		}
	}
	sort.SliceStable(byOffset, func(a, b int) bool { return spans[byOffset[a]].lo < spans[byOffset[b]].lo })
	for k := 1; k < len(byOffset); k++ {
		prev, cur := spans[byOffset[k-1]], spans[byOffset[k]]
		if cur.lo < prev.hi {
			return nil, corrupt("tensors %q (data offsets [%d, %d)) and %q ([%d, %d)) share bytes: each tensor needs its own range of the data", prev.name, prev.lo, prev.hi, cur.name, cur.lo, cur.hi)
		}
	}
	out := map[string]*Tensor{}
	for _, sp := range spans {
		if !sp.float {
			continue
		}
		raw := make([]byte, sp.hi-sp.lo)
		if err := readFullAt(r, raw, dataStart+sp.lo); err != nil {
			return nil, corrupt("tensor %q: %v", sp.name, err)
		}
		out[sp.name] = &Tensor{Shape: sp.e.Shape, Data: decodeFloats(raw, sp.e.DType, int(sp.numel))}
	}
	return out, nil
}

// readFullAt fills buf from r at off.
func readFullAt(r io.ReaderAt, buf []byte, off int64) error {
	n, err := r.ReadAt(buf, off)
	if n == len(buf) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// stHeaderEntry is stEntry as read: data_offsets may have any length.
type stHeaderEntry struct {
	DType   string  `json:"dtype"`
	Shape   []int64 `json:"shape"`
	Offsets []int64 `json:"data_offsets"`
}

// dtypeWidth gives a safetensors dtype's size in bytes: 0 for an unknown
// dtype, -1 for a float format autofreeze does not convert.
func dtypeWidth(dtype string) (width int, isFloat bool) {
	switch dtype {
	case "F8_E4M3", "F8_E5M2":
		return -1, true
	case "F32":
		return 4, true
	case "F16", "BF16":
		return 2, true
	case "F64":
		return 8, true
	case "I64", "U64":
		return 8, false
	case "I32", "U32":
		return 4, false
	case "I16", "U16":
		return 2, false
	case "I8", "U8", "BOOL":
		return 1, false
	}
	return 0, false
}

func decodeFloats(raw []byte, dtype string, n int) []float32 {
	out := make([]float32, n)
	switch dtype {
	case "F32":
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case "F64":
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
		}
	case "BF16":
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(raw[2*i:])) << 16)
		}
	case "F16":
		for i := range out {
			out[i] = HalfToFloat32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	}
	return out
}

// HalfToFloat32 converts an IEEE 754 binary16 value to float32 (exactly).
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: normalise
		e := uint32(127 - 15 + 1)
		for frac&0x400 == 0 {
			frac <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (frac&0x3ff)<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}

// WriteSafetensors atomically writes tensors as F32 in name order, with
// optional string metadata.
func WriteSafetensors(path string, tensors map[string]*Tensor, metadata map[string]string) error {
	names := make([]string, 0, len(tensors))
	for name := range tensors {
		names = append(names, name)
	}
	sort.Strings(names)
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off int64
	for _, name := range names {
		t := tensors[name]
		if name == "__metadata__" || t == nil {
			return fmt.Errorf("%s: cannot write a tensor named %q (nil: %v)", path, name, t == nil)
		}
		for _, d := range t.Shape {
			if d < 0 {
				return fmt.Errorf("%s: tensor %q has negative shape %v", path, name, t.Shape)
			}
		}
		if int64(len(t.Data)) != NumElements(t.Shape) {
			return fmt.Errorf("%s: tensor %q: shape %v but %d values", path, name, t.Shape, len(t.Data))
		}
		// A scalar's shape is [], never null: the reference reader rejects null.
		shape := append([]int64{}, t.Shape...)
		n := int64(len(t.Data)) * 4
		header[name] = stEntry{DType: "F32", Shape: shape, Offsets: [2]int64{off, off + n}}
		off += n
	}
	hdr, err := json.Marshal(header)
	if err != nil {
		return err
	}
	// Pad the header with spaces to a multiple of 8, as the reference
	// implementation does, so the data is aligned.
	if pad := (8 - len(hdr)%8) % 8; pad > 0 {
		hdr = append(hdr, bytes.Repeat([]byte(" "), pad)...)
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		var lenBuf [8]byte
		binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hdr)))
		if _, err := w.Write(lenBuf[:]); err != nil {
			return err
		}
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		buf := make([]byte, 0, 1<<16)
		for _, name := range names {
			for _, v := range tensors[name].Data {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
				if len(buf) == cap(buf) {
					if _, err := w.Write(buf); err != nil {
						return err
					}
					buf = buf[:0]
				}
			}
		}
		_, err := w.Write(buf)
		return err
	})
}
