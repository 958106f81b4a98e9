package cli

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autofreeze/autofreeze/cachefmt"
	"github.com/autofreeze/autofreeze/internal/testenv"
)

// killShards is how many shards the kill test splits the data into.
const killShards = 3

var (
	shardFileRE    = regexp.MustCompile(`^shard-(\d{5})-of-(\d{5})\.afc$`)
	fragmentFileRE = regexp.MustCompile(`^shard-(\d{5})-of-(\d{5})\.json$`)
	// What the exporter leaves next to the cache: the ONNX file of the
	// prefix (removed by a build that ends normally) and atomicfile's
	// temporary files while it writes it.
	exportLeftoverRE = regexp.MustCompile(`^\.layers-\d+-\d+\.onnx(\.data)?$|^\.\.layers-\d+-\d+\.onnx(\.data)?\..*\.partial$`)
)

// TestCacheBuildKilled: `cache build --shard i/3` on the real MiniLM and 60
// IMDb reviews, run as child processes and killed with SIGKILL at random
// points spread over a whole build. After every kill, each shard file in the
// directory is either absent or valid (it verifies completely and carries
// the build's fingerprint), no temporary file can be mistaken for a shard,
// a fragment exists only next to its finished shard, and there is no
// manifest unless every shard finished. Then a rerun of the three shard
// commands completes every directory, skips the shards that were already
// finished, and gives exactly the rows of a build that was never
// interrupted.
//
// AUTOFREEZE_KILL_SEED (default 1) seeds the delays; AUTOFREEZE_KILL_ROUNDS
// (default 6) sets how many directories are built and killed.
func TestCacheBuildKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("kills real cache builds (about 50 s)")
	}
	modelDir := testenv.ModelDir(t)
	ortLib := testenv.ORTLib(t)
	data := imdbSample(t, 60)
	seed := envUint(t, "AUTOFREEZE_KILL_SEED", 1)
	rounds := int(envUint(t, "AUTOFREEZE_KILL_ROUNDS", 6))
	rng := rand.New(rand.NewPCG(seed, 0xdead))
	root := t.TempDir()

	build := func(dir, shard string) []string {
		return []string{"cache", "build", "--model", modelDir, "--layers", "0:3", "--data", data, "--out", dir,
			"--max-length", "64", "--batch-size", "4", "--dtype", "fp16", "--ort-lib", ortLib, "--shard", shard}
	}
	args := func(dir string, shard int) []string { return build(dir, fmt.Sprintf("%d/%d", shard, killShards)) }

	// The reference: the same shards, built by child processes that are
	// left alone. Their durations say how long a build takes, so the kills
	// below spread over all of it.
	ref := filepath.Join(root, "reference")
	var took []time.Duration
	for s := range killShards {
		res := runChild(t, args(ref, s), 0)
		if res.killed || res.code != 0 {
			t.Fatalf("uninterrupted build of shard %d: exit %d: %s", s, res.code, res.stderr)
		}
		took = append(took, res.took)
	}
	slices.Sort(took)
	typical := took[len(took)/2]
	want := readAllRows(t, ref)
	refHeader := shardHeader(t, filepath.Join(ref, cachefmt.ShardName(0, killShards)))
	t.Logf("seed %d; uninterrupted shard builds took %v (typical %v); %d rows", seed, took, typical, len(want))

	// Every round builds a fresh directory and kills each shard's build
	// once. The delays are stratified: over the rounds, each shard gets one
	// delay drawn uniformly from each of `rounds` equal slices of
	// [0, 1.05 x typical), in a random order, so the kills cover the
	// start-up, the ONNX export, the computation, the publication of the
	// shard and of its fragment, and the combination of the manifest.
	span := typical * 105 / 100
	strata := make([][]int, killShards)
	for s := range strata {
		strata[s] = rng.Perm(rounds)
	}
	var dirs []string
	killed, finished := 0, 0
	for r := range rounds {
		dir := filepath.Join(root, fmt.Sprintf("round-%02d", r))
		dirs = append(dirs, dir)
		var log []string
		for s := range killShards {
			delay := time.Duration((float64(strata[s][r]) + rng.Float64()) / float64(rounds) * float64(span))
			res := runChild(t, args(dir, s), delay)
			switch {
			case res.killed:
				killed++
				log = append(log, fmt.Sprintf("shard %d killed at %v", s, delay.Round(time.Millisecond)))
			case res.code == 0:
				finished++
				log = append(log, fmt.Sprintf("shard %d exited 0 (in %v) before its kill at %v landed", s, res.took.Round(time.Millisecond), delay.Round(time.Millisecond)))
			default:
				t.Fatalf("round %d: shard %d failed on its own (exit %d) before its kill: %s", r, s, res.code, res.stderr)
			}
			checkKilledDir(t, dir, refHeader)
		}
		t.Logf("round %d: %s; left %s", r, strings.Join(log, ", "), describeDir(t, dir))
	}
	t.Logf("%d builds killed, %d finished before their kill", killed, finished)
	if killed < rounds*killShards/2 {
		t.Fatalf("only %d of %d builds were killed: the delays are too long to test anything", killed, rounds*killShards)
	}

	// The rerun: the same three commands, in-process, on every directory:
	// first the shards that did not finish (what a job array retries), then
	// the finished ones, which must be skipped. (Rerunning a finished shard
	// first fails while another shard file lacks its fragment: see
	// TestCacheBuildKilledBeforeFragment.)
	for r, dir := range dirs {
		done := map[int]os.FileInfo{}
		var unfinished, finished []int
		for s := range killShards {
			if fi, err := os.Stat(filepath.Join(dir, cachefmt.ShardName(s, killShards))); err == nil && hasFragment(dir, s) {
				done[s] = fi
				finished = append(finished, s)
			} else {
				unfinished = append(unfinished, s)
			}
		}
		for _, s := range append(unfinished, finished...) {
			if code, _, stderr := cmd(t, append([]string{"--quiet"}, args(dir, s)...)...); code != 0 {
				t.Fatalf("round %d: rerun of shard %d: exit %d: %s", r, s, code, stderr)
			}
		}
		for s, before := range done {
			after, err := os.Stat(filepath.Join(dir, cachefmt.ShardName(s, killShards)))
			if err != nil || !os.SameFile(before, after) {
				t.Errorf("round %d: the rerun rewrote shard %d although it was finished and valid", r, s)
			}
		}
		if code, _, stderr := cmd(t, "cache", "verify", "--model", modelDir, "--data", data, dir); code != ExitOK {
			t.Fatalf("round %d: verify after the rerun: exit %d: %s", r, code, stderr)
		}
		got := readAllRows(t, dir)
		if d := maxRowDiff(t, want, got); d != 0 {
			t.Fatalf("round %d: the rerun cache differs from the uninterrupted one by %g", r, d)
		}
		for i := range want {
			if want[i].Label != got[i].Label {
				t.Fatalf("round %d: row %d has label %d, want %d", r, i, got[i].Label, want[i].Label)
			}
		}
		checkKilledDir(t, dir, refHeader)
		if left := leftovers(t, dir); len(left) > 0 {
			// Not a failure: they break nothing, but they take disk space
			// (the ONNX export of the prefix is ~70 MB here) and nothing
			// removes them. See the report that came with this test.
			t.Logf("round %d: after the rerun the directory still holds exporter leftovers %v", r, left)
		}
	}

	// A single-shard build of the same data batches rows differently (the
	// rows are sorted by length over the whole file, not per shard), so
	// padding and the order of floating-point sums differ: values may then
	// differ in the last fp16 bit, never by more than 1e-3.
	single := filepath.Join(root, "single")
	if code, _, stderr := cmd(t, append([]string{"--quiet"}, build(single, "0/1")...)...); code != 0 {
		t.Fatalf("single-shard build: exit %d: %s", code, stderr)
	}
	d := maxRowDiff(t, want, readAllRows(t, single))
	if d > 1e-3 {
		t.Fatalf("single-shard build differs from the 3-shard build by %g (> 1e-3)", d)
	}
	t.Logf("single-shard build against the 3-shard build: max abs difference %g", d)
}

