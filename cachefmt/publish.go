package cachefmt

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Files appear under their final names only when complete: they are written under a
// temporary name in the same directory, fsynced, renamed, and the directory is fsynced, so
// a crash leaves either the whole file or none (plus a temporary file CleanTemp removes).

// TempPrefix starts the name of every temporary file this package writes.
const TempPrefix = ".afc-tmp-"

// createTemp opens a new temporary file next to path. Its mode is 0666 less the umask, like
// os.Create, so the published file has ordinary permissions.
func createTemp(path string) (*os.File, error) {
	dir, base := filepath.Split(path)
	for range 100 {
		name := filepath.Join(dir, fmt.Sprintf("%s%s-%016x", TempPrefix, base, rand.Uint64()))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, fmt.Errorf("cachefmt: no free temporary name for %s", path)
}

// publish syncs and closes f, renames it to path and syncs the directory. On failure it
// removes f.
func publish(f *os.File, path string) error {
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return ioError(path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return ioError(path, err)
	}
	return nil
}

func discard(f *os.File) error {
	f.Close()
	return os.Remove(f.Name())
}

// syncDir makes a rename in dir durable. Windows cannot sync directories and does not need to.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeFileAtomic publishes data under path.
func writeFileAtomic(path string, data []byte) error {
	f, err := createTemp(path)
	if err != nil {
		return ioError(path, err)
	}
	if _, err := f.Write(data); err != nil {
		discard(f)
		return ioError(path, err)
	}
	return publish(f, path)
}

// Create starts a shard file that appears at path only when Close succeeds. Until then the
// rows go to a temporary file in the same directory; Abort, a failed Close or a crash leaves
// nothing at path.
func Create(path string, hidden int, opts *WriterOptions) (*Writer, error) {
	return create(path, hidden, opts, nil)
}

func create(path string, hidden int, opts *WriterOptions, after func(*Writer) error) (*Writer, error) {
	var o WriterOptions
	if opts != nil {
		o = *opts
	}
	if o.Name == "" {
		o.Name = path
	}
	f, err := createTemp(path)
	if err != nil {
		return nil, ioError(path, err)
	}
	sum := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(f, sum), 1<<20)
	w, err := NewWriter(bw, hidden, &o)
	if err != nil {
		discard(f)
		return nil, err
	}
	w.onAbort = func() error { return discard(f) }
	w.onClose = func(w *Writer) error {
		if err := bw.Flush(); err != nil {
			discard(f)
			return ioError(path, err)
		}
		copy(w.st.SHA256[:], sum.Sum(nil))
		if err := publish(f, path); err != nil {
			return err
		}
		if after != nil {
			return after(w)
		}
		return nil
	}
	return w, nil
}

// CleanTemp removes the temporary files this package left in dir (from killed or crashed
// writers) whose last modification is older than olderThan; olderThan ≤ 0 removes them all.
// A live writer touches its file at least every MiB it writes, so an age of an hour never
// hits one unless its producer stalls that long. It returns the names removed.
func CleanTemp(dir string, olderThan time.Duration) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, ioError(dir, err)
	}
	var removed []string
	var errs []error
	now := time.Now()
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), TempPrefix) || !e.Type().IsRegular() {
			continue
		}
		if olderThan > 0 {
			info, err := e.Info()
			if err != nil || now.Sub(info.ModTime()) < olderThan {
				continue
			}
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, e.Name())
	}
	return removed, errors.Join(errs...)
}
