package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autofreeze/autofreeze/trainable"
)

// Asking for a GPU or NCCL on a machine (or build) without one is a usage
// error (exit 2) that says what is missing, before the run directory is
// made; a misspelt device or backend is named.
func TestDeviceAndBackendUnavailableExit2(t *testing.T) {
	if trainable.CUDADeviceCount() > 0 {
		t.Skip("this machine has a GPU: scripts/gpu-check.sh covers it")
	}
	// The CPU variant says how to get the CUDA one; the CUDA variant
	// without a GPU says there is none.
	missing := []string{"GPU=1 make setup", "no CUDA GPU"}
	f := newFixture(t)
	for _, tc := range []struct {
		args []string
		want []string // every one
		any  []string // at least one
	}{
		{[]string{"--device", "cuda"}, []string{"--device cuda"}, missing},
		{[]string{"--device", "cuda:1"}, []string{"--device cuda:1"}, missing},
		{[]string{"--dist-backend", "nccl"}, []string{"--dist-backend nccl"}, []string{"without NCCL", "no CUDA GPU"}},
		{[]string{"--device", "cpu", "--dist-backend", "nccl"}, []string{"--dist-backend nccl"}, []string{"without NCCL", "no CUDA GPU", "train on a GPU"}},
		{[]string{"--device", "gpu"}, []string{"--device \"gpu\"", "want cpu, cuda, cuda:N"}, nil},
		{[]string{"--dist-backend", "mpi"}, []string{"--dist-backend \"mpi\"", "want auto, gloo or nccl"}, nil},
	} {
		out := filepath.Join(f.dir, "run-"+strings.Join(tc.args, "-"))
		code, _, stderr := cmd(t, f.trainArgs(out, tc.args...)...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2; stderr:\n%s", tc.args, code, stderr)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: stderr lacks %q:\n%s", tc.args, w, stderr)
			}
		}
		if len(tc.any) > 0 && !containsAny(stderr, tc.any) {
			t.Errorf("%v: stderr says none of %q:\n%s", tc.args, tc.any, stderr)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%v: the run directory was made", tc.args)
		}
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
