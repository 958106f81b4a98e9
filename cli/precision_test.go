package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// On a CPU without AVX512-BF16 or AMX, every command that runs the model
// refuses --precision bf16 with a message that says why and what to use,
// and exits 2 before loading anything; auto falls back to fp32.
func TestBF16RefusedWithoutCPUSupport(t *testing.T) {
	f := newFixture(t)
	fakeCPU(t, "avx avx2 fma")
	for name, args := range map[string][]string{
		"train":   f.trainArgs(filepath.Join(f.dir, "run"), "--precision", "bf16"),
		"eval":    {"eval", "--model", f.model, "--data", f.eval, "--precision", "bf16"},
		"predict": {"predict", "--model", f.model, "--data", f.eval, "--output", filepath.Join(f.dir, "p.jsonl"), "--precision", "bf16"},
		"encode":  {"encode", "--model", f.model, "--input", f.eval, "--output", filepath.Join(f.dir, "e.jsonl"), "--precision", "bf16"},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := cmd(t, args...)
			if code != ExitUsage {
				t.Fatalf("exit %d, want %d: %s", code, ExitUsage, stderr)
			}
			for _, want := range []string{"Test CPU", "neither AVX512-BF16 nor AMX-BF16", "--precision fp32", "--precision auto"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("the message lacks %q:\n%s", want, stderr)
				}
			}
		})
	}
	t.Run("auto falls back", func(t *testing.T) {
		out := filepath.Join(f.dir, "auto")
		code, _, stderr := cmd(t, f.trainArgs(out, "--precision", "auto", "--max-steps", "2")...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if cfg := readFile(t, filepath.Join(out, "config.yaml")); strings.Contains(cfg, "precision: bf16") || !strings.Contains(cfg, "precision: fp32") {
			t.Errorf("auto on a CPU without bf16 should record fp32:\n%s", cfg)
		}
	})
	t.Run("unknown value", func(t *testing.T) {
		code, _, stderr := cmd(t, f.trainArgs(filepath.Join(f.dir, "r2"), "--precision", "fp16")...)
		if code != ExitUsage || !strings.Contains(stderr, "want fp32, bf16 or auto") {
			t.Errorf("exit %d: %s", code, stderr)
		}
	})
}

// version says what the CPU offers.
func TestVersionPrintsTheCPU(t *testing.T) {
	fakeCPU(t, "avx2 avx512f avx512_bf16 avx512_vnni")
	_, stdout, _ := cmd(t, "version")
	if !strings.Contains(stdout, "cpu          Test CPU; has avx2 avx512f avx512_bf16 avx512_vnni") || !strings.Contains(stdout, "native bf16: yes") {
		t.Errorf("version output:\n%s", stdout)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
