package text

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autofreeze/autofreeze/internal/testenv"
)

// repoRoot is the directory holding go.mod.
func repoRoot(t testing.TB) string { return testenv.Root(t) }

// modelDir is the real model's directory; the test skips when it is missing.
func modelDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), ".deps", "models", "all-minilm-l6-v2")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("%s is missing: run `make setup`", dir)
	}
	return dir
}

// tinyVocab is a vocabulary small enough to read: ids are line numbers.
var tinyVocab = []string{
	"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", // 0-4
	"the", "movie", "was", "great", "!", // 5-9
	",", ".", "un", "##believ", "##able", // 10-14
	"cafe", "naive", "我", "好", "##s", // 15-19
	"a", "##b", "##c", "b", "'", // 20-24
	"s", "<", ">", "br", "/", // 25-29
}

func tinyTokenizer(t testing.TB, cfg Config) *Tokenizer {
	t.Helper()
	tok, err := NewTokenizer(tinyVocab, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// writeFiles creates a directory holding the given files.
func writeFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// readLines splits a testdata file on "\n" only: its lines hold other separators.
func readLines(t testing.TB, name string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}
