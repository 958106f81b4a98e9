package frozen

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/autofreeze/autofreeze/internal/dirlock"
)

// Temporary exports (ExportTemp) live in one directory per user,
// $TMPDIR/autofreeze-<uid>, each in its own export-<pid>-<random>
// subdirectory that its process locks (package dirlock) for as long as it
// exists. A process that is killed cannot remove its export (tens of MB to
// GB); the next ExportTemp of any autofreeze process removes every export
// whose owner no longer runs.

const (
	exportPrefix = "export-"
	ownerFile    = ".owner"
	// An owner file younger than this is not probed: its process may
	// have created it and not locked it yet. An export without an owner
	// file (its process was killed in the instant between making the
	// directory and locking it) is swept after unownedAge.
	sweepMinAge = 10 * time.Second
	unownedAge  = time.Hour
)

// TempRoot is the directory that holds this user's temporary exports.
func TempRoot() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("autofreeze-%d", os.Getuid()))
}

// tempRoot makes TempRoot, private to this user, and checks that it is
// (a directory someone else made in a shared /tmp is refused).
func tempRoot() (string, error) {
	root := TempRoot()
	if err := os.Mkdir(root, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", err
	}
	fi, err := os.Lstat(root)
	if err != nil {
		return "", err
	}
	owner := os.Getuid()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		owner = int(st.Uid)
	}
	if !fi.IsDir() || owner != os.Getuid() || fi.Mode().Perm()&0o022 != 0 {
		return "", fmt.Errorf("%s is not a private directory of this user (it is %v, owned by uid %d): remove it, or set TMPDIR to another directory", root, fi.Mode(), owner)
	}
	return root, nil
}

// newExportDir makes a private directory for one export, locked by this
// process, after sweeping the exports of processes that are gone.
func newExportDir() (string, *dirlock.Lock, error) {
	root, err := tempRoot()
	if err != nil {
		return "", nil, err
	}
	SweepTemp()
	dir, err := os.MkdirTemp(root, fmt.Sprintf("%s%d-", exportPrefix, os.Getpid()))
	if err != nil {
		return "", nil, err
	}
	lock, err := dirlock.Acquire(dir, ownerFile, "autofreeze export")
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return dir, lock, nil
}

// SweepTemp removes the temporary exports under TempRoot whose process no
// longer runs (it was killed before it could remove them), and returns
// them. Exports of live processes are never touched.
func SweepTemp() []string {
	root := TempRoot()
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), exportPrefix) {
			continue
		}
		dir := filepath.Join(root, e.Name())
		owner, err := os.Stat(filepath.Join(dir, ownerFile))
		switch {
		case errors.Is(err, os.ErrNotExist):
			if fi, err := e.Info(); err != nil || time.Since(fi.ModTime()) < unownedAge {
				continue
			}
		case err != nil || time.Since(owner.ModTime()) < sweepMinAge:
			continue
		default:
			if gone, err := dirlock.Abandoned(dir, ownerFile); err != nil || !gone {
				continue
			}
		}
		if os.RemoveAll(dir) == nil {
			removed = append(removed, dir)
		}
	}
	return removed
}
