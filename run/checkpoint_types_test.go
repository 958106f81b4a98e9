package run

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/autofreeze/autofreeze/internal/testenv"
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/model/modeltest"
	"github.com/autofreeze/autofreeze/trainable"
)

// A checkpoint of every model type, written after a training step with a
// new two-label head, reads back in Go to the same tensors and config, and
// loads in transformers (scripts/check_checkpoint_roundtrip.py, in the
// venv of scripts/pytorch_venv.sh) as that type's
// *ForSequenceClassification with no missing or unexpected tensors and the
// logits autofreeze computes. The transformers half skips without the venv.
func TestCheckpointTypesRoundTrip(t *testing.T) {
	python := filepath.Join(testenv.Deps(t), "pytorch-venv", "bin", "python")
	_, venvErr := os.Stat(python)
	script := filepath.Join(testenv.Root(t), "scripts", "check_checkpoint_roundtrip.py")
	for _, typ := range modeltest.Types {
		t.Run(typ, func(t *testing.T) {
			f := modeltest.Load(t, typ)
			labels := []string{"neg", "pos"}
			enc, err := trainable.New(f.Config, f.Weights.Tensors, len(labels), trainable.Options{Seed: 7})
			if err != nil {
				t.Fatal(err)
			}
			defer enc.Close()
			tr := trainable.NewTrainer(enc, trainable.OptimConfig{})
			b := f.Batches[0]
			if _, err := tr.Backward(b, nil, 0, make([]int64, b.Size), 1); err != nil {
				t.Fatal(err)
			}
			if _, err := tr.Step(1e-2); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := writeModelDir(dir, f.Dir, enc, labels); err != nil {
				t.Fatal(err)
			}

			cfg, err := model.LoadConfig(dir)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ModelType != typ || !reflect.DeepEqual(cfg.Labels, labels) || cfg.HiddenSize != f.Config.HiddenSize || cfg.Architecture() != f.Config.Architecture() {
				t.Errorf("config read back: type %q, labels %v, hidden %d", cfg.ModelType, cfg.Labels, cfg.HiddenSize)
			}
			back, err := model.LoadWeights(dir, cfg)
			if err != nil {
				t.Fatal(err)
			}
			want, err := enc.Weights()
			if err != nil {
				t.Fatal(err)
			}
			if len(back.Tensors) != len(want) {
				t.Errorf("read back %d tensors, wrote %d", len(back.Tensors), len(want))
			}
			for name, w := range want {
				if g, ok := back.Tensors[name]; !ok || !reflect.DeepEqual(g.Data, w.Data) {
					t.Errorf("tensor %s did not read back identical", name)
				}
			}

			if venvErr != nil {
				t.Skipf("transformers half skipped: %s is missing (scripts/pytorch_venv.sh builds the venv); run it by hand with scripts/check_checkpoint_roundtrip.py", python)
			}
			type batch struct {
				IDs    [][]int64   `json:"input_ids"`
				Mask   [][]int64   `json:"attention_mask"`
				Types  [][]int64   `json:"token_type_ids,omitempty"`
				Logits [][]float32 `json:"logits"`
			}
			expected := struct {
				Tolerance float64 `json:"tolerance"`
				Batches   []batch `json:"batches"`
			}{Tolerance: 1e-4}
			rows := func(xs []int64, n int) (out [][]int64) {
				for i := 0; i < len(xs); i += n {
					out = append(out, xs[i:i+n])
				}
				return out
			}
			for _, b := range f.Batches {
				logits, err := enc.Logits(b)
				if err != nil {
					t.Fatal(err)
				}
				eb := batch{IDs: rows(b.IDs, b.SeqLen), Mask: rows(b.Mask, b.SeqLen)}
				if cfg.HasTokenTypes() {
					eb.Types = rows(b.TypeIDs, b.SeqLen)
				}
				for i := 0; i < b.Size; i++ {
					eb.Logits = append(eb.Logits, logits[i*len(labels):(i+1)*len(labels)])
				}
				expected.Batches = append(expected.Batches, eb)
			}
			data, err := json.Marshal(expected)
			if err != nil {
				t.Fatal(err)
			}
			expPath := filepath.Join(t.TempDir(), "expected.json")
			if err := os.WriteFile(expPath, data, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(python, script, dir, expPath).CombinedOutput()
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			t.Logf("transformers: %s", lines[len(lines)-1])
			if err != nil {
				t.Errorf("%s failed (%v):\n%s", filepath.Base(script), err, out)
			}
		})
	}
}
