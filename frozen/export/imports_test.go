package export_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The exporter is pure Go: the CLI's export command, the cache and their
// tests must not need ONNX Runtime or libtorch to build or run it.
func TestExportIsPureGo(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}} {{len .CgoFiles}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		if f[1] == "false" && f[2] != "0" {
			t.Errorf("frozen/export depends on cgo package %s", f[0])
		}
		for _, banned := range []string{"onnxruntime_go", "gotch", "autofreeze/frozen\x00"} {
			if strings.Contains(f[0]+"\x00", banned) {
				t.Errorf("frozen/export depends on %s", f[0])
			}
		}
	}
}
