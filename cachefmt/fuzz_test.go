package cachefmt

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReader feeds arbitrary bytes to the reader: it must never panic, every failure must be
// classified (corrupt or version), and whatever reads without error must be exactly the rows
// the test generator wrote (checkRow), so a mutation that slips past the checks is caught as
// wrong data. Seeds: the version-1 fixtures in testdata/, intact and cut short.
//
//	go test -run '^$' -fuzz FuzzReader -fuzztime 60s ./cachefmt/
func FuzzReader(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.afc"))
	more, _ := filepath.Glob(filepath.Join("testdata", "v1-cache", "*.afc"))
	for _, p := range append(paths, more...) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(data[:len(data)/2])
		f.Add(data[:len(data)-1])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := readAllRows(data)
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
			t.Fatalf("unclassified error: %v", err)
		}
	})
}
