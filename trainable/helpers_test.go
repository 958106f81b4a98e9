package trainable

import (
	"math/rand/v2"
	"testing"

	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/text"
)

// tinyConfig is a small random BERT for fast tests.
func tinyConfig() *model.Config {
	return &model.Config{
		ModelType: "bert", VocabSize: 50, HiddenSize: 16, NumLayers: 3, NumHeads: 4,
		IntermediateSize: 32, HiddenAct: "gelu", HiddenDropout: 0.1, AttentionDropout: 0.1,
		MaxPositions: 32, TypeVocabSize: 2, LayerNormEps: 1e-12, PositionEmbeddingType: "absolute",
	}
}

// tinyEncoder builds a randomly initialised tiny encoder with a head.
func tinyEncoder(t testing.TB, numLabels int) *Encoder {
	t.Helper()
	return tinyEncoderWith(t, numLabels, Options{Seed: 1})
}

func tinyEncoderWith(t testing.TB, numLabels int, opts Options) *Encoder {
	t.Helper()
	e, err := New(tinyConfig(), nil, numLabels, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// tinyBatch is a padded batch of random token ids with varied lengths.
func tinyBatch(size, seq int, seed uint64) (text.Batch, []int64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	b := text.Batch{Size: size, SeqLen: seq, IDs: make([]int64, size*seq), TypeIDs: make([]int64, size*seq), Mask: make([]int64, size*seq)}
	labels := make([]int64, size)
	for i := 0; i < size; i++ {
		n := seq - i%3
		b.Lengths = append(b.Lengths, n)
		for j := 0; j < n; j++ {
			b.IDs[i*seq+j] = 1 + rng.Int64N(49)
			b.Mask[i*seq+j] = 1
		}
		labels[i] = int64(i % 2)
	}
	return b, labels
}

func snapshot(t testing.TB, e *Encoder) map[string]*model.Tensor {
	t.Helper()
	w, err := e.Weights()
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func bitIdentical(a, b *model.Tensor) bool {
	if len(a.Data) != len(b.Data) {
		return false
	}
	for i := range a.Data {
		if a.Data[i] != b.Data[i] && !(a.Data[i] != a.Data[i] && b.Data[i] != b.Data[i]) {
			return false
		}
	}
	return true
}
