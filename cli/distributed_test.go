package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autofreeze/autofreeze/internal/testenv"
	"github.com/autofreeze/autofreeze/model"
)

// dataParallelArgs: a run with AutoFreeze moving the prefix into the disk
// cache mid-run, without dropout, so that a data-parallel run and one
// process see the same arithmetic up to summation order.
func dataParallelArgs(f fixture, out string, extra ...string) []string {
	return f.trainArgs(out, append([]string{"--epochs", "2", "--lr", "1e-3", "--no-dropout", "--freeze", "auto",
		"--freeze-intervals", "8", "--cache", "disk", "--engine", "torch", "--log-every", "1"}, extra...)...)
}

// launch runs args as two ranks of this test binary (which is autofreeze
// when AUTOFREEZE_TEST_MAIN is set) under `autofreeze launch`.
func launch(t *testing.T, runID string, maxRestarts int, args []string) (int, string) {
	t.Helper()
	t.Setenv("AUTOFREEZE_TEST_MAIN", "1")
	if args[0] == "--quiet" { // the test reads the ranks' info lines
		args = args[1:]
	}
	full := append([]string{"launch", "--nproc-per-node", "2", "--max-restarts", fmt.Sprint(maxRestarts), "--run-id", runID,
		"--grace", "3s", "--", os.Args[0]}, args...)
	code, stdout, stderr := cmd(t, full...)
	if os.Getenv("DEBUG_LAUNCH") != "" {
		t.Log(stdout, stderr)
	}
	return code, stderr
}

