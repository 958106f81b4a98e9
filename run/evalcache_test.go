package run

import (
	"math"
	"testing"

	"github.com/autofreeze/autofreeze/text"
)

// TestEvalThroughPrefixIsBitIdentical: evaluating from the kept held-out
// states of a frozen prefix, whether they were built at once or advanced
// layer by layer as K grew, gives exactly the logits of the whole model.
func TestEvalThroughPrefixIsBitIdentical(t *testing.T) {
	_, modelDir, _, eval := tinyFiles(t)
	enc, tok, s := tinyClassifierOn(t, modelDir, eval, 3)
	layers := enc.Config().NumLayers
	const batch = 5 // 24 rows: the last batch is short, and lengths differ
	_, want, err := evaluate(enc, tok, s, batch)
	if err != nil {
		t.Fatal(err)
	}
	same := func(what string, got [][]float32) {
		t.Helper()
		for i := range want {
			for j := range want[i] {
				if math.Float32bits(got[i][j]) != math.Float32bits(want[i][j]) {
					t.Fatalf("%s: row %d logit %d is %v, the whole model gives %v", what, i, j, got[i][j], want[i][j])
				}
			}
		}
	}
	stepwise := &evalPrefix{}
	for k := 1; k < layers; k++ {
		if err := stepwise.advance(enc, tok, s, batch, k); err != nil {
			t.Fatal(err)
		}
		_, got, err := evaluateFrom(enc, tok, s, batch, stepwise)
		if err != nil {
			t.Fatal(err)
		}
		same("advanced to layer "+string(rune('0'+k)), got)
	}
	atOnce := &evalPrefix{}
	if err := atOnce.advance(enc, tok, s, batch, layers-1); err != nil {
		t.Fatal(err)
	}
	_, got, err := evaluateFrom(enc, tok, s, batch, atOnce)
	if err != nil {
		t.Fatal(err)
	}
	same("built at the last layer at once", got)
	if err := atOnce.advance(enc, tok, s, batch, 1); err == nil {
		t.Fatal("moving the held-out prefix back to layer 1 was accepted")
	}
}

// TestEvalPrefixBytes counts the padded states of every evaluation batch.
func TestEvalPrefixBytes(t *testing.T) {
	s := &split{encs: []text.Encoding{{IDs: make([]int64, 3)}, {IDs: make([]int64, 5)}, {IDs: make([]int64, 4)}}}
	// Length order 3, 4 | 5: batches of 2 pad to 4 and 5 tokens.
	if got, want := evalPrefixBytes(s, 2, 8), int64((2*4+1*5)*8*4); got != want {
		t.Fatalf("evalPrefixBytes = %d, want %d", got, want)
	}
}
