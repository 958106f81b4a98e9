package run

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/autofreeze/autofreeze/internal/tinymodel"
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/text"
	"github.com/autofreeze/autofreeze/trainable"
)

func tinyFiles(t *testing.T) (dir, modelDir, train, eval string) {
	t.Helper()
	dir = t.TempDir()
	modelDir, train, eval = filepath.Join(dir, "model"), filepath.Join(dir, "train.csv"), filepath.Join(dir, "eval.csv")
	if err := tinymodel.WriteModel(modelDir, 3); err != nil {
		t.Fatal(err)
	}
	if err := tinymodel.WriteCSV(train, 64, 4); err != nil {
		t.Fatal(err)
	}
	if err := tinymodel.WriteCSV(eval, 24, 5); err != nil {
		t.Fatal(err)
	}
	return
}

// TestPredictAfterSaveLoad: the logits `predict` computes from a saved
// checkpoint are bit-identical to those of the model before saving.
func TestPredictAfterSaveLoad(t *testing.T) {
	dir, modelDir, _, eval := tinyFiles(t)
	cfg, err := model.LoadConfig(modelDir)
	if err != nil {
		t.Fatal(err)
	}
	w, err := model.LoadWeights(modelDir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	trainable.SetThreads(1)
	enc, err := trainable.New(cfg, w.Tensors, 2, trainable.Options{Seed: 9}) // a random head
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	tok, err := text.LoadTokenizer(modelDir)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := text.LoadDataset(eval, text.DatasetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := newSplit(ds, tok, nil, 32)
	if err != nil {
		t.Fatal(err)
	}
	_, want, err := evaluate(enc, tok, s, 7)
	if err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(dir, "ckpt")
	os.Mkdir(ckpt, 0o755)
	if err := writeModelDir(ckpt, modelDir, enc, []string{"neg", "pos"}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "preds.jsonl")
	n, err := Predict(InferenceConfig{Model: ckpt, Data: eval, MaxLength: 32, BatchSize: 7}, out)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Fatalf("%d predictions for %d examples", n, len(want))
	}
	f, _ := os.Open(out)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for i := 0; sc.Scan(); i++ {
		var p Prediction
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		for j := range p.Logits {
			if p.Logits[j] != want[i][j] {
				t.Fatalf("example %d logit %d: predict %v, before saving %v", i, j, p.Logits[j], want[i][j])
			}
		}
	}
}
