package model

import (
	"fmt"
	"math"
	"strings"
)

// The allowlist of globals a torch.save state dict is made of, and the Go
// values they become. Following torch/_weights_only_unpickler.py, but far
// shorter: only what a saved model's tensors need.

// torchDType is a tensor element type.
type torchDType struct {
	name string // torch's name, "float32"
	size int64  // bytes per element
	st   string // the safetensors dtype decodeFloats reads; "" for integers and bool
}

func (d *torchDType) pyType() string { return "torch." + d.name }

var torchDTypes = map[string]*torchDType{}

func init() {
	for _, d := range []*torchDType{
		{"float32", 4, "F32"}, {"float64", 8, "F64"}, {"float16", 2, "F16"}, {"bfloat16", 2, "BF16"},
		{"int64", 8, ""}, {"int32", 4, ""}, {"int16", 2, ""}, {"int8", 1, ""},
		{"uint64", 8, ""}, {"uint32", 4, ""}, {"uint16", 2, ""}, {"uint8", 1, ""}, {"bool", 1, ""},
	} {
		torchDTypes[d.name] = d
	}
}

// torchStorageTypes are the legacy typed storage classes torch.save still
// names in every persistent id (torch.FloatStorage, ...), by element type.
var torchStorageTypes = map[string]string{
	"FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
	"BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
	"ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool",
}

// torchStorageType is the class in a persistent id. An untyped storage
// (torch.storage.UntypedStorage) counts bytes; the tensor names its dtype.
type torchStorageType struct {
	name    string
	dtype   *torchDType
	untyped bool
}

func (t *torchStorageType) pyType() string { return "torch." + t.name }

// torchStorage is one data/KEY record of the archive.
type torchStorage struct {
	key     string
	dtype   *torchDType
	untyped bool
	numel   int64 // elements of dtype (bytes when untyped)
}

func (s *torchStorage) pyType() string { return "storage" }

func (s *torchStorage) nbytes() int64 { return s.numel * s.dtype.size }

// torchTensor is a strided view of a storage: element i of the view, with
// multi-index (i0, i1, ...), is storage element offset + Σ ik·stride[k].
type torchTensor struct {
	storage *torchStorage
	dtype   *torchDType
	offset  int64
	shape   []int64
	stride  []int64
}

func (t *torchTensor) pyType() string { return "tensor" }

// setState takes a Parameter's or tensor's Python attributes, which loading
// does not need.
func (t *torchTensor) setState(any) error { return nil }

// torchLoader resolves globals and persistent ids for one data.pkl.
type torchLoader struct {
	storages map[string]*torchStorage
}

func (l *torchLoader) global(module, name string) (any, error) {
	full := module + "." + name
	fn := func(call func(pyTuple) (any, error)) *pyFunc { return &pyFunc{name: full, call: call} }
	switch full {
	case "collections.OrderedDict":
		return fn(func(args pyTuple) (any, error) {
			if len(args) != 0 {
				return nil, fmt.Errorf("called with %d arguments, want none", len(args))
			}
			return newPyDict(), nil
		}), nil
	case "torch._utils._rebuild_tensor_v2":
		return fn(l.rebuildTensorV2), nil
	case "torch._utils._rebuild_tensor_v3":
		return fn(l.rebuildTensorV3), nil
	case "torch._utils._rebuild_parameter":
		return fn(rebuildParameter(3)), nil
	case "torch._utils._rebuild_parameter_with_state":
		return fn(rebuildParameter(4)), nil
	case "torch.storage.UntypedStorage", "torch.UntypedStorage":
		return &torchStorageType{name: "UntypedStorage", dtype: torchDTypes["uint8"], untyped: true}, nil
	}
	if module == "torch" {
		if d := torchDTypes[name]; d != nil {
			return d, nil
		}
		if dt, ok := torchStorageTypes[name]; ok {
			return &torchStorageType{name: name, dtype: torchDTypes[dt]}, nil
		}
		if strings.HasSuffix(name, "Storage") || strings.HasPrefix(name, "float8") ||
			strings.HasPrefix(name, "complex") || strings.HasPrefix(name, "qint") || strings.HasPrefix(name, "quint") {
			return nil, fmt.Errorf("torch.%s: tensors of this type are not supported (autofreeze reads float32, float16, bfloat16 and float64 weights)", name)
		}
	}
	return nil, fmt.Errorf("refusing GLOBAL %s: it is not one of the tensor, storage and dict types a state dict is made of, and autofreeze never runs code from a checkpoint (a whole pickled model rather than its state_dict()? save model.state_dict(), or convert the checkpoint to safetensors)", full)
}