// TestCacheBuildKilledBeforeFragment: a build killed after it published
// its shard file but before it wrote the shard's fragment (between the
// rename in cachefmt's publish and the fragment write after it, a window of
// a few fsyncs that random kills rarely hit) leaves a valid shard without
// fragment. The rerun of the three shard commands, in index order, must
// still complete the cache: the commands of the shards that were finished
// may not fail because another one is not.
func TestCacheBuildKilledBeforeFragment(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a real cache")
	}
	modelDir := testenv.ModelDir(t)
	ortLib := testenv.ORTLib(t)
	data := imdbSample(t, 24)
	dir := t.TempDir()
	build := func(s int) (int, string) {
		code, _, stderr := cmd(t, "--quiet", "cache", "build", "--model", modelDir, "--layers", "0:3", "--data", data, "--out", dir,
			"--max-length", "64", "--batch-size", "4", "--dtype", "fp16", "--ort-lib", ortLib, "--shard", fmt.Sprintf("%d/%d", s, killShards))
		return code, stderr
	}
	for s := range killShards {
		if code, stderr := build(s); code != 0 {
			t.Fatalf("build of shard %d: exit %d: %s", s, code, stderr)
		}
	}
	// What SIGKILL in that window leaves: shard 1 published, its fragment
	// not written, so no manifest either.
	frag := filepath.Join(dir, strings.TrimSuffix(cachefmt.ShardName(1, killShards), ".afc")+".json")
	for _, p := range []string{frag, filepath.Join(dir, cachefmt.ManifestName)} {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	checkKilledDir(t, dir, shardHeader(t, filepath.Join(dir, cachefmt.ShardName(0, killShards))))
	for s := range killShards {
		code, stderr := build(s)
		if code != 0 {
			t.Fatalf("rerun of shard %d: exit %d: %s", s, code, stderr)
		}
	}
	if code, _, stderr := cmd(t, "cache", "verify", "--model", modelDir, "--data", data, dir); code != ExitOK {
		t.Fatalf("verify after the rerun: exit %d: %s", code, stderr)
	}
}

