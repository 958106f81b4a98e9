package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchQuick runs every benchmark mode end to end on the tiny model:
// each mode as a child process, test evaluation, the cache-against-
// recompute timings, the tables and the plot. It checks that they ran, not
// how fast (timings of a toy model mean nothing).
func TestBenchQuick(t *testing.T) {
	t.Setenv("AUTOFREEZE_TEST_MAIN", "1") // the children are this test binary acting as autofreeze
	out := t.TempDir()
	code, stdout, stderr := cmd(t, "--quiet", "bench", "--quick", "--out", out)
	if code != 0 {
		t.Fatalf("bench --quick exited %d: %s", code, stderr)
	}
	md, err := os.ReadFile(filepath.Join(out, "BENCHMARKS.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| full |", "| autofreeze-nocache |", "| autofreeze-memory |", "| autofreeze-disk |", "| static-3 |",
		"The cache against recomputing", "recompute on ONNX Runtime", "recompute in libtorch"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("BENCHMARKS.md lacks %q:\n%s", want, md)
		}
	}
	if st, err := os.Stat(filepath.Join(out, "accuracy.png")); err != nil || st.Size() == 0 {
		t.Errorf("no plot: %v", err)
	}
	if !strings.Contains(stdout, "BENCHMARKS.md") {
		t.Errorf("bench did not say where it wrote: %q", stdout)
	}
}
