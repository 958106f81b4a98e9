package trainable

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/sugarme/gotch"
)

// Where the encoder runs: "cpu", "cuda" (this rank's GPU: the local rank's,
// modulo the GPUs there are), "cuda:N", or "auto" (a GPU when libtorch sees
// one, else the CPU). A GPU is there only in the CUDA variant of the build
// (GPU=1 make setup, docs/GPU.md) on a machine with an NVIDIA GPU and driver.

// ErrDevice is wrapped when the device asked for is not on this machine or
// not in this build.
var ErrDevice = errors.New("device unavailable")

// DeviceRequest is a parsed --device.
type DeviceRequest struct {
	Auto  bool // "auto"
	CUDA  bool // "cuda" or "cuda:N"
	Index int  // N of "cuda:N"; -1 for "cuda" (the local rank's GPU)
}

// ParseDevice parses "cpu", "cuda", "cuda:N" or "auto" (the empty string
// is "auto"). It checks the spelling only; ResolveDevice checks the machine.
func ParseDevice(s string) (DeviceRequest, error) {
	switch s {
	case "", "auto":
		return DeviceRequest{Auto: true, Index: -1}, nil
	case "cpu":
		return DeviceRequest{Index: -1}, nil
	case "cuda":
		return DeviceRequest{CUDA: true, Index: -1}, nil
	}
	if rest, ok := strings.CutPrefix(s, "cuda:"); ok {
		if n, err := strconv.Atoi(rest); err == nil && n >= 0 && n < 1<<16 && strconv.Itoa(n) == rest {
			return DeviceRequest{CUDA: true, Index: n}, nil
		}
	}
	return DeviceRequest{}, fmt.Errorf("device %q: want cpu, cuda, cuda:N (N >= 0) or auto", s)
}

// CUDABuilt reports whether this process runs the CUDA variant: libtorch's
// CUDA library is loaded.
func CUDABuilt() bool {
	cudaBuilt.once.Do(func() { cudaBuilt.v = mapped("libtorch_cuda.so") })
	return cudaBuilt.v
}

var cudaBuilt struct {
	once sync.Once
	v    bool
}

// mapped reports whether a shared object whose file name is name is mapped
// into this process (Linux; false elsewhere).
func mapped(name string) bool {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasSuffix(s.Text(), "/"+name) {
			return true
		}
	}
	return false
}

// CUDADeviceCount is the number of GPUs libtorch sees: 0 in the CPU
// variant, and without an NVIDIA GPU or driver.
func CUDADeviceCount() (n int) {
	if !CUDABuilt() {
		return 0
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer func() {
		if recover() != nil {
			n = 0
		}
	}()
	return int(gotch.CUDA.DeviceCount())
}

// ResolveDevice turns a --device into a device of this machine. localRank
// picks the GPU of a data-parallel rank for "cuda" and "auto". note, when
// not empty, is the one line to tell the user: that "auto" found no GPU in
// the CUDA variant and runs on the CPU. A GPU asked for that is not there is
// an error wrapping ErrDevice that says what is missing.
func ResolveDevice(s string, localRank int) (d gotch.Device, note string, err error) {
	req, err := ParseDevice(s)
	if err != nil {
		return gotch.CPU, "", err
	}
	if !req.Auto && !req.CUDA {
		return gotch.CPU, "", nil
	}
	n := CUDADeviceCount()
	switch {
	case n == 0 && req.Auto:
		if CUDABuilt() {
			note = "the CUDA build finds no GPU (no NVIDIA GPU or driver): running on the CPU"
		}
		return gotch.CPU, note, nil
	case n == 0 && !CUDABuilt():
		return gotch.CPU, "", fmt.Errorf("%w: --device %s: this autofreeze is built against the CPU libtorch (no libtorch_cuda): build the CUDA variant with `GPU=1 make setup` (docs/GPU.md), or use --device cpu", ErrDevice, s)
	case n == 0:
		return gotch.CPU, "", fmt.Errorf("%w: --device %s: libtorch finds no CUDA GPU on this machine (no NVIDIA GPU, or no driver: nvidia-smi should list one); use --device cpu", ErrDevice, s)
	case req.Index >= n:
		return gotch.CPU, "", fmt.Errorf("%w: --device %s: this machine has %d GPU(s), cuda:0 to cuda:%d", ErrDevice, s, n, n-1)
	case req.Index >= 0:
		return gotch.CudaBuilder(uint(req.Index)), "", nil
	}
	if localRank < 0 {
		localRank = 0
	}
	return gotch.CudaBuilder(uint(localRank % n)), "", nil
}

// DeviceName is d as --device spells it: "cpu" or "cuda:N".
func DeviceName(d gotch.Device) string {
	if d.IsCuda() {
		return "cuda:" + strconv.Itoa(d.Value)
	}
	return "cpu"
}

var defaultDevice struct {
	sync.Mutex
	d gotch.Device
}

// SetDefaultDevice sets the device of every Encoder built with a zero
// Options.Device from now on (the command line's --device, for the callers
// that build encoders without naming one).
func SetDefaultDevice(d gotch.Device) {
	defaultDevice.Lock()
	defer defaultDevice.Unlock()
	defaultDevice.d = d
}

// DefaultDevice is the device set by SetDefaultDevice; the CPU until then.
func DefaultDevice() gotch.Device {
	defaultDevice.Lock()
	defer defaultDevice.Unlock()
	if defaultDevice.d == (gotch.Device{}) {
		return gotch.CPU
	}
	return defaultDevice.d
}
