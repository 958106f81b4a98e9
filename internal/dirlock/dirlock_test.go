package dirlock

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHelperHoldLock is not a test: run as a child process (with
// DIRLOCK_HOLD set), it takes the lock, says so and holds it until killed
// or until its stdin closes.
func TestHelperHoldLock(t *testing.T) {
	dir := os.Getenv("DIRLOCK_HOLD")
	if dir == "" {
		t.Skip("helper process")
	}
	l, err := Acquire(dir, "lock", "holder test")
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	bufio.NewReader(os.Stdin).ReadString('\n')
	l.Release()
	os.Exit(0)
}

// holder starts a child process that holds dir's lock.
func holder(t *testing.T, dir string) *exec.Cmd {
	t.Helper()
	c := exec.Command(os.Args[0], "-test.run=^TestHelperHoldLock$")
	c.Env = append(os.Environ(), "DIRLOCK_HOLD="+dir)
	stdin, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); c.Process.Kill(); c.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "locked" {
		t.Fatalf("holder process: %q", line)
	}
	return c
}

func TestAcquireRelease(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir, "lock", "autofreeze train")
	if err != nil {
		t.Fatal(err)
	}
	if l.Stale != nil {
		t.Errorf("a fresh lock reports a stale holder %v", l.Stale)
	}
	h, err := Read(dir, "lock")
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if h.PID != os.Getpid() || h.Host != host || h.Command != "autofreeze train" || h.Since.IsZero() {
		t.Errorf("record %+v", h)
	}
	// A second lock, even from this process, is refused with who holds it.
	_, err = Acquire(dir, "lock", "autofreeze train")
	var held *HeldError
	if !errors.As(err, &held) || !errors.Is(err, ErrHeld) || held.Holder.PID != os.Getpid() {
		t.Fatalf("second Acquire: %v", err)
	}
	want := fmt.Sprintf("%s is in use by pid %d on host %s since ", dir, os.Getpid(), host)
	if msg := err.Error(); !strings.HasPrefix(msg, want) || !strings.HasSuffix(msg, "(autofreeze train); wait for it or stop it") {
		t.Errorf("message %q, want it to start %q", msg, want)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "lock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Release left the lock file: %v", err)
	}
	l2, err := Acquire(dir, "lock", "again")
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	l2.Release()
}

// TestStaleLockTakenOver: a lock whose holder was killed is free, and the
// next holder learns whose it was; while the holder runs, it is refused.
func TestStaleLockTakenOver(t *testing.T) {
	dir := t.TempDir()
	c := holder(t, dir)
	_, err := Acquire(dir, "lock", "second")
	var held *HeldError
	if !errors.As(err, &held) || held.Holder.PID != c.Process.Pid || held.Holder.Command != "holder test" {
		t.Fatalf("Acquire while another process holds the lock: %v", err)
	}
	if gone, err := Abandoned(dir, "lock"); err != nil || gone {
		t.Fatalf("Abandoned while held: %v, %v", gone, err)
	}
	c.Process.Kill()
	c.Wait()
	if gone, err := Abandoned(dir, "lock"); err != nil || !gone {
		t.Fatalf("Abandoned after the holder was killed: %v, %v", gone, err)
	}
	l, err := Acquire(dir, "lock", "second")
	if err != nil {
		t.Fatalf("Acquire after the holder was killed: %v", err)
	}
	defer l.Release()
	if l.Stale == nil || l.Stale.PID != c.Process.Pid {
		t.Errorf("the take-over does not report the dead holder: %+v", l.Stale)
	}
	if h, _ := Read(dir, "lock"); h.PID != os.Getpid() || h.Command != "second" {
		t.Errorf("the record still names the dead holder: %+v", h)
	}
}

// TestAliveWithoutFlock: on a file system without flock the record
// decides: a dead pid on this host, or another host's record without a
// recent heartbeat, is stale.
func TestAliveWithoutFlock(t *testing.T) {
	host, _ := os.Hostname()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("no true(1):", err)
	}
	now := time.Now()
	for _, tc := range []struct {
		name string
		h    Holder
		want bool
	}{
		{"this process", Holder{PID: os.Getpid(), Host: host}, true},
		{"a dead pid here", Holder{PID: dead.Process.Pid, Host: host}, false},
		{"no record", Holder{}, false},
		{"another host, fresh heartbeat", Holder{PID: 1, Host: host + "-other", Updated: now.Add(-time.Minute)}, true},
		{"another host, no heartbeat", Holder{PID: 1, Host: host + "-other", Updated: now.Add(-StaleAfter - time.Minute)}, false},
	} {
		if got := alive(tc.h, host); got != tc.want {
			t.Errorf("%s: alive = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestAbandonedWithoutFile(t *testing.T) {
	if gone, err := Abandoned(t.TempDir(), "lock"); err != nil || gone {
		t.Fatalf("Abandoned without a lock file: %v, %v", gone, err)
	}
}