func readWeights(t *testing.T, run string) map[string]*model.Tensor {
	t.Helper()
	w, err := model.ReadSafetensors(filepath.Join(run, "checkpoints", "last", model.SafetensorsFile))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// freezeSteps are the (step, k) of every freeze point move in a run's log.
func freezeSteps(t *testing.T, run string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(run, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var moves []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec struct {
			Type      string
			Step, K   int
			OldK      int `json:"old_k"`
			WorldSize int `json:"world_size"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Type == "freeze" && rec.K != rec.OldK {
			moves = append(moves, fmt.Sprintf("step %d: %d->%d", rec.Step, rec.OldK, rec.K))
		}
	}
	return moves
}

// TestDataParallelMatchesOneProcess: two ranks over Gloo on loopback, each
// training on half of every global batch of 16, end with the weights of one
// process training on the whole batches (within 1e-5), and both ranks take
// rank 0's freeze decisions at the same steps as the single process.
func TestDataParallelMatchesOneProcess(t *testing.T) {
	f := newFixture(t)
	one := filepath.Join(f.dir, "one")
	if code, _, stderr := cmd(t, dataParallelArgs(f, one)...); code != 0 {
		t.Fatalf("single-process run exited %d: %s", code, stderr)
	}
	two := filepath.Join(f.dir, "two")
	code, stderr := launch(t, "dp-equal", 0, dataParallelArgs(f, two))
	if code != 0 {
		t.Fatalf("two-rank run exited %d: %s", code, stderr)
	}

	wantMoves := freezeSteps(t, one)
	if len(wantMoves) == 0 {
		t.Fatal("the single-process run never froze a layer; the test proves nothing about freeze decisions")
	}
	if got := freezeSteps(t, two); fmt.Sprint(got) != fmt.Sprint(wantMoves) {
		t.Errorf("freeze points: two ranks %v, one process %v", got, wantMoves)
	}
	// Both ranks froze at rank 0's steps: each logs its own "freezing".
	re := regexp.MustCompile(`\[rank (\d)\].*msg=freezing .*step=(\d+) from=(\d+) to=(\d+)`)
	perRank := map[string][]string{}
	for _, m := range re.FindAllStringSubmatch(stderr, -1) {
		perRank[m[1]] = append(perRank[m[1]], fmt.Sprintf("step %s: %s->%s", m[2], m[3], m[4]))
	}
	for _, rank := range []string{"0", "1"} {
		if fmt.Sprint(perRank[rank]) != fmt.Sprint(wantMoves) {
			t.Errorf("rank %s froze %v, want %v", rank, perRank[rank], wantMoves)
		}
	}
	if n := strings.Count(stderr, "same_as_rank_0=true"); n != 2 {
		t.Errorf("%d ranks reported weights identical to rank 0's, want 2:\n%s", n, stderr)
	}

	worst, where := weightDiff(t, readWeights(t, one), readWeights(t, two))
	t.Logf("max |two ranks - one process| = %.3g (%s); freeze moves %v", worst, where, wantMoves)
	if worst > 1e-5 {
		t.Errorf("weights differ by %.3g at %s, want <= 1e-5", worst, where)
	}
}

// weightDiff is the largest |got - want| over every value of want's
// tensors, and the tensor where it is; a tensor got lacks, or holds at
// another size, fails the test.
func weightDiff(t *testing.T, want, got map[string]*model.Tensor) (worst float64, where string) {
	t.Helper()
	for name, w := range want {
		g := got[name]
		if g == nil || len(g.Data) != len(w.Data) {
			t.Fatalf("the checkpoint compared lacks %s", name)
		}
		for i := range w.Data {
			if d := math.Abs(float64(g.Data[i] - w.Data[i])); d > worst || d != d {
				worst, where = d, name
			}
		}
	}
	return worst, where
}

// findProcess is the pid of a process whose environment holds every one of
// vars and, when parent > 0, whose parent is parent; 0 when there is none.
func findProcess(parent int, vars ...string) int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range dirs {
		if parent > 0 {
			stat, err := os.ReadFile(filepath.Join(dir, "stat"))
			if err != nil {
				continue
			}
			// pid (comm) state ppid ...
			fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
			if len(fields) < 2 || fields[1] != fmt.Sprint(parent) {
				continue
			}
		}
		env, err := os.ReadFile(filepath.Join(dir, "environ"))
		if err != nil {
			continue
		}
		all := "\x00" + string(env)
		found := true
		for _, v := range vars {
			found = found && strings.Contains(all, "\x00"+v+"\x00")
		}
		if found {
			var pid int
			fmt.Sscanf(filepath.Base(dir), "%d", &pid)
			return pid
		}
	}
	return 0
}

// TestKilledRankRestarts: SIGKILL one rank mid-run; the launcher stops the
// other, starts both again, and they resume from the last checkpoint (no
// more lost than the steps since it), ending with exactly the weights of a
// run that was never interrupted.
func TestKilledRankRestarts(t *testing.T) {
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		t.Skip("needs /proc to find the rank to kill")
	}
	f := newFixture(t)
	args := func(out string) []string { return dataParallelArgs(f, out, "--save-every", "5") }
	whole := filepath.Join(f.dir, "whole")
	if code, stderr := launch(t, "dp-whole", 0, args(whole)); code != 0 {
		t.Fatalf("uninterrupted two-rank run exited %d: %s", code, stderr)
	}

	killed := filepath.Join(f.dir, "killed")
	runID := fmt.Sprintf("dp-kill-%d", os.Getpid())
	killedAt := make(chan string, 1)
	go func() {
		deadline := time.Now().Add(3 * time.Minute)
		for time.Now().Before(deadline) {
			if _, err := os.Stat(filepath.Join(killed, "checkpoints", "step-15")); err == nil {
				if pid := findProcess(0, "TORCHELASTIC_RUN_ID="+runID, "RANK=1", "TORCHELASTIC_RESTART_COUNT=0"); pid > 0 {
					last, _ := os.Readlink(filepath.Join(killed, "checkpoints", "last"))
					syscall.Kill(pid, syscall.SIGKILL)
					killedAt <- last
					return
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
		killedAt <- ""
	}()
	code, stderr := launch(t, runID, 1, args(killed))
	last := <-killedAt
	if last == "" {
		t.Fatal("rank 1 was never killed; the test proves nothing")
	}
	if code != 0 {
		t.Fatalf("restarted job exited %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "restarting every rank") || !strings.Contains(stderr, "resuming from the latest checkpoint") {
		t.Errorf("the log does not show a restart and resume:\n%s", stderr)
	}
	// The resume record names the checkpoint it continued from: the last
	// one written before the kill (or a later one written in between).
	metrics, _ := os.ReadFile(filepath.Join(killed, "metrics.jsonl"))
	var resumed int
	for _, line := range strings.Split(string(metrics), "\n") {
		if strings.Contains(line, `"type":"resume"`) {
			var rec struct{ Step int }
			json.Unmarshal([]byte(line), &rec)
			resumed = rec.Step
		}
	}
	var killedStep int
	fmt.Sscanf(last, "step-%d", &killedStep)
	if resumed == 0 || resumed < killedStep {
		t.Errorf("resumed at step %d; the last checkpoint before the kill was %s", resumed, last)
	}
	t.Logf("rank 1 killed after %s; resumed at step %d", last, resumed)

	if d, where := weightDiff(t, readWeights(t, whole), readWeights(t, killed)); d != 0 {
		t.Fatalf("%s differs after the restart: the resumed job is not the uninterrupted one", where)
	}
}

// TestEfficiencyModeGivesBackWorkers: in efficiency mode a two-rank run
// whose profile says the frozen model needs only one worker checkpoints at
// its first freeze and asks the launcher to continue on one; the global
// batch stays the same, so it ends with the weights of the two-rank run in
// performance mode (within 1e-5).
func TestEfficiencyModeGivesBackWorkers(t *testing.T) {
	f := newFixture(t)
	// A profile where communication dominates: 40 GB of gradients at full
	// size make one worker cheaper as soon as two layers are frozen.
	profile := filepath.Join(f.dir, "profile.json")
	if err := os.WriteFile(profile, []byte(`{"model": "synthetic, not measured", "layers": 4, "examples": 320, "epochs": 2,
		"global_batch": 16, "threads": 1, "step_seconds": [80, 40, 20, 10],
		"grad_bytes": [40000000000, 30000000000, 20000000000, 10000000000], "cache_seconds_per_example": [0, 0, 0, 0]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	perf := filepath.Join(f.dir, "performance")
	if code, stderr := launch(t, "eff-perf", 0, dataParallelArgs(f, perf)); code != 0 {
		t.Fatalf("performance-mode run exited %d: %s", code, stderr)
	}
	eff := filepath.Join(f.dir, "efficiency")
	code, stderr := launch(t, "eff", 0, dataParallelArgs(f, eff, "--mode", "efficiency", "--profile", profile))
	if code != 0 {
		t.Fatalf("efficiency-mode run exited %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, `msg="ranks asked for a new world size" from=2 to=1`) {
		t.Fatalf("the run never gave a worker back:\n%s", stderr)
	}
	metrics, _ := os.ReadFile(filepath.Join(eff, "metrics.jsonl"))
	if !strings.Contains(string(metrics), `"type":"resize"`) || !strings.Contains(string(metrics), `"world_size":2`) {
		t.Errorf("metrics.jsonl lacks the resize record:\n%s", metrics)
	}
	// On links a million times faster, communication costs nothing, every
	// world size costs the same worker-seconds, and the restart is not
	// worth it: the run keeps both workers.
	fast := filepath.Join(f.dir, "efficiency-fast-links")
	code, stderr = launch(t, "eff-fast", 0, dataParallelArgs(f, fast, "--mode", "efficiency", "--profile", profile, "--cluster-bandwidth-gbps", "1e7"))
	if code != 0 {
		t.Fatalf("efficiency-mode run on fast links exited %d: %s", code, stderr)
	}
	if strings.Contains(stderr, "ranks asked for a new world size") {
		t.Errorf("with free communication the run still gave a worker back:\n%s", stderr)
	}
	worst, _ := weightDiff(t, readWeights(t, perf), readWeights(t, eff))
	t.Logf("max |efficiency (2 then 1 workers) - performance (2 workers)| = %.3g", worst)
	if worst > 1e-5 {
		t.Errorf("weights differ by %.3g, want <= 1e-5", worst)
	}
}

// TestDataParallelRealModel: the real all-MiniLM-L6-v2 on real IMDb
// reviews, two ranks against one process, with the first two layers frozen
// from the start, so the ranks build the ONNX Runtime activation cache in
// two shards that rank 0 combines, and train from it. The weights agree
// within 1e-5.
func TestDataParallelRealModel(t *testing.T) {
	modelDir := testenv.ModelDir(t)
	data := testenv.Need(t, "data/imdb/train.jsonl")
	dir := t.TempDir()
	args := func(out string) []string {
		return []string{"train", "--model", modelDir, "--train", data, "--train-limit", "64", "--eval-limit", "8",
			"--max-length", "32", "--batch-size", "8", "--grad-accum", "2", "--epochs", "1", "--lr", "1e-4",
			"--no-dropout", "--freeze", "2", "--cache", "disk", "--engine", "onnx", "--threads", "1", "--out", out}
	}
	one := filepath.Join(dir, "one")
	if code, _, stderr := cmd(t, append([]string{"--quiet"}, args(one)...)...); code != 0 {
		t.Fatalf("single-process run exited %d: %s", code, stderr)
	}
	two := filepath.Join(dir, "two")
	code, stderr := launch(t, "dp-real", 0, args(two))
	if code != 0 {
		t.Fatalf("two-rank run exited %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "shards=2") {
		t.Errorf("the cache was not built in two shards:\n%s", stderr)
	}
	want := readWeights(t, one)
	worst, _ := weightDiff(t, want, readWeights(t, two))
	// Training moved the weights (the comparison is not of two untouched
	// copies).
	base, err := model.ReadSafetensors(filepath.Join(modelDir, model.SafetensorsFile))
	if err != nil {
		t.Fatal(err)
	}
	moved := 0.0
	before, after := base["encoder.layer.5.output.dense.weight"], want["bert.encoder.layer.5.output.dense.weight"]
	if before == nil || after == nil {
		t.Fatal("cannot find layer 5's output weights to check that training moved them")
	}
	for i := range before.Data {
		moved = math.Max(moved, math.Abs(float64(after.Data[i]-before.Data[i])))
	}
	if moved == 0 {
		t.Fatal("training did not change layer 5; the comparison proves nothing")
	}
	// Each rank's half of a step is the single process's micro-batch, and
	// a sum of two gradients is the same in either order, so the runs agree
	// exactly here; different micro-batch shapes would agree to ~1e-6.
	t.Logf("MiniLM, 2 ranks vs 1 process: max weight difference %.3g (training moved layer 5 by up to %.3g)", worst, moved)
	if worst > 1e-5 {
		t.Errorf("weights differ by %.3g, want <= 1e-5", worst)
	}
}
