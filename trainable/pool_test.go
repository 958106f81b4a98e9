package trainable

import (
	"slices"
	"testing"

	"github.com/autofreeze/autofreeze/text"
)

// TestMeanPoolSkipsPadding: the mean is over the row's real tokens only.
func TestMeanPoolSkipsPadding(t *testing.T) {
	b := text.Batch{Size: 2, SeqLen: 3, Mask: []int64{1, 1, 1, 1, 1, 0}}
	hidden := []float32{
		1, 2, 3, 4, 5, 6, // row 0: three tokens of 2 values
		2, 0, 4, 8, 100, 100, // row 1: two real tokens, then padding
	}
	if got, want := MeanPool(hidden, b, 0, 2), []float32{3, 4}; !slices.Equal(got, want) {
		t.Errorf("row 0: %v, want %v", got, want)
	}
	if got, want := MeanPool(hidden, b, 1, 2), []float32{3, 4}; !slices.Equal(got, want) {
		t.Errorf("row 1: %v, want %v (padding counted?)", got, want)
	}
}
