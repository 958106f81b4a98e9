// Package testenv finds what `make setup` installed, for tests: the
// repository root, the default model, the data, the native libraries. Tests
// skip, saying to run `make setup`, when something is missing.
package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// Root is the repository root: the nearest directory above the working
// directory that holds go.mod.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Deps is where setup unpacks everything (AUTOFREEZE_DEPS or ROOT/.deps).
func Deps(t testing.TB) string {
	if d := os.Getenv("AUTOFREEZE_DEPS"); d != "" {
		return d
	}
	return filepath.Join(Root(t), ".deps")
}

// Need returns DEPS/rel, skipping the test when it does not exist.
func Need(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(Deps(t), rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s is missing: run `make setup`", p)
	}
	return p
}

// ModelDir is the default model, all-MiniLM-L6-v2.
func ModelDir(t testing.TB) string { return Need(t, "models/all-minilm-l6-v2") }

// ReferenceONNX is the official ONNX export of the default model's weights.
func ReferenceONNX(t testing.TB) string { return Need(t, "reference/all-minilm-l6-v2.onnx") }

// ORTLib is the ONNX Runtime library: ORT_LIB when set, else setup's.
func ORTLib(t testing.TB) string {
	if p := os.Getenv("ORT_LIB"); p != "" {
		return p
	}
	return Need(t, "onnxruntime/lib/libonnxruntime.so.1")
}

// IMDbDir holds train.jsonl and test.jsonl.
func IMDbDir(t testing.TB) string { return Need(t, "data/imdb") }
