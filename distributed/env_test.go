package distributed

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func lookupIn(vars []string) func(string) (string, bool) {
	m := map[string]string{}
	for _, v := range vars {
		k, val, _ := strings.Cut(v, "=")
		m[k] = val
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// What a launcher writes, a rank reads back.
func TestEnvRoundTrip(t *testing.T) {
	want := Env{Rank: 1, WorldSize: 4, LocalRank: 1, LocalWorldSize: 4, MasterAddr: "10.0.0.7", MasterPort: 29500,
		RestartCount: 2, MaxRestarts: 3, RunID: "job", AgentStore: true, SocketInterface: "eth0"}
	got, err := EnvFrom(lookupIn(want.Vars()))
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("read back %+v, want %+v", got, want)
	}
}

func TestEnvErrorsNameTheVariable(t *testing.T) {
	for _, c := range []struct {
		vars []string
		want string
	}{
		{[]string{"WORLD_SIZE=2", "MASTER_ADDR=h", "MASTER_PORT=1"}, "RANK is not set"},
		{[]string{"WORLD_SIZE=2", "RANK=x", "MASTER_ADDR=h", "MASTER_PORT=1"}, `RANK="x" is not a non-negative integer`},
		{[]string{"WORLD_SIZE=2", "RANK=2", "MASTER_ADDR=h", "MASTER_PORT=1"}, "RANK=2 is not below WORLD_SIZE=2"},
		{[]string{"WORLD_SIZE=2", "RANK=0", "MASTER_PORT=1"}, "MASTER_ADDR is not set"},
		{[]string{"WORLD_SIZE=2", "RANK=0", "MASTER_ADDR=h", "MASTER_PORT=70000"}, "MASTER_PORT=70000 is not a TCP port"},
	} {
		_, err := EnvFrom(lookupIn(c.vars))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "torchrun") {
			t.Errorf("%v: got %v, want an error with %q that says how to launch", c.vars, err, c.want)
		}
	}
	if !Launched(lookupIn([]string{"WORLD_SIZE=1"})) || Launched(lookupIn(nil)) {
		t.Error("Launched does not follow WORLD_SIZE")
	}
}

// Shares cover every item once, in order, and differ by at most one.
func TestShare(t *testing.T) {
	for _, n := range []int{0, 1, 5, 16, 17} {
		for size := 1; size <= 4; size++ {
			next := 0
			for rank := 0; rank < size; rank++ {
				lo, hi := Share(n, rank, size)
				if lo != next || hi < lo || hi-lo > n/size+1 || hi-lo < n/size {
					t.Fatalf("Share(%d, %d, %d) = [%d, %d)", n, rank, size, lo, hi)
				}
				next = hi
			}
			if next != n {
				t.Fatalf("Share(%d, *, %d) covers %d items", n, size, next)
			}
		}
	}
}

// A rank that keeps failing uses up the restarts, and the error says so;
// every attempt sees its restart count.
func TestLaunchRestartsThenGivesUp(t *testing.T) {
	var out bytes.Buffer
	err := Launch(context.Background(), LaunchOptions{Procs: 2, MaxRestarts: 2, Stdout: &out, Stderr: &out,
		Command: []string{"sh", "-c", `echo "attempt $TORCHELASTIC_RESTART_COUNT rank $RANK of $WORLD_SIZE"; [ "$RANK" = 0 ] || exit 3`},
		Environ: []string{"PATH=" + os.Getenv("PATH")}})
	if err == nil || !strings.Contains(err.Error(), "2 restart(s) are used up") {
		t.Fatalf("got %v, want the restarts used up", err)
	}
	// Rank 1 prints before it fails; rank 0 may be stopped before it
	// prints, when rank 1 fails first.
	for _, line := range []string{"[rank 1] attempt 0 rank 1 of 2", "[rank 1] attempt 1 rank 1 of 2", "[rank 1] attempt 2 rank 1 of 2"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("output lacks %q:\n%s", line, out.String())
		}
	}
}

// Ranks that all exit with ExitResize are started again at the world size
// they wrote, without using a restart.
func TestLaunchResize(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "resized")
	script := `if [ "$WORLD_SIZE" = 3 ]; then echo 1 > "$` + ResizeFileVar + `"; exit 75; fi; echo "$WORLD_SIZE" > ` + marker
	err := Launch(context.Background(), LaunchOptions{Procs: 3, MaxRestarts: 0, Command: []string{"sh", "-c", script},
		Environ: []string{"PATH=" + os.Getenv("PATH")}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(marker)
	if strings.TrimSpace(string(got)) != "1" {
		t.Errorf("after the resize the job ran at world size %q, want 1", got)
	}
}

func TestLaunchBadCommand(t *testing.T) {
	err := Launch(context.Background(), LaunchOptions{Procs: 2, Command: []string{"/nonexistent/autofreeze"}})
	if err == nil || !strings.Contains(err.Error(), "starting rank 0") {
		t.Fatalf("got %v", err)
	}
}

// An interrupted launch stops its ranks (SIGTERM, then SIGKILL after the
// grace period) and reports the interruption, not success.
func TestLaunchInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(300 * time.Millisecond); cancel() }()
	start := time.Now()
	err := Launch(ctx, LaunchOptions{Procs: 2, Grace: time.Second,
		Command: []string{"sh", "-c", `trap '' TERM; sleep 30`}, // ignores SIGTERM: needs the SIGKILL
		Environ: []string{"PATH=" + os.Getenv("PATH")}})
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("got %v, want an interruption", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("stopping took %v; the grace period is 1 s", d)
	}
}