type childResult struct {
	code   int
	killed bool
	took   time.Duration
	stderr string
}

// runChild runs the test binary as `autofreeze args...` and, when delay > 0,
// sends it SIGKILL after delay unless it has exited by then.
func runChild(t *testing.T, args []string, delay time.Duration) childResult {
	t.Helper()
	c := exec.Command(os.Args[0], args...)
	c.Env = append(os.Environ(), "AUTOFREEZE_TEST_MAIN=1")
	var stderr bytes.Buffer
	c.Stderr = &stderr
	start := time.Now()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- c.Wait() }()
	var res childResult
	var err error
	if delay <= 0 {
		err = <-exited
	} else {
		select {
		case err = <-exited:
		case <-time.After(delay - time.Since(start)):
			c.Process.Signal(syscall.SIGKILL)
			err = <-exited
		}
	}
	res.took, res.stderr = time.Since(start), stderr.String()
	if c.ProcessState == nil {
		t.Fatalf("child %v: %v", args, err)
	}
	if ws, ok := c.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		res.killed = true
	}
	res.code = c.ProcessState.ExitCode()
	return res
}

// checkKilledDir checks what a killed build may leave in dir: shard files
// that verify completely and carry the build's fingerprint, fragments only
// beside such shards, a manifest only when all shards are there and the
// whole cache verifies, temporary files that no shard pattern matches, and
// nothing else.
func checkKilledDir(t *testing.T, dir string, want cachefmt.Header) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return // killed before it made the directory
	} else if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		switch {
		case shardFileRE.MatchString(name):
			if err := cachefmt.VerifyFile(path); err != nil {
				t.Fatalf("a killed build left a shard that does not verify: %v", err)
			}
			if h := shardHeader(t, path); h.Fingerprint != want.Fingerprint || h.Dtype != want.Dtype || h.Hidden != want.Hidden {
				t.Fatalf("%s: header %+v, want the build's %+v", name, h, want)
			}
		case fragmentFileRE.MatchString(name):
			if _, err := os.Stat(strings.TrimSuffix(path, ".json") + ".afc"); err != nil {
				t.Fatalf("%s exists without its shard", name)
			}
		case name == cachefmt.ManifestName:
			for s := range killShards {
				if !hasFragment(dir, s) {
					t.Fatalf("a manifest exists but shard %d has not finished", s)
				}
			}
			if err := cachefmt.Verify(dir, nil); err != nil {
				t.Fatalf("a killed build left a manifest that does not verify: %v", err)
			}
		case strings.HasPrefix(name, cachefmt.TempPrefix), exportLeftoverRE.MatchString(name):
			// Temporary: removed by the next build (cachefmt's), or left
			// (the exporter's; see leftovers).
		default:
			t.Fatalf("a killed build left an unexpected file %s", name)
		}
	}
	// A reader looking for shards by name sees only valid ones.
	matches, err := filepath.Glob(filepath.Join(dir, "shard-*.afc"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range matches {
		if !shardFileRE.MatchString(filepath.Base(m)) {
			t.Fatalf("the shard pattern matches the temporary file %s", m)
		}
	}
	_, err = os.Stat(filepath.Join(dir, cachefmt.ManifestName))
	code, _, _ := cmd(t, "cache", "verify", dir)
	switch {
	case err == nil && code != ExitOK:
		t.Fatalf("the manifest exists but verify exits %d", code)
	case err != nil && code != ExitCorrupt:
		t.Fatalf("no manifest, but verify exits %d, want %d", code, ExitCorrupt)
	}
}

func hasFragment(dir string, s int) bool {
	_, err := os.Stat(filepath.Join(dir, strings.TrimSuffix(cachefmt.ShardName(s, killShards), ".afc")+".json"))
	return err == nil
}

func shardHeader(t *testing.T, path string) cachefmt.Header {
	t.Helper()
	r, err := cachefmt.Open(path, &cachefmt.ReaderOptions{CacheBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return r.Header()
}

// leftovers are the exporter's files in dir.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if exportLeftoverRE.MatchString(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

// describeDir summarises a cache directory: finished shards, shard files
// without fragment, temporary files, exporter leftovers, manifest.
func describeDir(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "no directory"
	}
	var shards, frags, temps, export int
	manifest := "no manifest"
	for _, e := range entries {
		switch n := e.Name(); {
		case shardFileRE.MatchString(n):
			shards++
		case fragmentFileRE.MatchString(n):
			frags++
		case strings.HasPrefix(n, cachefmt.TempPrefix):
			temps++
		case exportLeftoverRE.MatchString(n):
			export++
		case n == cachefmt.ManifestName:
			manifest = "manifest"
		}
	}
	return fmt.Sprintf("%d shards (%d with fragment), %d cachefmt temp, %d exporter files, %s", shards, frags, temps, export, manifest)
}

func envUint(t *testing.T, name string, def uint64) uint64 {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v == 0 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return v
}
