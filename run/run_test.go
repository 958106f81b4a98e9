package run

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/autofreeze/autofreeze/cachefmt"
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

// tinyClassifierOn loads the tiny model with a random two-label head
// (seeded) and the unlabelled split of data, tokenized to 32 tokens.
func tinyClassifierOn(t *testing.T, modelDir, data string, seed uint64) (*trainable.Encoder, *text.Tokenizer, *split) {
	t.Helper()
	cfg, err := model.LoadConfig(modelDir)
	if err != nil {
		t.Fatal(err)
	}
	w, err := model.LoadWeights(modelDir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	trainable.SetThreads(1)
	enc, err := trainable.New(cfg, w.Tensors, 2, trainable.Options{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(enc.Close)
	tok, err := text.LoadTokenizer(modelDir)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := text.LoadDataset(data, text.DatasetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := newSplit(ds, tok, nil, model.SingleLabel, 32)
	if err != nil {
		t.Fatal(err)
	}
	return enc, tok, s
}

// TestPredictAfterSaveLoad: the logits `predict` computes from a saved
// checkpoint are bit-identical to those of the model before saving.
func TestPredictAfterSaveLoad(t *testing.T) {
	dir, modelDir, _, eval := tinyFiles(t)
	enc, tok, s := tinyClassifierOn(t, modelDir, eval, 9) // a random head
	_, want, err := evaluate(enc, tok, s, 7)
	if err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(dir, "ckpt")
	os.Mkdir(ckpt, 0o755)
	if err := writeModelDir(ckpt, modelDir, enc, model.SingleLabel, []string{"neg", "pos"}); err != nil {
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

// TestCorruptCacheIsRebuilt: a run resumed from a checkpoint whose
// activation cache no longer verifies rebuilds the cache instead of
// training from it.
func TestCorruptCacheIsRebuilt(t *testing.T) {
	dir, modelDir, train, eval := tinyFiles(t)
	if err := tinymodel.WriteCSV(train, 320, 6); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "run")
	cfg := Config{Model: modelDir, Train: train, Eval: eval, Out: out, Epochs: 3, MaxLength: 24, BatchSize: 16,
		LR: 5e-3, WarmupRatio: 0.1, Threads: 1, Freeze: "auto", FreezeIntervals: 10, Cache: "disk", Engine: "torch"}
	if _, err := Train(context.Background(), cfg, Options{}); err != nil {
		t.Fatal(err)
	}
	st, err := loadTrainerState(filepath.Join(out, "checkpoints", "last"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Cache == nil {
		t.Fatal("the run never trained from a cache; the test needs one")
	}
	shard := filepath.Join(out, st.Cache.Dir, cachefmt.ShardName(0, 1))
	raw, err := os.ReadFile(shard)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/3] ^= 0x40
	if err := os.WriteFile(shard, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Train(context.Background(), cfg, Options{Resume: true}); err != nil {
		t.Fatal(err)
	}
	if err := cachefmt.Verify(filepath.Join(out, st.Cache.Dir), nil); err != nil {
		t.Fatalf("the corrupt cache is still there: %v", err)
	}
	metrics, _ := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	afterResume := metrics[bytes.LastIndex(metrics, []byte(`"type":"resume"`)):]
	if !bytes.Contains(afterResume, []byte(`"event":"built"`)) {
		t.Fatalf("no cache was rebuilt after resuming:\n%s", afterResume)
	}
}

// A run written before the mode, profile and int8 settings existed still
// resumes: the configuration hash of the same settings is unchanged
// (6e93c9e9524fe85e was computed by the code of commit 02621b4).
func TestConfigHashOfOlderRuns(t *testing.T) {
	// Older runs switched caches at the epoch by default (config.yaml records it).
	c := Config{Model: "m", Train: "t.csv", Out: "o", Freeze: "auto", Cache: "disk", CacheSwitch: "epoch"}.WithDefaults()
	if got := configHash(c); got != "6e93c9e9524fe85e" {
		t.Errorf("configHash = %s, want 6e93c9e9524fe85e: checkpoints of older runs would no longer resume", got)
	}
	c.Mode, c.Profile = "efficiency", "profile.json"
	if got := configHash(c); got != "6e93c9e9524fe85e" {
		t.Errorf("the mode changes the hash (%s): a run could not resume in another mode", got)
	}
	c.Int8 = true
	if configHash(c) == "6e93c9e9524fe85e" {
		t.Error("int8 does not change the hash, but it changes what the suffix trains on")
	}
}
