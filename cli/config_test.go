package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autofreeze/autofreeze/run"
)

// TestConfigFile: settings come from --config, flags override them, and the
// run directory's config.yaml holds the result with every default filled in
// and can be fed back with --config.
func TestConfigFile(t *testing.T) {
	f := newFixture(t)
	cfgPath := filepath.Join(f.dir, "run.yaml")
	yaml := "model: " + f.model + "\ntrain: " + f.train + "\neval: " + f.eval + "\n" +
		"epochs: 1\nbatch-size: 32\nmax-length: 24\nlr: 0.005\nthreads: 1\nseed: 7\n"
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(f.dir, "run")
	code, _, stderr := cmd(t, "--quiet", "train", "--config", cfgPath, "--out", out, "--batch-size", "16")
	if code != 0 {
		t.Fatalf("train --config exited %d: %s", code, stderr)
	}
	got, err := run.LoadYAML(filepath.Join(out, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Epochs != 1 || got.Seed != 7 || got.MaxLength != 24 {
		t.Errorf("settings from the file were lost: %+v", got)
	}
	if got.BatchSize != 16 {
		t.Errorf("the flag did not override the file: batch size %d", got.BatchSize)
	}
	if got.Schedule != "linear" || got.WeightDecay != 0.01 || got.Freeze != "off" {
		t.Errorf("defaults are not written out: %+v", got)
	}
	// The resolved file runs again as it is.
	code, _, stderr = cmd(t, "--quiet", "train", "--config", filepath.Join(out, "config.yaml"), "--out", filepath.Join(f.dir, "again"))
	if code != 0 {
		t.Fatalf("rerunning a run's config.yaml exited %d: %s", code, stderr)
	}

	bad := filepath.Join(f.dir, "bad.yaml")
	os.WriteFile(bad, []byte("model: x\nbatch_size: 3\n"), 0o644)
	code, _, stderr = cmd(t, "--quiet", "train", "--config", bad)
	if code != ExitUsage || !strings.Contains(stderr, "batch_size") {
		t.Fatalf("unknown key: exit %d, %q", code, stderr)
	}
}
