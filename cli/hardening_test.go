package cli

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/autofreeze/autofreeze/internal/tinymodel"
	"github.com/autofreeze/autofreeze/model"
)

// Model directories that are wrong in one way each, for TestBadInput.

// hugeLayersModel is the tiny model with a config.json that declares a
// billion layers.
func hugeLayersModel(t *testing.T, dir string) string {
	t.Helper()
	m := filepath.Join(dir, "huge-layers")
	if err := tinymodel.WriteModel(m, 1); err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	data, _ := os.ReadFile(filepath.Join(m, model.ConfigFile))
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["num_hidden_layers"] = 1000000000
	data, _ = json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(m, model.ConfigFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return m
}

// foreignTokenizerModel is the tiny model with a tokenizer.json mapping
// "superb" to id 100, past its 40-row embedding.
func foreignTokenizerModel(t *testing.T, dir string) string {
	t.Helper()
	m := filepath.Join(dir, "foreign-tokenizer")
	if err := tinymodel.WriteModel(m, 1); err != nil {
		t.Fatal(err)
	}
	vocab := map[string]int{}
	for id, tok := range tinymodel.Vocab() {
		vocab[tok] = id
	}
	vocab["superb"] = 100
	data, err := json.Marshal(map[string]any{
		"added_tokens":   []any{},
		"normalizer":     map[string]any{"type": "BertNormalizer", "lowercase": true},
		"pre_tokenizer":  map[string]any{"type": "BertPreTokenizer"},
		"post_processor": map[string]any{"type": "BertProcessing", "sep": []any{"[SEP]", 3}, "cls": []any{"[CLS]", 2}},
		"model":          map[string]any{"type": "WordPiece", "unk_token": "[UNK]", "vocab": vocab},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(m, "tokenizer.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return m
}

// brokenWeightsModel is the tiny model whose weight file is not one: a
// command that reads it fails on it.
func brokenWeightsModel(t *testing.T, dir string) string {
	t.Helper()
	m := filepath.Join(dir, "broken-weights")
	if err := tinymodel.WriteModel(m, 1); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(m, model.SafetensorsFile), []byte("not weights at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	return m
}

// nanWeightsModel is the tiny model with one NaN weight.
func nanWeightsModel(t *testing.T, dir string) string {
	t.Helper()
	m := filepath.Join(dir, "nan-weights")
	if err := tinymodel.WriteModel(m, 1); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(m, model.SafetensorsFile)
	ts, err := model.ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	ts["encoder.layer.2.attention.self.key.weight"].Data[3] = float32(math.NaN())
	if err := model.WriteSafetensors(path, ts, nil); err != nil {
		t.Fatal(err)
	}
	return m
}
