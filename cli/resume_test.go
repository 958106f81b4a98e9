package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autofreeze/autofreeze/internal/tinymodel"
	"github.com/autofreeze/autofreeze/precision"
)

// TestResumeAfterKill: a run killed with SIGKILL and resumed from its last
// checkpoint ends with the same weights, bit for bit, as a run that was
// never interrupted, with AutoFreeze moving layers into the disk cache on
// the way (so freeze state and cache references survive the restart), in
// float32 and in mixed precision.
func TestResumeAfterKill(t *testing.T) {
	t.Run("fp32", func(t *testing.T) { testResumeAfterKill(t, "fp32") })
	t.Run("bf16", func(t *testing.T) {
		// bf16 is refused on CPUs without it; this test checks the
		// arithmetic's determinism, which libtorch's emulation shares, so
		// it poses as a CPU that has AVX512-BF16.
		fakeCPU(t, "avx2 avx512f avx512_bf16")
		testResumeAfterKill(t, "bf16")
	})
}

// fakeCPU makes precision.DetectCPU (here and in child processes) see a
// CPU with these flags.
func fakeCPU(t *testing.T, flags string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cpuinfo")
	if err := os.WriteFile(path, []byte("model name\t: Test CPU\nflags\t\t: "+flags+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(precision.CPUInfoEnv, path)
}

func testResumeAfterKill(t *testing.T, prec string) {
	f := newFixture(t)
	if err := tinymodel.WriteCSV(f.train, 480, 3); err != nil {
		t.Fatal(err)
	}
	args := func(out string) []string {
		return f.trainArgs(out, "--epochs", "3", "--lr", "5e-3", "--save-every", "3", "--freeze", "auto",
			"--freeze-intervals", "12", "--cache", "disk", "--engine", "torch", "--precision", prec)
	}
	whole := filepath.Join(f.dir, "whole")
	if code, _, stderr := cmd(t, args(whole)...); code != 0 {
		t.Fatalf("uninterrupted run exited %d: %s", code, stderr)
	}

	killed := filepath.Join(f.dir, "killed")
	child := exec.Command(os.Args[0], args(killed)...)
	child.Env = append(os.Environ(), "AUTOFREEZE_TEST_MAIN=1")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(killed, "checkpoints", "step-45")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(target); err == nil {
			break
		}
		if time.Now().After(deadline) {
			child.Process.Kill()
			t.Fatal("the child run never reached step 45")
		}
		time.Sleep(2 * time.Millisecond)
	}
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	metrics, _ := os.ReadFile(filepath.Join(killed, "metrics.jsonl"))
	if strings.Contains(string(metrics), `"type":"end"`) {
		t.Fatal("the child finished before it was killed; the test proves nothing")
	}

	code, _, stderr := cmd(t, append(args(killed), "--resume")...)
	if code != 0 {
		t.Fatalf("resume exited %d: %s", code, stderr)
	}
	if d, where := weightDiff(t, readWeights(t, whole), readWeights(t, killed)); d != 0 {
		t.Fatalf("%s: the resumed run differs from the uninterrupted one by up to %g", where, d)
	}
	st, err := os.ReadFile(filepath.Join(killed, "checkpoints", "last", "trainer_state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(st), `"frozen_layers": 0`) || !strings.Contains(string(st), `"cache"`) {
		t.Errorf("the run froze nothing or used no cache; the test does not cover resuming after a freeze:\n%s", st)
	}
	cfg, err := os.ReadFile(filepath.Join(killed, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if prec == "bf16" && !strings.Contains(string(cfg), "precision: bf16") {
		t.Errorf("config.yaml does not record the precision:\n%s", cfg)
	}
}
