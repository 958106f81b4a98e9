package trainable

import (
	"errors"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
)

func TestParseDevice(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want DeviceRequest
	}{
		{"", DeviceRequest{Auto: true, Index: -1}},
		{"auto", DeviceRequest{Auto: true, Index: -1}},
		{"cpu", DeviceRequest{Index: -1}},
		{"cuda", DeviceRequest{CUDA: true, Index: -1}},
		{"cuda:0", DeviceRequest{CUDA: true, Index: 0}},
		{"cuda:7", DeviceRequest{CUDA: true, Index: 7}},
	} {
		if got, err := ParseDevice(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseDevice(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"gpu", "CUDA", "cuda:", "cuda:-1", "cuda:01", "cuda:x", "cuda:0:1", "mps"} {
		if _, err := ParseDevice(bad); err == nil || !strings.Contains(err.Error(), "want cpu, cuda, cuda:N") {
			t.Errorf("ParseDevice(%q): err = %v", bad, err)
		}
	}
}

// Without a GPU, auto is the CPU (with a note in the CUDA variant only),
// and a GPU asked for is an ErrDevice saying what is missing.
func TestResolveDeviceWithoutGPU(t *testing.T) {
	if CUDADeviceCount() > 0 {
		t.Skip("this machine has a GPU")
	}
	d, note, err := ResolveDevice("auto", 1)
	if err != nil || d != gotch.CPU || (note != "") != CUDABuilt() {
		t.Errorf("auto: %v, note %q, %v (CUDA build: %v)", d, note, err, CUDABuilt())
	}
	if d, _, err := ResolveDevice("cpu", 0); err != nil || d != gotch.CPU {
		t.Errorf("cpu: %v, %v", d, err)
	}
	want := "GPU=1 make setup"
	if CUDABuilt() {
		want = "no CUDA GPU"
	}
	for _, s := range []string{"cuda", "cuda:0", "cuda:3"} {
		_, _, err := ResolveDevice(s, 0)
		if !errors.Is(err, ErrDevice) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--device "+s) {
			t.Errorf("%s: err = %v, want ErrDevice saying %q", s, err, want)
		}
	}
	if DeviceName(gotch.CPU) != "cpu" || DeviceName(gotch.CudaBuilder(2)) != "cuda:2" {
		t.Error("DeviceName")
	}
}
