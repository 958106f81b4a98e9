// Package testenv finds what the tests of frozen and frozen/export need:
// the repository's .deps (ONNX Runtime, the MiniLM weights, the reference
// export, the onnx checker's venv), and makes tiny random BERT models that
// need nothing. Tests skip, saying to run make setup, when a file is absent.
package testenv

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	roottestenv "github.com/autofreeze/autofreeze/internal/testenv"
	"github.com/autofreeze/autofreeze/model"
)

// RepoRoot is the directory holding go.mod (see internal/testenv).
func RepoRoot(t testing.TB) string { return roottestenv.Root(t) }

// Deps returns the path of rel under .deps, skipping the test when absent.
func Deps(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(RepoRoot(t), ".deps", rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s is missing: run make setup", p)
	}
	return p
}

// ORTLib is the ONNX Runtime library the tests use: $ORT_LIB when set, else
// .deps/onnxruntime/lib/libonnxruntime.so.1.
func ORTLib(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("ORT_LIB"); p != "" {
		return p
	}
	return Deps(t, "onnxruntime/lib/libonnxruntime.so.1")
}

// MiniLMDir is the all-MiniLM-L6-v2 model directory.
func MiniLMDir(t testing.TB) string {
	t.Helper()
	return Deps(t, "models/all-minilm-l6-v2")
}

// MiniLM loads all-MiniLM-L6-v2's config and weights.
func MiniLM(t testing.TB) (*model.Config, map[string]*model.Tensor) {
	t.Helper()
	dir := MiniLMDir(t)
	cfg, err := model.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	w, err := model.LoadWeights(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, w.Tensors
}

// ReferenceONNX is the official ONNX export of all-MiniLM-L6-v2, which
// nobody here wrote.
func ReferenceONNX(t testing.TB) string {
	t.Helper()
	return Deps(t, "reference/all-minilm-l6-v2.onnx")
}

// CheckONNX runs the PyPI onnx package's checker (full_check) on each file,
// in one Python process, and fails the test for each file it rejects. It
// skips when .deps/venv (scripts/requirements-check.txt) is absent.
func CheckONNX(t testing.TB, files ...string) {
	t.Helper()
	py := filepath.Join(RepoRoot(t), ".deps", "venv", "bin", "python")
	if _, err := os.Stat(py); err != nil {
		t.Skipf("%s is missing: run make setup (python3 -m venv .deps/venv && .deps/venv/bin/pip install --require-hashes --only-binary=:all: -r scripts/requirements-check.txt)", py)
	}
	const script = `
import sys, onnx
bad = 0
for f in sys.argv[1:]:
    try:
        onnx.checker.check_model(f, full_check=True)
    except Exception as e:
        bad += 1
        print("FAIL %s: %s" % (f, str(e).replace("\n", " | ")))
sys.exit(1 if bad else 0)
`
	var out bytes.Buffer
	cmd := exec.Command(py, append([]string{"-c", script}, files...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Errorf("onnx.checker rejected files (%v):\n%s", err, strings.TrimSpace(out.String()))
	}
}

// TinyConfig is a 3-layer BERT small enough to export in microseconds.
func TinyConfig(t testing.TB) *model.Config {
	t.Helper()
	cfg, err := model.ParseConfig("tiny/config.json", []byte(`{
		"model_type": "bert", "vocab_size": 40, "hidden_size": 8,
		"num_hidden_layers": 3, "num_attention_heads": 2,
		"intermediate_size": 16, "max_position_embeddings": 16,
		"type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu"}`))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// RandomWeights fills every encoder tensor of cfg with values drawn from
// seed, about the size of a trained BERT's.
func RandomWeights(cfg *model.Config, seed uint64) map[string]*model.Tensor {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := map[string]*model.Tensor{}
	for _, p := range cfg.EncoderParams() {
		t := &model.Tensor{Shape: p.Shape, Data: make([]float32, model.NumElements(p.Shape))}
		for i := range t.Data {
			t.Data[i] = float32(rng.NormFloat64() * 0.2)
		}
		if strings.HasSuffix(p.Name, "LayerNorm.weight") {
			for i := range t.Data {
				t.Data[i] += 1
			}
		}
		out[p.Name] = t
	}
	return out
}

// Name is a file name for a layer range and form, for test output.
func Name(r model.Range, fused bool, suffix string) string {
	form := "plain"
	if fused {
		form = "fused"
	}
	return fmt.Sprintf("layers_%d_%d_%s%s", r.Start, r.End, form, suffix)
}
