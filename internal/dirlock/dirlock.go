// Package dirlock makes a directory (a training run, one shard of an
// activation cache, a temporary export) one process's at a time. The lock is
// an advisory flock(2) on a file in the directory, which also records who
// holds it (pid, host, start time, command), so a second process can say
// whom it would wait for instead of destroying the first one's work.
//
// The kernel releases a flock when its holder dies, however it dies, so a
// lock file left behind by a killed process is stale and is taken over by
// the next Acquire. On file systems that do not support flock, Acquire falls
// back to the record itself: a holder is alive while its pid runs (on this
// host) or while it refreshes the record (on another host: every Heartbeat,
// taken for dead after StaleAfter without one).
package dirlock

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Heartbeat is how often a holder rewrites its record; StaleAfter is how
// old a record of another host must be for a lock without flock support to
// count as abandoned.
const (
	Heartbeat  = time.Minute
	StaleAfter = 5 * time.Minute
)

// ErrHeld is wrapped by the error Acquire returns when another live
// process holds the lock.
var ErrHeld = errors.New("directory in use")

// Holder is who holds (or held) a lock.
type Holder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Since   time.Time `json:"since"`
	Command string    `json:"command,omitempty"`
	// Updated is when the holder last rewrote the record (Heartbeat).
	Updated time.Time `json:"updated"`
}

func (h Holder) String() string {
	s := fmt.Sprintf("pid %d on host %s since %s", h.PID, h.Host, h.Since.Local().Format(time.DateTime))
	if h.Command != "" {
		s += " (" + h.Command + ")"
	}
	return s
}

// HeldError says that a live process holds the lock on Dir.
type HeldError struct {
	Dir, Path string
	Holder    Holder
	// Unverified: the file system has no flock, and the holder runs on
	// another host, so whether it still runs is inferred from its
	// heartbeat.
	Unverified bool
}

func (e *HeldError) Error() string {
	if e.Holder.PID == 0 { // the holder has not written its record yet
		return fmt.Sprintf("%s is in use by another process (%s is locked); wait for it or stop it", e.Dir, e.Path)
	}
	msg := fmt.Sprintf("%s is in use by %s; wait for it or stop it", e.Dir, e.Holder)
	if e.Unverified {
		msg += fmt.Sprintf(" (if it no longer runs, remove %s)", e.Path)
	}
	return msg
}

func (e *HeldError) Unwrap() error { return ErrHeld }

// Lock is a held lock; Release gives it back.
type Lock struct {
	path string
	f    *os.File
	rec  Holder
	// Stale is the record of a dead holder this lock was taken over from
	// (nil: the lock was free).
	Stale *Holder

	mu       sync.Mutex
	stop     chan struct{}
	done     chan struct{}
	released bool
}

// Path is the lock file.
func (l *Lock) Path() string { return l.path }

// Acquire locks dir (which must exist) through the file dir/name, recording
// this process as the holder with command (say "autofreeze train"). It
// fails at once, with a *HeldError, if a live process holds it.
func Acquire(dir, name, command string) (*Lock, error) {
	path := filepath.Join(dir, name)
	host, _ := os.Hostname()
	now := time.Now().UTC().Truncate(time.Second)
	rec := Holder{PID: os.Getpid(), Host: host, Since: now, Command: command, Updated: now}
	// The holder removes its file when it releases the lock: a process
	// that locked the file just before that holds an unlinked file, so
	// it checks that the path still names what it locked, and retries.
	for attempt := 0; ; attempt++ {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		flocked := true
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			if errors.Is(err, syscall.EWOULDBLOCK) {
				prev, _ := readHolder(f)
				f.Close()
				return nil, &HeldError{Dir: dir, Path: path, Holder: prev}
			}
			if !noFlock(err) {
				f.Close()
				return nil, fmt.Errorf("locking %s: %w", path, err)
			}
			flocked = false
		}
		if flocked && !samePath(f, path) {
			f.Close()
			if attempt < 10 {
				continue
			}
			return nil, fmt.Errorf("locking %s: the file keeps being replaced", path)
		}
		prev, perr := readHolder(f)
		if !flocked && perr == nil && alive(prev, host) {
			f.Close()
			return nil, &HeldError{Dir: dir, Path: path, Holder: prev, Unverified: prev.Host != host}
		}
		l := &Lock{path: path, f: f, rec: rec, stop: make(chan struct{}), done: make(chan struct{})}
		if perr == nil && prev.PID != 0 {
			l.Stale = &prev
		}
		if err := l.write(); err != nil {
			f.Close()
			return nil, fmt.Errorf("writing %s: %w", path, err)
		}
		go l.heartbeat()
		return l, nil
	}
}

// noFlock reports whether err says the file system cannot flock.
func noFlock(err error) bool {
	return errors.Is(err, syscall.ENOLCK) || errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EINVAL)
}

// samePath reports whether path still names the open file f.
func samePath(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

// alive says whether the holder of a record still runs, for file systems
// without flock.
func alive(h Holder, host string) bool {
	if h.PID == 0 {
		return false
	}
	if h.Host == host {
		return PIDAlive(h.PID)
	}
	return time.Since(h.Updated) < StaleAfter
}

// PIDAlive reports whether a process with this pid exists on this host.
func PIDAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func readHolder(f *os.File) (Holder, error) {
	var h Holder
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<16))
	if err != nil {
		return h, err
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return h, errors.New("empty lock file")
	}
	err = json.Unmarshal(data, &h)
	return h, err
}

// Read returns the record of the lock file dir/name, whoever holds it (or
// held it last).
func Read(dir, name string) (Holder, error) {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return Holder{}, err
	}
	defer f.Close()
	return readHolder(f)
}

func (l *Lock) write() error {
	data, err := json.Marshal(l.rec)
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if err := l.f.Truncate(0); err != nil {
		return err
	}
	if _, err := l.f.WriteAt(data, 0); err != nil {
		return err
	}
	return nil
}

// heartbeat refreshes the record (and so the file's modification time)
// until the lock is released.
func (l *Lock) heartbeat() {
	defer close(l.done)
	t := time.NewTicker(Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.mu.Lock()
			if !l.released {
				l.rec.Updated = time.Now().UTC().Truncate(time.Second)
				l.write() // best effort: a failed refresh only ages the record
			}
			l.mu.Unlock()
		}
	}
}

// Release removes the lock file and unlocks it. It is safe to call more
// than once, and on a nil Lock.
func (l *Lock) Release() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return nil
	}
	l.released = true
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	// Removed while still locked: a process waiting to lock it finds the
	// path gone (or a new file) and starts again.
	err := os.Remove(l.path)
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Abandoned reports whether the lock file dir/name exists and no live
// process holds it (its holder died without releasing it). It never takes
// the lock: it is for sweeping leftovers, with a margin of age against a
// holder that created the file and has not locked it yet.
func Abandoned(dir, name string) (bool, error) {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	switch {
	case err == nil:
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return true, nil
	case errors.Is(err, syscall.EWOULDBLOCK):
		return false, nil
	case noFlock(err):
		h, rerr := readHolder(f)
		if rerr != nil {
			return false, nil
		}
		host, _ := os.Hostname()
		return !alive(h, host), nil
	}
	return false, err
}
