package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autofreeze/autofreeze/bench"
)

// TestBenchQuick runs every benchmark mode end to end on the tiny model:
// each mode as a child process, test evaluation, the cache-against-
// recompute timings, the tables and the plot. It checks that they ran, not
// how fast (timings of a toy model mean nothing).
func TestBenchQuick(t *testing.T) {
	t.Setenv("AUTOFREEZE_TEST_MAIN", "1") // the children are this test binary acting as autofreeze
	out := t.TempDir()
	code, stdout, stderr := cmd(t, "--quiet", "bench", "--quick", "--seeds", "42,43", "--out", out)
	if code != 0 {
		t.Fatalf("bench --quick exited %d: %s", code, stderr)
	}
	md, err := os.ReadFile(filepath.Join(out, "BENCHMARKS.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| full |", "| autofreeze-nocache |", "| autofreeze-memory |", "| autofreeze-disk |", "| static-1 |", "| static-3 |", "| frozen-encoder-logreg |",
		"The cache against recomputing", "recompute on ONNX Runtime", "recompute in libtorch", "## Time to accuracy (2 seed(s))", "| method | reached target |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("BENCHMARKS.md lacks %q:\n%s", want, md)
		}
	}
	if st, err := os.Stat(filepath.Join(out, "accuracy.png")); err != nil || st.Size() == 0 {
		t.Errorf("no plot: %v", err)
	}
	if !strings.Contains(stdout, "BENCHMARKS.md") || !strings.Contains(stdout, "summary.json") {
		t.Errorf("bench did not say where it wrote: %q", stdout)
	}

	// The machine-readable summary: every method with both seeds, the
	// target from full fine-tuning, curves to read the time to target off.
	var s bench.Summary
	data, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	if s.Format != bench.SummaryFormat || len(s.Seeds) != 2 || s.EvalEvery != 5 {
		t.Errorf("summary header: format %q, seeds %v, eval every %d", s.Format, s.Seeds, s.EvalEvery)
	}
	var names []string
	for _, m := range s.Methods {
		names = append(names, m.Name)
		if len(m.Runs) != 2 {
			t.Errorf("%s: %d runs, want one per seed", m.Name, len(m.Runs))
		}
		for _, r := range m.Runs {
			if len(r.Curve) < 2 || r.TestExamples != 100 {
				t.Errorf("%s seed %d: %d held-out evaluations, %d test examples", m.Name, r.Seed, len(r.Curve), r.TestExamples)
			}
		}
		if m.Name == "full" {
			best := (m.Runs[0].BestEvalAccuracy + m.Runs[1].BestEvalAccuracy) / 2
			if d := best - 0.003 - s.Target; d > 1e-9 || d < -1e-9 {
				t.Errorf("target %.4f, want full's mean best %.4f minus 0.003", s.Target, best)
			}
			// Its better seed is above the mean, so above the target.
			if m.Reached < 1 {
				t.Errorf("full fine-tuning reached its own target in none of its runs")
			}
		}
	}
	want := []string{"full", "autofreeze-nocache", "autofreeze-memory", "autofreeze-disk", "autofreeze-auto", "static-1", "static-2", "static-3", "frozen-encoder-logreg"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("methods %v, want %v", names, want)
	}

	// A second bench into the same directory reuses every finished run.
	code, _, stderr = cmd(t, "bench", "--quick", "--seeds", "42,43", "--out", out)
	if code != 0 {
		t.Fatalf("second bench exited %d: %s", code, stderr)
	}
	if n := strings.Count(stderr, "reusing the finished run"); n != 2*len(want) {
		t.Errorf("the second bench reused %d runs, want %d:\n%s", n, 2*len(want), stderr)
	}
}