// persistentLoad resolves torch.save's storage ids:
// ('storage', storage_type, key, location, numel).
func (l *torchLoader) persistentLoad(pid any) (any, error) {
	t, ok := pid.(pyTuple)
	if !ok || len(t) != 5 {
		return nil, fmt.Errorf("persistent id is a %s, want ('storage', type, key, location, numel)", pyTypeName(pid))
	}
	if tag, _ := t[0].(string); tag != "storage" {
		return nil, fmt.Errorf("persistent id of kind %s, want 'storage'", pyTypeName(t[0]))
	}
	typ, ok1 := t[1].(*torchStorageType)
	key, ok2 := t[2].(string)
	_, ok3 := t[3].(string)
	numel, ok4 := t[4].(int64)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return nil, fmt.Errorf("persistent id ('storage', %s, %s, %s, %s), want ('storage', storage type, str, str, int)",
			pyTypeName(t[1]), pyTypeName(t[2]), pyTypeName(t[3]), pyTypeName(t[4]))
	}
	if key == "" || numel < 0 || numel > math.MaxInt64/typ.dtype.size {
		return nil, fmt.Errorf("persistent id gives storage %q an invalid size of %d elements", key, numel)
	}
	s := &torchStorage{key: key, dtype: typ.dtype, untyped: typ.untyped, numel: numel}
	if prev, ok := l.storages[key]; ok {
		if *prev != *s {
			return nil, fmt.Errorf("storage %q is named twice, as %d × %s and as %d × %s", key, prev.numel, prev.dtype.name, numel, s.dtype.name)
		}
		return prev, nil
	}
	l.storages[key] = s
	return s, nil
}

// rebuildTensorV2 is torch._utils._rebuild_tensor_v2(storage, storage_offset,
// size, stride, requires_grad, backward_hooks[, metadata]).
func (l *torchLoader) rebuildTensorV2(args pyTuple) (any, error) {
	if len(args) != 6 && len(args) != 7 {
		return nil, fmt.Errorf("called with %d arguments, want 6 or 7", len(args))
	}
	s, ok := args[0].(*torchStorage)
	if !ok || s.untyped {
		return nil, fmt.Errorf("first argument is a %s, want a typed storage", pyTypeName(args[0]))
	}
	return newTorchTensor(s, s.dtype, args[1], args[2], args[3])
}

// rebuildTensorV3 is torch._utils._rebuild_tensor_v3(storage, storage_offset,
// size, stride, requires_grad, backward_hooks, dtype[, metadata]), which
// PyTorch 2 uses with an untyped storage for dtypes that lack a typed one.
func (l *torchLoader) rebuildTensorV3(args pyTuple) (any, error) {
	if len(args) != 7 && len(args) != 8 {
		return nil, fmt.Errorf("called with %d arguments, want 7 or 8", len(args))
	}
	s, ok := args[0].(*torchStorage)
	if !ok {
		return nil, fmt.Errorf("first argument is a %s, want a storage", pyTypeName(args[0]))
	}
	dt, ok := args[6].(*torchDType)
	if !ok {
		return nil, fmt.Errorf("dtype argument is a %s, want a torch dtype", pyTypeName(args[6]))
	}
	if !s.untyped && s.dtype != dt {
		return nil, fmt.Errorf("a %s storage viewed as %s", s.dtype.name, dt.name)
	}
	return newTorchTensor(s, dt, args[1], args[2], args[3])
}

// rebuildParameter is torch._utils._rebuild_parameter(data, requires_grad,
// backward_hooks) and, with n = 4, _rebuild_parameter_with_state(..., state):
// a Parameter is its data.
func rebuildParameter(n int) func(pyTuple) (any, error) {
	return func(args pyTuple) (any, error) {
		if len(args) != n {
			return nil, fmt.Errorf("called with %d arguments, want %d", len(args), n)
		}
		t, ok := args[0].(*torchTensor)
		if !ok {
			return nil, fmt.Errorf("data is a %s, want a tensor", pyTypeName(args[0]))
		}
		return t, nil
	}
}

