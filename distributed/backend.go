package distributed

import (
	"errors"
	"fmt"

	"github.com/autofreeze/autofreeze/distributed/c10d"
)

// Backend is the c10d process group the ranks sum gradients with.
type Backend string

const (
	// BackendAuto is NCCL when every rank trains on a GPU and the build
	// has NCCL, Gloo otherwise.
	BackendAuto Backend = "auto"
	BackendGloo Backend = "gloo"
	// BackendNCCL needs the CUDA variant (GPU=1 make setup) and a GPU
	// for every rank.
	BackendNCCL Backend = "nccl"
)

// ParseBackend parses "auto", "gloo" or "nccl" ("" is auto).
func ParseBackend(s string) (Backend, error) {
	switch b := Backend(s); b {
	case "":
		return BackendAuto, nil
	case BackendAuto, BackendGloo, BackendNCCL:
		return b, nil
	}
	return "", fmt.Errorf("dist-backend %q: want auto, gloo or nccl", s)
}

// ErrBackend is wrapped when the backend asked for cannot run here.
var ErrBackend = errors.New("process group backend unavailable")

// CheckBackend says, before any rank joins, whether b can run on this
// rank: NCCL needs the CUDA variant's shim and a rank that trains on a GPU
// (cuda; the error says which of the two is missing).
func CheckBackend(b Backend, cuda bool) error {
	if b != BackendNCCL {
		return nil
	}
	switch {
	case !c10d.NCCLBuilt():
		return fmt.Errorf("%w: --dist-backend nccl: this autofreeze is built without NCCL (against the CPU libtorch): build the CUDA variant with `GPU=1 make setup` on a machine with NVIDIA GPUs (docs/GPU.md), or use --dist-backend gloo", ErrBackend)
	case c10d.CUDADeviceCount() == 0:
		return fmt.Errorf("%w: --dist-backend nccl: libtorch finds no CUDA GPU on this machine (no NVIDIA GPU, or no driver: nvidia-smi should list one); use --dist-backend gloo", ErrBackend)
	case !cuda:
		return fmt.Errorf("%w: --dist-backend nccl sums CUDA tensors: train on a GPU (--device cuda or auto), or use --dist-backend gloo", ErrBackend)
	}
	return nil
}

// chooseBackend resolves auto: every rank says through the store whether
// it trains on a GPU, and NCCL is taken only when all do (and this build
// has it), so that all ranks choose the same.
func chooseBackend(store *c10d.Store, env Env, b Backend, cuda bool) (Backend, error) {
	if b != BackendAuto {
		return b, nil
	}
	mine := "0"
	if cuda && c10d.NCCLBuilt() {
		mine = "1"
	}
	if err := store.Set(fmt.Sprintf("autofreeze/nccl/%d", env.Rank), []byte(mine)); err != nil {
		return "", err
	}
	for r := 0; r < env.WorldSize; r++ {
		v, err := store.Get(fmt.Sprintf("autofreeze/nccl/%d", r))
		if err != nil {
			return "", err
		}
		if string(v) != "1" {
			return BackendGloo, nil
		}
	}
	return BackendNCCL, nil
}
