// Package modeltest reads the reference fixtures of model/testdata/<type>/,
// tiny random models of each non-BERT model type with the hidden states and
// logits transformers computes for them (scripts/make_model_fixtures.py),
// so that the libtorch encoder, the ONNX export and the checkpoint writer
// are all tested against the same answers. It is for tests only.
package modeltest

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/autofreeze/autofreeze/internal/testenv"
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/text"
)

// Types are the model types with fixtures.
var Types = []string{model.TypeDistilBERT, model.TypeRoBERTa, model.TypeXLMRoBERTa, model.TypeELECTRA}

// Fixture is one model type's tiny model and its references.
type Fixture struct {
	Type    string
	Dir     string
	Config  *model.Config
	Weights *model.Weights
	// Batches are padded batches of token ids; TypeIDs are all 0 for
	// types without token types.
	Batches   []text.Batch
	reference map[string]*model.Tensor
}

// Dir is model/testdata/<typ>.
func Dir(t testing.TB, typ string) string {
	t.Helper()
	return filepath.Join(testenv.Root(t), "model", "testdata", typ)
}

// Load reads the fixture of model type typ, failing the test when it is
// missing (the fixtures are committed).
func Load(t testing.TB, typ string) *Fixture {
	t.Helper()
	dir := Dir(t, typ)
	cfg, err := model.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	w, err := model.LoadWeights(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &Fixture{Type: typ, Dir: dir, Config: cfg, Weights: w}
	if f.Batches, err = readInputs(filepath.Join(dir, "inputs.json")); err != nil {
		t.Fatal(err)
	}
	if f.reference, err = model.ReadSafetensors(filepath.Join(dir, "reference.safetensors")); err != nil {
		t.Fatal(err)
	}
	return f
}

func readInputs(path string) ([]text.Batch, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var file struct {
		Batches []struct {
			IDs   [][]int64 `json:"input_ids"`
			Mask  [][]int64 `json:"attention_mask"`
			Types [][]int64 `json:"token_type_ids"`
		} `json:"batches"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []text.Batch
	for i, in := range file.Batches {
		b := text.Batch{Size: len(in.IDs)}
		if b.Size == 0 || len(in.Mask) != b.Size || len(in.Types) != b.Size {
			return nil, fmt.Errorf("%s: batch %d: %d rows of ids, %d of mask, %d of types", path, i, len(in.IDs), len(in.Mask), len(in.Types))
		}
		b.SeqLen = len(in.IDs[0])
		for r := range in.IDs {
			if len(in.IDs[r]) != b.SeqLen || len(in.Mask[r]) != b.SeqLen || len(in.Types[r]) != b.SeqLen {
				return nil, fmt.Errorf("%s: batch %d row %d is not %d long", path, i, r, b.SeqLen)
			}
			b.IDs = append(b.IDs, in.IDs[r]...)
			b.Mask = append(b.Mask, in.Mask[r]...)
			b.TypeIDs = append(b.TypeIDs, in.Types[r]...)
			n := 0
			for _, m := range in.Mask[r] {
				n += int(m)
			}
			b.Lengths = append(b.Lengths, n)
		}
		out = append(out, b)
	}
	return out, nil
}

func (f *Fixture) tensor(t testing.TB, name string) []float32 {
	t.Helper()
	x, ok := f.reference[name]
	if !ok {
		t.Fatalf("%s: reference.safetensors has no %q: regenerate the fixtures", f.Dir, name)
	}
	return x.Data
}

// Hidden is the reference hidden states entering layer j of batch i
// ([size, seq, hidden], row-major): j = 0 is the embeddings' output (after
// ELECTRA's projection), j = NumLayers the last layer's output.
func (f *Fixture) Hidden(t testing.TB, i, j int) []float32 {
	t.Helper()
	return f.tensor(t, fmt.Sprintf("batch%d.hidden.%d", i, j))
}

// Logits is the reference [size, num_labels] logits of batch i.
func (f *Fixture) Logits(t testing.TB, i int) []float32 {
	t.Helper()
	return f.tensor(t, fmt.Sprintf("batch%d.logits", i))
}

// NumLabels is the size of the fixture's classification head.
func (f *Fixture) NumLabels() int { return len(f.Config.Labels) }

// MaxDiff is the largest |a-b| over the positions whose mask is 1 (every
// position when mask is nil), each position holding width values. It fails
// the test on a length mismatch or a NaN.
func MaxDiff(t testing.TB, a, b []float32, mask []int64, width int) float64 {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("lengths %d and %d", len(a), len(b))
	}
	var d float64
	for i := range a {
		if mask != nil && mask[i/width] == 0 {
			continue
		}
		if math.IsNaN(float64(a[i])) || math.IsNaN(float64(b[i])) {
			t.Fatalf("NaN at %d", i)
		}
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}
