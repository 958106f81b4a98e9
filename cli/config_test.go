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
		"epochs: 1\nbatch-size: 32\nmax-length: 24\nlr: 0.005\nthreads: 1\nseed: 7\n" +
		"dist-timeout: 10m\n" // a flag's name that is no field of config.yaml is a key too
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

// TestConfigFileErrors: a bad --config file is refused with its name, the
// line and the key, and its values are parsed and checked exactly as the
// flags' are (issue 14.10: `batch-size: 1e3` failed without the file name,
// `dist-timeout:` was an unknown key, an empty file said only "EOF").
func TestConfigFileErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"float for an integer", "epochs: 1\nbatch-size: 1e3\n", []string{"bad.yaml:2: batch-size: \"1e3\" is not a whole number in digits: write 1000"}},
		{"empty file", "", []string{"bad.yaml: the file holds no settings", "model: DIR"}},
		{"only comments", "# nothing here\n", []string{"bad.yaml: the file holds no settings"}},
		{"not a mapping", "- model\n- train\n", []string{"bad.yaml:1: want `key: value` lines"}},
		{"not YAML", "model: [unclosed\n", []string{"bad.yaml: not valid YAML"}},
		{"a list value", "model: x\nthreads: [1, 2]\n", []string{"bad.yaml:2: threads: want a single value"}},
		{"twice", "lr: 0.1\nlr: 0.2\n", []string{"bad.yaml:2: lr is set twice (also at", "bad.yaml:1)"}},
		{"unknown key", "model: x\nbatch_size: 3\n", []string{"bad.yaml:2: unknown key \"batch_size\": did you mean batch-size?"}},
		{"NaN", "model: x\nlr: NaN\n", []string{"bad.yaml:2: lr NaN: want a positive learning rate"}},
		{"explicit zero", "epochs: 0\n", []string{"bad.yaml:1: epochs 0"}},
		{"negative duration", "dist-timeout: -5s\n", []string{"bad.yaml:1: dist-timeout -5s"}},
		{"bad duration", "dist-timeout: soon\n", []string{"bad.yaml:1: dist-timeout: \"soon\" is not a duration such as 90s or 30m"}},
		{"bad bool", "no-header: maybe\n", []string{"bad.yaml:1: no-header: \"maybe\" is not true or false"}},
		{"bad precision", "precision: fp8\n", []string{"bad.yaml:1: precision \"fp8\": want fp32, bf16 or auto"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "bad.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			code, _, stderr := cmd(t, "--quiet", "train", "--config", path, "--out", filepath.Join(dir, "out"))
			if code != ExitUsage {
				t.Errorf("exit %d, want %d: %s", code, ExitUsage, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not say %q", stderr, w)
				}
			}
			if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine") {
				t.Fatalf("panicked: %s", stderr)
			}
		})
	}
	// A flag overrides a bad value in the file, and is the one named when
	// it is bad itself.
	path := filepath.Join(dir, "lr.yaml")
	os.WriteFile(path, []byte("lr: NaN\nepochs: 2\n"), 0o644)
	code, _, stderr := cmd(t, "--quiet", "train", "--config", path, "--lr", "-1", "--model", filepath.Join(dir, "none"), "--train", "t.csv", "--out", filepath.Join(dir, "o"))
	if code != ExitUsage || !strings.Contains(stderr, "--lr -1") || strings.Contains(stderr, "lr.yaml") {
		t.Errorf("flag over file: exit %d, %q", code, stderr)
	}
}
