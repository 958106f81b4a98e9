// Package tinymodel writes a small, randomly initialised BERT model
// directory and a toy sentiment dataset, so that tests of the whole
// pipeline (train, resume, eval, predict, cache) run in seconds. The real
// model is exercised by the tests that use all-MiniLM-L6-v2.
package tinymodel

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/autofreeze/autofreeze/model"
)

// Words of the toy vocabulary; positive and negative ones decide the label.
var (
	Positive = []string{"good", "great", "fine", "superb", "lovely"}
	Negative = []string{"bad", "awful", "poor", "dull", "boring"}
	Neutral  = []string{"the", "movie", "film", "was", "plot", "actors", "a", "very", "and", "it", "story", "ending"}
)

// Config is the tiny model's architecture.
func Config() *model.Config {
	c, err := model.ParseConfig("tiny config", []byte(`{
  "model_type": "bert", "architectures": ["BertModel"], "vocab_size": 40,
  "hidden_size": 32, "num_hidden_layers": 4, "num_attention_heads": 4,
  "intermediate_size": 64, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
  "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 64,
  "type_vocab_size": 2, "layer_norm_eps": 1e-12, "pad_token_id": 0
}`))
	if err != nil {
		panic(err)
	}
	return c
}

// Vocab is the tiny model's vocabulary (vocab.txt order).
func Vocab() []string {
	v := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
	v = append(v, Positive...)
	v = append(v, Negative...)
	v = append(v, Neutral...)
	v = append(v, ".", ",", "!")
	for len(v) < 40 {
		v = append(v, fmt.Sprintf("[unused%d]", len(v)))
	}
	return v
}

// WriteModel writes config.json, model.safetensors and vocab.txt of a
// seeded random tiny BERT into dir.
func WriteModel(dir string, seed uint64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg := Config()
	if err := cfg.Save(dir); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	tensors := map[string]*model.Tensor{}
	for _, p := range cfg.EncoderParams() {
		t := &model.Tensor{Shape: p.Shape, Data: make([]float32, model.NumElements(p.Shape))}
		switch {
		case strings.HasSuffix(p.Name, "LayerNorm.weight"):
			for i := range t.Data {
				t.Data[i] = 1
			}
		case len(p.Shape) == 2:
			for i := range t.Data {
				t.Data[i] = float32(rng.NormFloat64() * 0.05)
			}
		}
		tensors[p.Name] = t
	}
	if err := model.WriteSafetensors(filepath.Join(dir, model.SafetensorsFile), tensors, nil); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "vocab.txt"), []byte(strings.Join(Vocab(), "\n")+"\n"), 0o644)
}

// Review is one toy example: a few words, with a sentiment word that sets
// the label.
func Review(rng *rand.Rand) (text, label string) {
	n := 4 + rng.IntN(8)
	words := make([]string, 0, n+1)
	for i := 0; i < n; i++ {
		words = append(words, Neutral[rng.IntN(len(Neutral))])
	}
	label = "pos"
	sentiment := Positive[rng.IntN(len(Positive))]
	if rng.IntN(2) == 0 {
		label, sentiment = "neg", Negative[rng.IntN(len(Negative))]
	}
	at := rng.IntN(len(words) + 1)
	words = append(words[:at], append([]string{sentiment}, words[at:]...)...)
	return strings.Join(words, " ") + ".", label
}

// WriteCSV writes n toy reviews as CSV with columns text,label.
func WriteCSV(path string, n int, seed uint64) error {
	return writeRows(path, "text,label\n", n, rand.New(rand.NewPCG(seed, 2)), func(rng *rand.Rand) string {
		t, l := Review(rng)
		return fmt.Sprintf("%q,%s\n", t, l)
	})
}

// writeRows writes header and n rows made by row from rng.
func writeRows(path, header string, n int, rng *rand.Rand, row func(*rand.Rand) string) error {
	var b strings.Builder
	b.WriteString(header)
	for i := 0; i < n; i++ {
		b.WriteString(row(rng))
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// words returns n neutral words with the given words inserted at random
// places.
func words(rng *rand.Rand, insert []string) []string {
	n := 3 + rng.IntN(6)
	ws := make([]string, 0, n+len(insert))
	for i := 0; i < n; i++ {
		ws = append(ws, Neutral[rng.IntN(len(Neutral))])
	}
	for _, w := range insert {
		at := rng.IntN(len(ws) + 1)
		ws = append(ws[:at], append([]string{w}, ws[at:]...)...)
	}
	return ws
}

// ScoredReview is one toy regression example: 0 to 2 positive and 0 to 2
// negative words; the score is their difference, from -2 to 2.
func ScoredReview(rng *rand.Rand) (text string, score int) {
	var insert []string
	pos, neg := rng.IntN(3), rng.IntN(3)
	for range pos {
		insert = append(insert, Positive[rng.IntN(len(Positive))])
	}
	for range neg {
		insert = append(insert, Negative[rng.IntN(len(Negative))])
	}
	return strings.Join(words(rng, insert), " ") + ".", pos - neg
}

// WriteScoresCSV writes n toy regression examples as CSV with columns
// text,score.
func WriteScoresCSV(path string, n int, seed uint64) error {
	return writeRows(path, "text,score\n", n, rand.New(rand.NewPCG(seed, 3)), func(rng *rand.Rand) string {
		t, s := ScoredReview(rng)
		return fmt.Sprintf("%q,%d.0\n", t, s)
	})
}

// TaggedReview is one toy multi-label example: a positive word, a negative
// word or both (a third of the examples each), labelled "positive",
// "negative" or both.
func TaggedReview(rng *rand.Rand) (text string, labels []string) {
	var insert []string
	labels = []string{}
	kind := rng.IntN(3) // 0: positive, 1: negative, 2: both
	if kind != 1 {
		insert = append(insert, Positive[rng.IntN(len(Positive))])
		labels = append(labels, "positive")
	}
	if kind != 0 {
		insert = append(insert, Negative[rng.IntN(len(Negative))])
		labels = append(labels, "negative")
	}
	return strings.Join(words(rng, insert), " ") + ".", labels
}

// WriteTagsJSONL writes n toy multi-label examples as JSON Lines with a
// text and a list of labels.
func WriteTagsJSONL(path string, n int, seed uint64) error {
	return writeRows(path, "", n, rand.New(rand.NewPCG(seed, 4)), func(rng *rand.Rand) string {
		t, labels := TaggedReview(rng)
		quoted := make([]string, len(labels))
		for j, l := range labels {
			quoted[j] = fmt.Sprintf("%q", l)
		}
		return fmt.Sprintf("{\"text\": %q, \"labels\": [%s]}\n", t, strings.Join(quoted, ", "))
	})
}
