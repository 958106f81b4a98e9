package trainable

import (
	"fmt"
	"unsafe"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// guard turns a panic from a gotch Must* call (our patched gotch panics on a
// libtorch error instead of exiting) into an error for the caller.
func guard(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("libtorch: %v", r)
	}
}

// hostToTensor copies a float32 slice into a new tensor of the given shape on
// device. It goes through bytes, which gotch copies with one memcpy, rather
// than OfSlice, which encodes element by element.
func hostToTensor(data []float32, shape []int64, device gotch.Device) (*ts.Tensor, error) {
	if len(data) == 0 {
		return ts.MustZeros(shape, gotch.Float, device), nil
	}
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), 4*len(data))
	t, err := ts.OfDataSize(raw, shape, gotch.Float)
	if err != nil {
		return nil, err
	}
	if device != gotch.CPU {
		return t.MustTo(device, true), nil
	}
	return t, nil
}

// int64ToTensor copies int64 values (token ids, masks, labels) into a tensor.
func int64ToTensor(data []int64, shape []int64, device gotch.Device) (*ts.Tensor, error) {
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), 8*len(data))
	t, err := ts.OfDataSize(raw, shape, gotch.Int64)
	if err != nil {
		return nil, err
	}
	if device != gotch.CPU {
		return t.MustTo(device, true), nil
	}
	return t, nil
}

// tensorToHost copies a float tensor to a new float32 slice.
func tensorToHost(t *ts.Tensor) []float32 {
	n := t.Numel()
	out := make([]float32, n)
	copyToHost(t, out)
	return out
}

// copyToHost copies a float tensor into dst, which must hold Numel values.
func copyToHost(t *ts.Tensor, dst []float32) {
	src := t
	if t.MustDevice() != gotch.CPU || t.DType() != gotch.Float || !t.MustIsContiguous() {
		src = t.MustTo(gotch.CPU, false).MustTotype(gotch.Float, true).MustContiguous(true)
		defer src.MustDrop()
	}
	n := int(src.Numel())
	if n != len(dst) {
		panic(fmt.Sprintf("copyToHost: tensor has %d values, buffer %d", n, len(dst)))
	}
	if n == 0 {
		return
	}
	ptr := src.MustDataPtr()
	copy(dst, unsafe.Slice((*float32)(ptr), n))
}

// noGradCopy copies src into dst in place without recording the copy.
func noGradCopy(dst, src *ts.Tensor) {
	ts.NoGrad(func() { dst.Copy_(src) })
}

// scalar reads a one-element tensor without creating another tensor (gotch's
// Float64Values converts to a copy that, for a tensor with a gradient graph,
// would keep the whole graph alive until the Go GC finalises it).
func scalar(t *ts.Tensor) float64 {
	if t.DType() == gotch.Double && t.MustDevice() == gotch.CPU {
		return *(*float64)(t.MustDataPtr())
	}
	var v [1]float32
	copyToHost(t, v[:])
	return float64(v[0])
}
