package run

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autofreeze/autofreeze/internal/tinymodel"
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/text"
)

// TestValidateRefusesNaNNegativeAndZeroMeaningDefault: each value issue 14
// found slipping through is refused by Validate under its key, with no
// WithDefaults in between (the command line's flags always hold a value,
// so a zero there is the user's, not "unset").
func TestValidateRefusesNaNNegativeAndZeroMeaningDefault(t *testing.T) {
	nan := func() float64 { var z float64; return z / z }()
	base := Defaults()
	base.Model, base.Train, base.Out = "m", "t.csv", "o"
	if err := base.Validate(); err != nil {
		t.Fatalf("the defaults: %v", err)
	}
	for _, tc := range []struct {
		key string
		set func(c *Config)
	}{
		{"warmup-ratio", func(c *Config) { c.WarmupRatio = nan }},
		{"lr", func(c *Config) { c.LR = nan }},
		{"lr", func(c *Config) { c.LR = 0 }},
		{"weight-decay", func(c *Config) { c.WeightDecay = -5 }},
		{"max-grad-norm", func(c *Config) { c.MaxGradNorm = nan }},
		{"freeze-intervals", func(c *Config) { c.FreezeIntervals = -5 }},
		{"freeze-intervals", func(c *Config) { c.FreezeIntervals = 0 }},
		{"threads", func(c *Config) { c.Threads = -4 }},
		{"threads", func(c *Config) { c.Threads = 100000 }},
		{"max-length", func(c *Config) { c.MaxLength = 0 }},
		{"batch-size", func(c *Config) { c.BatchSize = 0 }},
		{"epochs", func(c *Config) { c.Epochs = 0 }},
		{"eval-split", func(c *Config) { c.EvalSplit = nan }},
		{"freeze-percentile", func(c *Config) { c.FreezePercentile = nan }},
		{"cluster-latency-us", func(c *Config) { c.ClusterLatencyUs = nan }},
		{"seed", func(c *Config) { c.Seed = 0 }},
		{"schedule", func(c *Config) { c.Schedule = "" }},
		{"provider", func(c *Config) { c.Provider = "gpu" }},
	} {
		c := base
		tc.set(&c)
		err := c.Validate()
		var se *SettingsError
		if !errors.As(err, &se) || len(se.Problems) != 1 || se.Problems[0].Key != tc.key {
			t.Errorf("%s: %v, want one problem with key %s", tc.key, err, tc.key)
		}
	}
}

