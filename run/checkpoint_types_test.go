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
	"github.com/autofreeze/autofreeze/text"
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
			if err := writeModelDir(dir, f.Dir, enc, model.SingleLabel, labels); err != nil {
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
			checkInTransformers(t, python, dir, enc, f.Batches, nil)
		})
	}
}

// checkInTransformers runs scripts/check_checkpoint_roundtrip.py on the
// checkpoint in dir with enc's logits on batches and, when targets is not
// nil, the targets of each batch and enc's loss on them (computed without
// dropout, as transformers does in eval mode).
func checkInTransformers(t *testing.T, python, dir string, enc *trainable.Encoder, batches []text.Batch, targets []trainable.Targets) {
	t.Helper()
	type batch struct {
		IDs    [][]int64   `json:"input_ids"`
		Mask   [][]int64   `json:"attention_mask"`
		Types  [][]int64   `json:"token_type_ids,omitempty"`
		Logits [][]float32 `json:"logits"`
		Labels any         `json:"labels,omitempty"`
		Loss   *float64    `json:"loss,omitempty"`
	}
	expected := struct {
		Tolerance float64 `json:"tolerance"`
		Problem   string  `json:"problem_type,omitempty"`
		Batches   []batch `json:"batches"`
	}{Tolerance: 1e-4}
	rows := func(xs []int64, n int) (out [][]int64) {
		for i := 0; i < len(xs); i += n {
			out = append(out, xs[i:i+n])
		}
		return out
	}
	n := enc.NumLabels()
	for i, b := range batches {
		logits, err := enc.Logits(b)
		if err != nil {
			t.Fatal(err)
		}
		eb := batch{IDs: rows(b.IDs, b.SeqLen), Mask: rows(b.Mask, b.SeqLen)}
		if enc.Config().HasTokenTypes() {
			eb.Types = rows(b.TypeIDs, b.SeqLen)
		}
		for r := 0; r < b.Size; r++ {
			eb.Logits = append(eb.Logits, logits[r*n:(r+1)*n])
		}
		if targets != nil {
			tg := targets[i]
			expected.Problem = string(tg.Problem)
			switch tg.Problem {
			case model.MultiLabel:
				var ys [][]float32
				for r := 0; r < b.Size; r++ {
					ys = append(ys, tg.Values[r*n:(r+1)*n])
				}
				eb.Labels = ys
			case model.Regression:
				eb.Labels = tg.Values
			default:
				eb.Labels = tg.Classes
			}
			tr := trainable.NewTrainer(enc, trainable.OptimConfig{NoDropout: true})
			loss, err := tr.BackwardTargets(b, nil, 0, tg, 1)
			if err != nil {
				t.Fatal(err)
			}
			if err := tr.ZeroGrads(); err != nil {
				t.Fatal(err)
			}
			eb.Loss = &loss
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
	script := filepath.Join(testenv.Root(t), "scripts", "check_checkpoint_roundtrip.py")
	out, err := exec.Command(python, script, dir, expPath).CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	t.Logf("transformers: %s", lines[len(lines)-1])
	if err != nil {
		t.Errorf("%s failed (%v):\n%s", filepath.Base(script), err, out)
	}
}

// A multi-label and a regression checkpoint of every model type load in
// transformers with their problem_type, and transformers computes the same
// loss from the same labels (BCEWithLogitsLoss, MSELoss) as autofreeze
// trains on.
func TestProblemCheckpointsInTransformers(t *testing.T) {
	python := filepath.Join(testenv.Deps(t), "pytorch-venv", "bin", "python")
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s is missing (scripts/pytorch_venv.sh builds the venv)", python)
	}
	for _, typ := range modeltest.Types {
		for _, problem := range []model.Problem{model.MultiLabel, model.Regression} {
			t.Run(typ+"/"+problem.Short(), func(t *testing.T) {
				f := modeltest.Load(t, typ)
				labels := []string{"score"}
				if problem == model.MultiLabel {
					labels = []string{"insult", "obscene", "toxic"}
				}
				enc, err := trainable.New(f.Config, f.Weights.Tensors, len(labels), trainable.Options{Seed: 7})
				if err != nil {
					t.Fatal(err)
				}
				defer enc.Close()
				var targets []trainable.Targets
				for _, b := range f.Batches {
					tg := trainable.Targets{Problem: problem}
					for i := range b.Size * len(labels) {
						switch problem {
						case model.MultiLabel:
							tg.Values = append(tg.Values, float32(i*7%3%2)) // a mix of 0s and 1s
						default:
							tg.Values = append(tg.Values, float32(i%5)-1.5)
						}
					}
					targets = append(targets, tg)
				}
				dir := t.TempDir()
				if err := writeModelDir(dir, f.Dir, enc, problem, labels); err != nil {
					t.Fatal(err)
				}
				cfg, err := model.LoadConfig(dir)
				if err != nil {
					t.Fatal(err)
				}
				if cfg.HeadProblem() != problem || !reflect.DeepEqual(cfg.Labels, labels) {
					t.Errorf("config read back: problem %q, labels %v", cfg.Problem, cfg.Labels)
				}
				checkInTransformers(t, python, dir, enc, f.Batches, targets)
			})
		}
	}
}
