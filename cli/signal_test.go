package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autofreeze/autofreeze/cachefmt"
	"github.com/autofreeze/autofreeze/frozen"
	"github.com/autofreeze/autofreeze/internal/testenv"
	"github.com/autofreeze/autofreeze/internal/tinymodel"
	"github.com/autofreeze/autofreeze/run"
)

// signalChild runs the test binary as `autofreeze args...`, waits until
// ready() holds, sends it sig and returns its exit status and stderr.
func signalChild(t *testing.T, args []string, env []string, sig syscall.Signal, ready func() bool) (int, string) {
	t.Helper()
	child := exec.Command(os.Args[0], args...)
	child.Env = append(append(os.Environ(), "AUTOFREEZE_TEST_MAIN=1"), env...)
	var stderr bytes.Buffer
	child.Stderr = &stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { child.Wait(); close(exited) }()
	deadline := time.Now().Add(3 * time.Minute)
	for !ready() {
		select {
		case <-exited:
			t.Fatalf("the child exited (%v) before it could be signalled; the test proves nothing: %s", child.ProcessState, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			child.Process.Kill()
			<-exited
			t.Fatalf("the child never got ready: %s", stderr.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	child.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(2 * time.Minute):
		child.Process.Kill()
		<-exited
		t.Fatalf("the child did not stop within 2 minutes of %v: %s", sig, stderr.String())
	}
	if ws, ok := child.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		t.Fatalf("the child was killed by %v instead of stopping cleanly: %s", ws.Signal(), stderr.String())
	}
	return child.ProcessState.ExitCode(), stderr.String()
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestTrainSIGINTResume: SIGINT during `train` finishes the step in
// progress and exits 130; SIGTERM during the resumed run does the same and
// exits 143; a final --resume then ends with the same weights, bit for bit,
// as a run that was never interrupted, with layers moving into the disk
// cache on the way. A stop checkpoints its step when that checkpoint
// resumes exactly: always under the PipeTransformer schedule; with
// AutoFreeze only at a freeze decision (the gradients summed since the last
// one are not part of a checkpoint), so elsewhere --resume continues from
// the last checkpoint. Neither stop leaves the run directory locked.
func TestTrainSIGINTResume(t *testing.T) {
	for _, tc := range []struct {
		freeze string
		extra  []string
		stops  [2]int // the logged steps after which SIGINT, then SIGTERM, are sent
	}{
		// 90 steps; AutoFreeze decides every 7 (12 intervals), and saves
		// at its decisions; the schedule decides every 22 (a stop during
		// the cache build that follows abandons the step) and checkpoints
		// only at evaluations (30, 60, 90) and where it stops.
		{"auto", []string{"--freeze-intervals", "12", "--save-every", "7"}, [2]int{12, 44}},
		{"schedule", []string{"--freeze-intervals", "4"}, [2]int{12, 50}},
	} {
		t.Run(tc.freeze, func(t *testing.T) { testTrainStopResume(t, tc.freeze, tc.extra, tc.stops) })
	}
}

func testTrainStopResume(t *testing.T, freeze string, extra []string, stops [2]int) {
	f := newFixture(t)
	if err := tinymodel.WriteCSV(f.train, 480, 3); err != nil {
		t.Fatal(err)
	}
	args := func(out string) []string {
		return f.trainArgs(out, append([]string{"--epochs", "3", "--lr", "5e-3", "--freeze", freeze,
			"--cache", "disk", "--engine", "torch"}, extra...)...)
	}
	whole := filepath.Join(f.dir, "whole")
	if code, _, stderr := cmd(t, args(whole)...); code != 0 {
		t.Fatalf("uninterrupted run exited %d: %s", code, stderr)
	}

	stopped := filepath.Join(f.dir, "stopped")
	stoppedAt := regexp.MustCompile(`interrupted at step (\d+); .* holds the checkpoint of step (\d+): continue with the same command and --resume`)
	for _, stop := range []struct {
		sig    syscall.Signal
		code   int
		resume bool
		after  int // the logged step that says the run is mid-way
	}{
		{syscall.SIGINT, ExitSIGINT, false, stops[0]},
		{syscall.SIGTERM, ExitSIGTERM, true, stops[1]},
	} {
		a := args(stopped)
		if stop.resume {
			a = append(a, "--resume")
		}
		code, stderr := signalChild(t, a, nil, stop.sig, func() bool { return loggedStep(stopped) >= stop.after })
		m := stoppedAt.FindStringSubmatch(stderr)
		if code != stop.code || m == nil {
			t.Fatalf("%v: exit %d (want %d); stderr %s", stop.sig, code, stop.code, stderr)
		}
		if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
			t.Fatalf("%v: a panic or stack trace: %s", stop.sig, stderr)
		}
		at, ckpt := atoi(m[1]), atoi(m[2])
		switch {
		case freeze == "schedule" && ckpt != at:
			t.Fatalf("%v: stopped at step %d, but the last checkpoint is step %d: the stop did not checkpoint", stop.sig, at, ckpt)
		case freeze == "auto" && (ckpt > at || (ckpt != at && ckpt%7 != 0)):
			t.Fatalf("%v: stopped at step %d with checkpoint %d, which is not at a freeze decision", stop.sig, at, ckpt)
		}
		metrics, _ := os.ReadFile(filepath.Join(stopped, "metrics.jsonl"))
		if strings.Contains(string(metrics), `"type":"end"`) {
			t.Fatalf("%v: the run finished before the signal; the test proves nothing", stop.sig)
		}
		if exists(filepath.Join(stopped, run.LockFile)) {
			t.Errorf("%v: the stopped run left its lock file", stop.sig)
		}
		t.Logf("%v: %s", stop.sig, lastLine(stderr))
	}

	code, _, stderr := cmd(t, append(args(stopped), "--resume")...)
	if code != 0 {
		t.Fatalf("resume exited %d: %s", code, stderr)
	}
	if d, where := weightDiff(t, readWeights(t, whole), readWeights(t, stopped)); d != 0 {
		t.Fatalf("%s: the resumed run differs from the uninterrupted one by up to %g", where, d)
	}
	st, err := os.ReadFile(filepath.Join(stopped, "checkpoints", "last", "trainer_state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(st), `"frozen_layers": 0`) || !strings.Contains(string(st), `"cache"`) {
		t.Errorf("the run froze nothing or used no cache; the test does not cover stopping after a freeze:\n%s", st)
	}
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

// loggedStep is the last step record in a run's metrics.jsonl.
func loggedStep(runDir string) int {
	data, _ := os.ReadFile(filepath.Join(runDir, "metrics.jsonl"))
	step := -1
	for _, line := range strings.Split(string(data), "\n") {
		var rec struct {
			Type string `json:"type"`
			Step int    `json:"step"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Type == "step" {
			step = rec.Step
		}
	}
	return step
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestCacheBuildSIGINT: SIGINT while `cache build` runs the prefix on ONNX
// Runtime stops it with exit 130, removes its temporary export and its
// shard lock, leaves no shard that does not verify, and the same command
// then builds the cache. Temporary exports live under one directory per
// user (frozen.TempRoot), in the TMPDIR given, never in /tmp directly.
func TestCacheBuildSIGINT(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a real cache")
	}
	modelDir := testenv.ModelDir(t)
	ortLib := testenv.ORTLib(t)
	data := imdbSample(t, 400)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // for frozen.TempRoot here; the child inherits it
	root := frozen.TempRoot()
	dir := filepath.Join(t.TempDir(), "k3")
	args := []string{"cache", "build", "--model", modelDir, "--layers", "0:3", "--data", data, "--out", dir,
		"--max-length", "128", "--batch-size", "2", "--dtype", "fp16", "--ort-lib", ortLib, "--threads", "1"}
	exports := func() []string {
		m, _ := filepath.Glob(filepath.Join(root, "export-*", "*.onnx"))
		return m
	}
	var seen []string
	code, stderr := signalChild(t, args, nil, syscall.SIGINT, func() bool {
		seen = exports()
		return len(seen) > 0
	})
	if code != ExitSIGINT {
		t.Fatalf("exit %d (want %d): %s", code, ExitSIGINT, stderr)
	}
	if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
		t.Fatalf("a panic or stack trace: %s", stderr)
	}
	t.Logf("stopped while %v existed: %s", seen, lastLine(stderr))
	if left, _ := filepath.Glob(filepath.Join(root, "export-*")); len(left) > 0 {
		t.Errorf("the stopped build left its export: %v", left)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "autofreeze-export-*")); len(left) > 0 {
		t.Errorf("an export directly in TMPDIR: %v", left)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), "lock") {
			t.Errorf("the stopped build left %s", e.Name())
		}
		if shardFileRE.MatchString(e.Name()) {
			if err := cachefmt.VerifyFile(filepath.Join(dir, e.Name())); err != nil {
				t.Errorf("the stopped build left a shard that does not verify: %v", err)
			}
		}
	}
	if code, _, stderr := cmd(t, append([]string{"--quiet"}, args...)...); code != 0 {
		t.Fatalf("the build after the stop: exit %d: %s", code, stderr)
	}
	if code, _, stderr := cmd(t, "cache", "verify", dir); code != ExitOK {
		t.Fatalf("verify: exit %d: %s", code, stderr)
	}
	if left, _ := filepath.Glob(filepath.Join(root, "export-*")); len(left) > 0 {
		t.Errorf("the finished build left its export: %v", left)
	}
}