// TestFreezeBeyondLayersRefusedBeforeLoadingWeights: --freeze 99 on a
// 4-layer model fails while the settings are checked against config.json,
// before the weights are read (here they are not even readable).
func TestFreezeBeyondLayersRefusedBeforeLoadingWeights(t *testing.T) {
	dir, modelDir, train, eval := tinyFiles(t)
	if err := os.WriteFile(filepath.Join(modelDir, model.SafetensorsFile), []byte("not weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Model: modelDir, Train: train, Eval: eval, Out: filepath.Join(dir, "run"), Freeze: "99", MaxLength: 24, Threads: 1}
	_, err := Train(context.Background(), cfg, Options{})
	if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "freeze 99") || !strings.Contains(err.Error(), "0 to 3") {
		t.Fatalf("%v, want a bad-input error about freeze 99 and the 4 layers", err)
	}
}

// tinyClassifier writes a classification checkpoint of the tiny model.
func tinyClassifier(t *testing.T, dir string) {
	t.Helper()
	if err := tinymodel.WriteModel(dir, 1); err != nil {
		t.Fatal(err)
	}
	if err := tinymodel.Config().WithLabels([]string{"neg", "pos"}).Save(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, model.SafetensorsFile)
	ts, err := model.ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	h := tinymodel.Config().HiddenSize
	ts[model.ClassifierWeight] = &model.Tensor{Shape: []int64{2, int64(h)}, Data: make([]float32, 2*h)}
	ts[model.ClassifierBias] = &model.Tensor{Shape: []int64{2}, Data: make([]float32, 2)}
	if err := model.WriteSafetensors(path, ts, nil); err != nil {
		t.Fatal(err)
	}
}

// writeForeignTokenizer gives dir a tokenizer.json that maps "superb" to
// id 100, past the tiny model's 40-row embedding.
func writeForeignTokenizer(t *testing.T, dir string) {
	t.Helper()
	vocab := map[string]int{}
	for id, tok := range tinymodel.Vocab() {
		vocab[tok] = id
	}
	vocab["superb"] = 100
	tj := map[string]any{
		"added_tokens":   []any{},
		"normalizer":     map[string]any{"type": "BertNormalizer", "lowercase": true},
		"pre_tokenizer":  map[string]any{"type": "BertPreTokenizer"},
		"post_processor": map[string]any{"type": "BertProcessing", "sep": []any{"[SEP]", 3}, "cls": []any{"[CLS]", 2}},
		"model":          map[string]any{"type": "WordPiece", "unk_token": "[UNK]", "vocab": vocab},
	}
	data, err := json.Marshal(tj)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTokenIDBeyondVocabSizeRefusedAtLoad: a tokenizer whose ids run past
// the model's vocab_size is refused where train and inference load the
// model's config and tokenizer, naming the file, the token and vocab_size,
// instead of failing inside libtorch on the first text that uses it.
func TestTokenIDBeyondVocabSizeRefusedAtLoad(t *testing.T) {
	dir, modelDir, train, eval := tinyFiles(t)
	writeForeignTokenizer(t, modelDir)
	cfg := Config{Model: modelDir, Train: train, Eval: eval, Out: filepath.Join(dir, "run"), MaxLength: 24, Threads: 1}
	_, err := Train(context.Background(), cfg, Options{})
	wantTokenizerError(t, "train", err)

	ckpt := filepath.Join(dir, "ckpt")
	tinyClassifier(t, ckpt)
	writeForeignTokenizer(t, ckpt)
	_, err = Evaluate(InferenceConfig{Model: ckpt, Data: eval, Threads: 1})
	wantTokenizerError(t, "eval", err)
	_, err = Predict(InferenceConfig{Model: ckpt, Data: eval, Threads: 1}, filepath.Join(dir, "p.jsonl"))
	wantTokenizerError(t, "predict", err)
}

func wantTokenizerError(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, ErrInput) {
		t.Errorf("%s: %v, want a bad-input error", what, err)
		return
	}
	for _, want := range []string{"tokenizer.json", `"superb"`, "id 100", "vocab_size 40"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %q does not say %q", what, err, want)
		}
	}
}

// TestInferenceSettingsBounded: eval and predict refuse thread counts,
// lengths and batch sizes out of range before building the model.
func TestInferenceSettingsBounded(t *testing.T) {
	dir, _, _, eval := tinyFiles(t)
	ckpt := filepath.Join(dir, "ckpt")
	tinyClassifier(t, ckpt)
	for _, tc := range []struct {
		c    InferenceConfig
		want string
	}{
		{InferenceConfig{Threads: 100000}, "threads 100000"},
		{InferenceConfig{Threads: -4}, "threads -4"},
		{InferenceConfig{MaxLength: 100000}, "max-length 100000"},
		{InferenceConfig{MaxLength: -3}, "max-length -3"},
		{InferenceConfig{BatchSize: -1}, "batch-size -1"},
	} {
		tc.c.Model, tc.c.Data = ckpt, eval
		_, err := Evaluate(tc.c)
		if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want a bad-input error about %s", tc.c, err, tc.want)
		}
	}
}

// TestSkipBadRowsCountedOnceWithHeldOutSplit: with --skip-bad-rows and the
// evaluation set held out of the training file, a bad row is counted once
// (it used to be reported for the training and the held-out part both).
func TestSkipBadRowsCountedOnceWithHeldOutSplit(t *testing.T) {
	dir, modelDir, train, _ := tinyFiles(t)
	data, err := os.ReadFile(train)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.csv")
	lines := strings.SplitAfter(string(data), "\n")
	lines = append(lines[:5], append([]string{",pos\n"}, lines[5:]...)...) // an empty text
	if err := os.WriteFile(bad, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	c := Config{Model: modelDir, Train: bad, SkipBadRows: true, EvalSplit: 0.25, Seed: 1}.WithDefaults()
	tok, err := text.LoadTokenizer(modelDir)
	if err != nil {
		t.Fatal(err)
	}
	tr, ev, _, err := loadTrainEval(c, tok)
	if err != nil {
		t.Fatal(err)
	}
	if got := tr.skipped + ev.skipped; got != 1 {
		t.Errorf("one bad row counted %d times (train %d, eval %d)", got, tr.skipped, ev.skipped)
	}
}

// TestLoadYAMLEmptyFileNamesIt: an empty config file is refused with its
// name and what to write, not a bare "EOF".
func TestLoadYAMLEmptyFileNamesIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadYAML(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "holds no settings") {
		t.Errorf("empty file: %v", err)
	}
}
