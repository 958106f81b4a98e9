// Package scripts holds setup and job scripts; this test checks that setup
// refuses native libraries it cannot use with a message saying what to do.
package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autofreeze/autofreeze/internal/testenv"
)

func runSetup(t *testing.T, env ...string) (int, string) {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(testenv.Root(t), "scripts", "setup.sh"))
	cmd.Env = append(os.Environ(), append([]string{"AUTOFREEZE_DEPS=" + t.TempDir()}, env...)...)
	out, _ := cmd.CombinedOutput()
	return cmd.ProcessState.ExitCode(), string(out)
}

func TestSetupRefusesMissingLibtorch(t *testing.T) {
	code, out := runSetup(t, "LIBTORCH=/nonexistent/libtorch")
	if code == 0 || !strings.Contains(out, "LIBTORCH=/nonexistent/libtorch is not a libtorch directory") {
		t.Fatalf("exit %d, output %q", code, out)
	}
}

func TestSetupRefusesMissingONNXRuntime(t *testing.T) {
	libtorch := testenv.Need(t, "libtorch")
	code, out := runSetup(t, "LIBTORCH="+libtorch, "ORT_LIB=/nonexistent/libonnxruntime.so")
	if code == 0 || !strings.Contains(out, "ORT_LIB=/nonexistent/libonnxruntime.so does not exist") {
		t.Fatalf("exit %d, output %q", code, out)
	}
}
