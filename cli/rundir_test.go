package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autofreeze/autofreeze/internal/dirlock"
	"github.com/autofreeze/autofreeze/internal/testenv"
	"github.com/autofreeze/autofreeze/internal/tinymodel"
	"github.com/autofreeze/autofreeze/run"
)

// TestTwoTrainsSameOut: a second `train` (fresh or --resume) on a run
// directory that another one is writing stops at once, naming the process
// that holds it, and the first run finishes undisturbed. Both used to run
// and destroy each other's checkpoints.
func TestTwoTrainsSameOut(t *testing.T) {
	f := newFixture(t)
	if err := tinymodel.WriteCSV(f.train, 960, 3); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(f.dir, "run")
	args := f.trainArgs(out, "--epochs", "4", "--save-every", "5")
	first := exec.Command(os.Args[0], args...)
	first.Env = append(os.Environ(), "AUTOFREEZE_TEST_MAIN=1")
	var firstErr bytes.Buffer
	first.Stderr = &firstErr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { first.Wait(); close(exited) }()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(2 * time.Millisecond) {
		if h, err := dirlock.Read(out, run.LockFile); err == nil && h.PID == first.Process.Pid {
			break
		}
		select {
		case <-exited:
			t.Fatalf("the first run exited before it could be disturbed: %s", firstErr.String())
		default:
		}
		if time.Now().After(deadline) {
			first.Process.Kill()
			t.Fatal("the first run never locked its directory")
		}
	}
	host, _ := os.Hostname()
	for _, extra := range [][]string{nil, {"--resume"}} {
		code, _, stderr := cmd(t, append(args, extra...)...)
		want := fmt.Sprintf("%s is in use by pid %d on host %s since ", out, first.Process.Pid, host)
		if code != ExitFailure || !strings.Contains(stderr, want) || !strings.Contains(stderr, "wait for it or stop it") {
			t.Fatalf("second run %v: exit %d (want %d), stderr %q (want it to say %q)", extra, code, ExitFailure, stderr, want)
		}
	}
	select {
	case <-exited:
	case <-time.After(3 * time.Minute):
		first.Process.Kill()
		t.Fatal("the first run did not finish")
	}
	if code := first.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("the first run exited %d: %s", code, firstErr.String())
	}
	metrics, err := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(metrics), `"type":"start"`); n != 1 || !strings.Contains(string(metrics), `"type":"end"`) {
		t.Fatalf("metrics.jsonl has %d starts and end=%v", n, strings.Contains(string(metrics), `"type":"end"`))
	}
	if _, err := os.Stat(filepath.Join(out, "checkpoints", "last", "trainer_state.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, run.LockFile)); !os.IsNotExist(err) {
		t.Errorf("the finished run left its lock file: %v", err)
	}
}

// deadPID is the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	c := exec.Command(os.Args[0], "-test.run=^$")
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	return c.Process.Pid
}

// killedBeforeFirstCheckpoint makes what a run killed while it wrote its
// first checkpoint leaves: its configuration, metrics, a half-written
// checkpoint, an empty checkpoints/ otherwise, and the lock file of a
// process that no longer runs.
func killedBeforeFirstCheckpoint(t *testing.T, out string, pid int) {
	t.Helper()
	partial := filepath.Join(out, "checkpoints", ".step-20.partial")
	if err := os.MkdirAll(partial, 0o755); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	lock, _ := json.Marshal(dirlock.Holder{PID: pid, Host: host, Since: time.Now().Add(-time.Hour), Command: "autofreeze train"})
	for name, content := range map[string]string{
		"config.yaml":                        "model: x\n",
		"metrics.jsonl":                      `{"type":"start","step":0}` + "\n",
		run.LockFile:                         string(lock),
		"checkpoints/.step-20.partial/x.bin": "torn",
	} {
		if err := os.WriteFile(filepath.Join(out, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStartAfterKillDuringFirstCheckpoint: a run directory without a
// completed checkpoint (the run was killed while it wrote its first one)
// is accepted by a fresh start and by --resume, which both start the run
// over and take over the dead process's lock. Both used to refuse it
// ("already holds a run" and "no checkpoint to resume from").
func TestStartAfterKillDuringFirstCheckpoint(t *testing.T) {
	f := newFixture(t)
	pid := deadPID(t)
	for _, extra := range [][]string{nil, {"--resume"}} {
		out := filepath.Join(f.dir, fmt.Sprintf("run%d", len(extra)))
		killedBeforeFirstCheckpoint(t, out, pid)
		code, _, stderr := cmd(t, f.trainArgs(out, append([]string{"--epochs", "1"}, extra...)...)...)
		if code != 0 {
			t.Fatalf("train %v on a run killed before its first checkpoint: exit %d: %s", extra, code, stderr)
		}
		if _, err := os.Stat(filepath.Join(out, "checkpoints", "last", "trainer_state.json")); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(out, run.LockFile)); !os.IsNotExist(err) {
			t.Errorf("the run left its lock file: %v", err)
		}
	}
	// --resume where no run ever started says what to do.
	code, _, stderr := cmd(t, f.trainArgs(filepath.Join(f.dir, "never"), "--resume")...)
	if code != ExitUsage || !strings.Contains(stderr, "start it without --resume") {
		t.Fatalf("--resume of nothing: exit %d (want %d): %s", code, ExitUsage, stderr)
	}
}

// TestCacheBuildSameShardInUse: a `cache build` of a shard another process
// is building into the same directory stops at once and names it; other
// shards of the directory may be built at the same time.
func TestCacheBuildSameShardInUse(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(f.dir, "cache")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	held, err := dirlock.Acquire(dir, shardLockName(0, 2), "autofreeze cache build")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	build := func(shard string, extra ...string) (int, string) {
		code, _, stderr := cmd(t, append([]string{"--quiet", "cache", "build", "--model", f.model, "--layers", "0:1", "--data", f.train,
			"--out", dir, "--max-length", "24", "--shard", shard}, extra...)...)
		return code, stderr
	}
	code, stderr := build("0/2")
	if want := fmt.Sprintf("is in use by pid %d", os.Getpid()); code != ExitFailure || !strings.Contains(stderr, want) {
		t.Fatalf("exit %d (want %d), stderr %q (want it to say %q)", code, ExitFailure, stderr, want)
	}
	code, stderr = build("1/2", "--ort-lib", testenv.ORTLib(t))
	if code != 0 {
		t.Fatalf("another shard of the same directory: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, shardLockName(1, 2))); !os.IsNotExist(err) {
		t.Errorf("the finished build left its lock file: %v", err)
	}
}