func newTorchTensor(s *torchStorage, dt *torchDType, offset, size, stride any) (*torchTensor, error) {
	off, ok := offset.(int64)
	if !ok {
		return nil, fmt.Errorf("storage offset is a %s, want an int", pyTypeName(offset))
	}
	shape, err := pyInts("size", size)
	if err != nil {
		return nil, err
	}
	strides, err := pyInts("stride", stride)
	if err != nil {
		return nil, err
	}
	return &torchTensor{storage: s, dtype: dt, offset: off, shape: shape, stride: strides}, nil
}

func pyInts(what string, v any) ([]int64, error) {
	t, ok := v.(pyTuple)
	if !ok {
		return nil, fmt.Errorf("%s is a %s, want a tuple of ints", what, pyTypeName(v))
	}
	out := make([]int64, len(t))
	for i, e := range t {
		if out[i], ok = e.(int64); !ok {
			return nil, fmt.Errorf("%s has a %s, want ints", what, pyTypeName(e))
		}
	}
	return out, nil
}

// numel is the number of elements; check has made sure it fits.
func (t *torchTensor) numel() int64 { return NumElements(t.shape) }

// check verifies that the view lies inside its storage.
func (t *torchTensor) check() error {
	if len(t.shape) != len(t.stride) {
		return fmt.Errorf("size %v and stride %v differ in length", t.shape, t.stride)
	}
	if t.offset < 0 {
		return fmt.Errorf("negative storage offset %d", t.offset)
	}
	numel := int64(1)
	for i, d := range t.shape {
		if d < 0 || t.stride[i] < 0 {
			return fmt.Errorf("size %v with stride %v: negative sizes and strides are not allowed", t.shape, t.stride)
		}
		if d > 0 && numel > math.MaxInt64/d {
			return fmt.Errorf("size %v overflows", t.shape)
		}
		numel *= d
	}
	if numel == 0 {
		return nil
	}
	// The last element the view touches, computed without overflow.
	last := t.offset
	for i, d := range t.shape {
		if d > 1 && t.stride[i] > (math.MaxInt64-last)/(d-1) {
			return errOutside(t)
		}
		last += (d - 1) * t.stride[i]
	}
	if last >= t.storage.nbytes()/t.dtype.size {
		return errOutside(t)
	}
	return nil
}

func errOutside(t *torchTensor) error {
	return fmt.Errorf("size %v, stride %v at offset %d reach past the end of storage %s (%d × %s)",
		t.shape, t.stride, t.offset, t.storage.key, t.storage.numel, t.storage.dtype.name)
}

// contiguous reports whether the view is row-major and dense, so that its
// elements are one run of the storage.
func (t *torchTensor) contiguous() bool {
	want := int64(1)
	for i := len(t.shape) - 1; i >= 0; i-- {
		if t.shape[i] != 1 && t.stride[i] != want {
			return false
		}
		want *= t.shape[i]
	}
	return true
}

// decode converts the view of raw (its storage's bytes) to float32s.
func (t *torchTensor) decode(raw []byte, bigEndian bool) []float32 {
	n, es := t.numel(), t.dtype.size
	var buf []byte
	if t.contiguous() {
		buf = raw[t.offset*es : (t.offset+n)*es]
		if bigEndian {
			buf = append([]byte(nil), buf...) // raw may back other tensors
		}
	} else {
		buf = t.gather(raw, n, es)
	}
	if bigEndian {
		swapBytes(buf, int(es))
	}
	return decodeFloats(buf, t.dtype.st, int(n))
}

// gather copies a strided view's elements into row-major order.
func (t *torchTensor) gather(raw []byte, n, es int64) []byte {
	out := make([]byte, n*es)
	idx := make([]int64, len(t.shape))
	src := t.offset
	for i := int64(0); i < n; i++ {
		copy(out[i*es:(i+1)*es], raw[src*es:])
		for d := len(t.shape) - 1; d >= 0; d-- {
			idx[d]++
			src += t.stride[d]
			if idx[d] < t.shape[d] {
				break
			}
			src -= t.stride[d] * t.shape[d]
			idx[d] = 0
		}
	}
	return out
}

func swapBytes(b []byte, width int) {
	for i := 0; i+width <= len(b); i += width {
		for j, k := i, i+width-1; j < k; j, k = j+1, k-1 {
			b[j], b[k] = b[k], b[j]
		}
	}
}
