package cachefmt

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	// Re-executed by TestKilledWriter as a shard-writing child process.
	if dir := os.Getenv("CACHEFMT_TEST_CHILD_DIR"); dir != "" {
		childWriter(dir)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const childRows = 30

// childWriter takes one step (an Append, then finally Close) per line on stdin, and reports
// each step on stdout, so the parent can kill it in the middle of any step.
func childWriter(dir string) {
	in := bufio.NewReader(os.Stdin)
	w, err := CreateShard(dir, 0, 1, testFingerprint(), 64, &WriterOptions{GroupRows: 2})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for id := range uint64(childRows) {
		in.ReadString('\n')
		if err := w.Append(id, testLabel(id), testRow(id, 64)); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("row", id)
	}
	in.ReadString('\n')
	fmt.Println("closing")
	if err := w.Close(); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("published")
}

func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, TempPrefix+"*"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestAbandonedWriterLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.afc")
	w, err := Create(path, 8, &WriterOptions{GroupRows: 1})
	if err != nil {
		t.Fatal(err)
	}
	for id := range uint64(5) {
		w.Append(id, 0, testRow(id, 8))
	}
	// The writer is dropped here, as if its process had died.
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("final name exists before Close: %v", err)
	}
	if n := len(tempFiles(t, dir)); n != 1 {
		t.Fatalf("%d temporary files, want 1", n)
	}
	if removed, _ := CleanTemp(dir, time.Hour); len(removed) != 0 {
		t.Fatalf("CleanTemp removed a fresh file: %v", removed)
	}
	removed, err := CleanTemp(dir, 0)
	if err != nil || len(removed) != 1 || !strings.HasPrefix(removed[0], TempPrefix+"x.afc-") {
		t.Fatalf("CleanTemp: %v, %v", removed, err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("left in dir: %v", left)
	}

	// Abort removes its temporary file at once.
	w, _ = Create(path, 8, nil)
	w.Append(1, 0, testRow(1, 8))
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("left after Abort: %v", left)
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after Abort succeeded")
	}

	// Close publishes, and the file's SHA-256 is in the stats.
	w, _ = Create(path, 8, nil)
	w.Append(1, 0, testRow(1, 8))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if w.Stats().SHA256 != sha256.Sum256(data) {
		t.Fatal("stats SHA-256 differs from the file's")
	}
	if n := len(tempFiles(t, dir)); n != 0 {
		t.Fatalf("%d temporary files after Close", n)
	}
	if err := VerifyFile(path); err != nil {
		t.Fatal(err)
	}
}

// TestKilledWriter runs a shard writer in a child process and kills it (SIGKILL on Unix) at
// points spread over its whole life, Close included. After each kill the shard is either
// absent or complete and valid, its fragment only appears with it, and CleanTemp leaves no
// temporary file behind.
func TestKilledWriter(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	var published, partial int
	for trial := range 16 {
		dir := t.TempDir()
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), "CACHEFMT_TEST_CHILD_DIR="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Step k (an Append, or Close when k == childRows) is started and the child killed
		// a random moment later; half the trials kill during Close.
		k := rng.IntN(childRows)
		if trial%2 == 1 {
			k = childRows
		}
		sc := bufio.NewScanner(out)
		for step := range k {
			fmt.Fprintln(in)
			if !sc.Scan() || sc.Text() != fmt.Sprint("row ", step) {
				t.Fatalf("trial %d step %d: child said %q", trial, step, sc.Text())
			}
		}
		fmt.Fprintln(in)
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Microsecond)
		cmd.Process.Kill()
		cmd.Wait()

		shard := filepath.Join(dir, ShardName(0, 1))
		frag := filepath.Join(dir, fragmentName(0, 1))
		_, shardErr := os.Stat(shard)
		_, fragErr := os.Stat(frag)
		switch {
		case shardErr == nil:
			r, err := Open(shard, nil)
			if err != nil {
				t.Fatalf("trial %d (killed after line %d): published shard unreadable: %v", trial, k, err)
			}
			if err := r.Verify(); err != nil || r.Rows() != childRows {
				t.Fatalf("trial %d: published shard has %d rows: %v", trial, r.Rows(), err)
			}
			r.Close()
			published++
			// Without its fragment the shard does not count as finished.
			if _, err := Combine(dir, nil); (fragErr == nil) != (err == nil) || err != nil && !errors.Is(err, ErrMissing) {
				t.Fatalf("trial %d: fragment present %v, Combine: %v", trial, fragErr == nil, err)
			}
		case fragErr == nil:
			t.Fatalf("trial %d: a fragment without its shard", trial)
		}
		temps := tempFiles(t, dir)
		partial += len(temps)
		if _, err := CleanTemp(dir, 0); err != nil {
			t.Fatal(err)
		}
		if left := tempFiles(t, dir); len(left) != 0 {
			t.Fatalf("trial %d: temporary files after CleanTemp: %v", trial, left)
		}
	}
	t.Logf("16 kills: %d left a published shard, %d a temporary file (both when killed while writing the fragment)", published, partial)
	if partial == 0 {
		t.Error("no kill landed while a temporary file existed; the test did not test anything")
	}
}
