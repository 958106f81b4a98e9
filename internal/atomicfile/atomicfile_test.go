package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWritePublishesWholeFilesOnly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.json")
	if err := WriteFile(path, []byte("v1")); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != FileMode {
		t.Errorf("published with mode %v, want %v", st.Mode().Perm(), os.FileMode(FileMode))
	}
	// A failed write leaves the old content and no temporary file.
	boom := errors.New("disk on fire")
	err = Write(path, func(w io.Writer) error {
		w.Write([]byte("half of v2"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "v1" {
		t.Fatalf("old content replaced by %q", data)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
}

func TestCleanRemovesLeftovers(t *testing.T) {
	dir := t.TempDir()
	leftover := filepath.Join(dir, ".model.safetensors.123"+TempSuffix)
	os.WriteFile(leftover, []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "keep.json"), []byte("x"), 0o644)
	removed, err := Clean(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 {
		t.Fatalf("removed %v", removed)
	}
	if _, err := os.Stat(filepath.Join(dir, "keep.json")); err != nil {
		t.Fatal("removed a published file")
	}
}
