package distributed

import (
	"errors"
	"strings"
	"testing"

	"github.com/autofreeze/autofreeze/distributed/c10d"
)

func TestParseBackend(t *testing.T) {
	for in, want := range map[string]Backend{"": BackendAuto, "auto": BackendAuto, "gloo": BackendGloo, "nccl": BackendNCCL} {
		if got, err := ParseBackend(in); err != nil || got != want {
			t.Errorf("ParseBackend(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseBackend("mpi"); err == nil || !strings.Contains(err.Error(), "want auto, gloo or nccl") {
		t.Errorf("ParseBackend(mpi): %v", err)
	}
}

// NCCL asked for where it cannot run fails before any rank joins, saying
// what is missing: NCCL in the build, a GPU, or a rank training on one.
func TestCheckBackendWithoutGPU(t *testing.T) {
	if c10d.CUDADeviceCount() > 0 {
		t.Skip("this machine has a GPU: scripts/gpu-check.sh covers NCCL")
	}
	for _, b := range []Backend{BackendAuto, BackendGloo} {
		if err := CheckBackend(b, false); err != nil {
			t.Errorf("%s: %v", b, err)
		}
	}
	err := CheckBackend(BackendNCCL, true)
	want := "no CUDA GPU"
	if !c10d.NCCLBuilt() {
		want = "built without NCCL"
	}
	if !errors.Is(err, ErrBackend) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--dist-backend gloo") {
		t.Errorf("nccl: err = %v, want ErrBackend saying %q", err, want)
	}
}

// auto picks Gloo unless every rank trains on a GPU with NCCL built in.
func TestAutoBackendPicksGlooWithoutGPUs(t *testing.T) {
	port, err := freePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	const n = 2
	errs := make(chan error, n)
	for rank := 0; rank < n; rank++ {
		go func(rank int) {
			w, err := Join(Env{Rank: rank, WorldSize: n, LocalRank: rank, LocalWorldSize: n, MasterAddr: "127.0.0.1", MasterPort: port},
				Options{Backend: BackendAuto, CUDA: rank == 0})
			if err == nil {
				if w.Backend() != BackendGloo {
					err = errors.New("auto chose " + string(w.Backend()) + " with one rank on the CPU")
				}
				w.Close()
			}
			errs <- err
		}(rank)
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
