package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/autofreeze/autofreeze/internal/testenv"
)

// cacheEvents are the "cache" and "freeze" records of a run's metrics.jsonl
// that say when the freeze point moved and when each cache was built and
// read.
type cacheEvent struct {
	Type, Event string
	Step, K     int
	OldK        int  `json:"old_k"`
	Background  bool `json:"background"`
}

func cacheEvents(t *testing.T, run string) []cacheEvent {
	t.Helper()
	var out []cacheEvent
	for _, line := range strings.Split(strings.TrimSpace(readFile(t, filepath.Join(run, "metrics.jsonl"))), "\n") {
		var e cacheEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		if e.Type == "cache" || e.Type == "freeze" && e.K != e.OldK {
			out = append(out, e)
		}
	}
	return out
}

// TestBackgroundCacheBuild: with --cache-build background, a freeze
// decision starts the cache build beside training, which reads the cache
// from exactly --cache-lag steps after the decision (never earlier, and
// never a cache that is not built and verified), whatever the build's
// speed; a run stopped inside that window, while the build runs, and
// resumed ends with the weights of the uninterrupted run, bit for bit.
func TestBackgroundCacheBuild(t *testing.T) {
	f := newFixture(t)
	const lag = 8
	extra := []string{"--epochs", "3", "--log-every", "1", "--freeze", "auto", "--freeze-intervals", "12", "--save-every", "50",
		"--cache", "disk", "--cache-build", "background", "--cache-lag", "8", "--engine", "onnx", "--ort-lib", testenv.ORTLib(t)}
	t.Setenv("TMPDIR", t.TempDir()) // the prefix's ONNX exports; the child inherits it
	args := func(out string) []string { return f.trainArgs(out, extra...) }

	whole := filepath.Join(f.dir, "whole")
	if code, _, stderr := cmd(t, args(whole)...); code != 0 {
		t.Fatalf("uninterrupted run exited %d: %s", code, stderr)
	}
	// Every cache that training read was built in the background and made
	// active lag steps after the decision that asked for it; a build that a
	// newer decision overtook before its switch was cancelled, never read.
	events := cacheEvents(t, whole)
	decided := map[int]int{} // K -> step of the decision
	first := -1
	actives := 0
	for _, e := range events {
		switch {
		case e.Type == "freeze":
			decided[e.K] = e.Step
			if first < 0 {
				first = e.Step
			}
		case e.Event == "built" && !e.Background:
			t.Errorf("a cache built blocking in a background run: %+v", e)
		case e.Event == "active":
			actives++
			if at, ok := decided[e.K]; !ok || e.Step != at+lag {
				t.Errorf("cache K=%d read from step %d; its decision was at step %d, so want step %d", e.K, e.Step, at, at+lag)
			}
		}
	}
	if first < 0 || actives == 0 {
		t.Fatalf("the run froze nothing or read no cache; the test proves nothing: %+v", events)
	}
	t.Logf("cache events: %+v", events)

	// Stop one step after the first decision: its cache is being built.
	stopped := filepath.Join(f.dir, "stopped")
	code, stderr := signalChild(t, args(stopped), nil, syscall.SIGINT, func() bool { return loggedStep(stopped) >= first+1 })
	m := regexp.MustCompile(`interrupted at step (\d+); .* holds the checkpoint of step (\d+)`).FindStringSubmatch(stderr)
	if code != ExitSIGINT || m == nil {
		t.Fatalf("SIGINT: exit %d (want %d); stderr %s", code, ExitSIGINT, stderr)
	}
	if ckpt := atoi(m[2]); ckpt <= first || ckpt >= first+lag {
		t.Fatalf("checkpoint of step %d is not between the decision (step %d) and the switch (step %d); the test does not cover a build in flight", ckpt, first, first+lag)
	}
	state := readFile(t, filepath.Join(stopped, "checkpoints", "last", "trainer_state.json"))
	if !strings.Contains(state, `"pending_cache"`) {
		t.Fatalf("the checkpoint does not record the cache being built:\n%s", state)
	}
	// Damage whatever the interrupted build left: the resumed run must
	// verify it, throw it away and build it again.
	filepath.Walk(filepath.Join(stopped, "cache"), func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			os.WriteFile(path, []byte("damaged"), 0o644)
		}
		return nil
	})

	if code, _, stderr := cmd(t, append(args(stopped), "--resume")...); code != 0 {
		t.Fatalf("resume exited %d: %s", code, stderr)
	}
	if d, where := weightDiff(t, readWeights(t, whole), readWeights(t, stopped)); d != 0 {
		t.Fatalf("%s: the resumed run differs from the uninterrupted one by up to %g", where, d)
	}
}
