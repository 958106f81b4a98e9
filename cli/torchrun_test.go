package cli

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTorchrun launches training with the real torchrun of torch 2.1 (the
// launcher users have), in both of its rendezvous modes, and kills a rank
// in the first: the agent restarts the job, which resumes and ends with the
// weights of the job `autofreeze launch` ran uninterrupted.
//
// torchrun needs the torch wheel and its CUDA libraries (4 GB installed),
// so `make test` leaves it out; `make test-torchrun` installs it with
// scripts/torchrun_venv.sh and runs this test.
func TestTorchrun(t *testing.T) {
	torchrun := os.Getenv("TORCHRUN")
	if torchrun == "" {
		t.Skip("TORCHRUN is not set: run make test-torchrun")
	}
	f := newFixture(t)
	args := func(out string) []string { return dataParallelArgs(f, out, "--save-every", "5")[1:] } // without --quiet
	reference := filepath.Join(f.dir, "launch")
	if code, stderr := launch(t, "torchrun-ref", 0, args(reference)); code != 0 {
		t.Fatalf("autofreeze launch run exited %d: %s", code, stderr)
	}
	want := readWeights(t, reference)

	for _, mode := range []struct {
		name  string
		flags []string
		kill  bool
	}{
		// Rank 0 hosts the store at the agent's MASTER_PORT.
		{"standalone", []string{"--standalone"}, true},
		// The agent hosts the store; every rank is a client
		// (TORCHELASTIC_USE_AGENT_STORE=True).
		{"static", []string{"--nnodes", "1", "--master-addr", "127.0.0.1", "--master-port", fmt.Sprint(freePortForTest(t))}, false},
	} {
		t.Run(mode.name, func(t *testing.T) {
			out := filepath.Join(f.dir, mode.name)
			runID := fmt.Sprintf("torchrun-%s-%d", mode.name, os.Getpid())
			targs := append(append([]string{"--no-python", "--nproc-per-node", "2", "--max-restarts", "1",
				"--monitor-interval", "0.5", "--rdzv-id", runID}, mode.flags...), append([]string{os.Args[0]}, args(out)...)...)
			c := exec.Command(torchrun, targs...)
			c.Env = append(os.Environ(), "AUTOFREEZE_TEST_MAIN=1", "OMP_NUM_THREADS=1")
			var stderr strings.Builder
			c.Stdout, c.Stderr = &stderr, &stderr
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			killed := make(chan bool, 1)
			if mode.kill {
				go func() {
					deadline := time.Now().Add(3 * time.Minute)
					for time.Now().Before(deadline) {
						if _, err := os.Stat(filepath.Join(out, "checkpoints", "step-15")); err == nil {
							if pid := findProcess(c.Process.Pid, "RANK=1"); pid > 0 {
								syscall.Kill(pid, syscall.SIGKILL)
								killed <- true
								return
							}
						}
						time.Sleep(2 * time.Millisecond)
					}
					killed <- false
				}()
			}
			err := c.Wait()
			if err != nil {
				t.Fatalf("torchrun: %v\n%s", err, stderr.String())
			}
			if mode.kill {
				if !<-killed {
					t.Fatal("rank 1 was never killed; the test proves nothing")
				}
				if !strings.Contains(stderr.String(), "resuming from the latest checkpoint") {
					t.Errorf("the restarted ranks did not resume:\n%s", stderr.String())
				}
			}
			if d, where := weightDiff(t, want, readWeights(t, out)); d != 0 {
				t.Fatalf("%s: torchrun's job differs from autofreeze launch's", where)
			}
		})
	}
}

func freePortForTest(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
