package frozen

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/autofreeze/autofreeze/frozen/export"
)

// Batch is one batch of examples, flattened row-major. SeqLen is the padded
// length of every row; Mask marks real tokens with 1 and padding with 0.
type Batch struct {
	Size, SeqLen int
	// InputIDs and TokenTypeIDs feed a model that starts at the
	// embeddings; nil TokenTypeIDs means all 0.
	InputIDs, TokenTypeIDs []int64
	// Hidden [Size*SeqLen*hidden] feeds a model that starts at a layer.
	Hidden []float32
	// Mask [Size*SeqLen]; nil means no padding.
	Mask []int64
}

// check validates a batch's shapes against the model before any of it
// reaches ONNX Runtime.
func (r *Runner) check(b Batch) error {
	if b.Size <= 0 || b.SeqLen <= 0 {
		return fmt.Errorf("batch of %dx%d: size and sequence length must be positive", b.Size, b.SeqLen)
	}
	if r.maxSeq > 0 && b.SeqLen > r.maxSeq {
		return fmt.Errorf("sequence length %d is over the model's %d positions", b.SeqLen, r.maxSeq)
	}
	tokens := b.Size * b.SeqLen
	want := func(name string, got, n int) error {
		if got != n {
			return fmt.Errorf("%s has %d values, want %d for a batch of %dx%d", name, got, n, b.Size, b.SeqLen)
		}
		return nil
	}
	if b.Mask != nil {
		if err := want("Mask", len(b.Mask), tokens); err != nil {
			return err
		}
	}
	if r.TakesTokens() {
		if b.Hidden != nil {
			return errors.New("the model starts at the embeddings: give InputIDs, not Hidden")
		}
		if err := want("InputIDs", len(b.InputIDs), tokens); err != nil {
			return err
		}
		if b.TokenTypeIDs != nil {
			return want("TokenTypeIDs", len(b.TokenTypeIDs), tokens)
		}
		return nil
	}
	if b.InputIDs != nil {
		return errors.New("the model starts at a hidden layer: give Hidden, not InputIDs")
	}
	return want("Hidden", len(b.Hidden), tokens*r.hidden)
}

func orFill(s []int64, n, v int64) []int64 {
	if s != nil {
		return s
	}
	out := make([]int64, n)
	if v != 0 {
		for i := range out {
			out[i] = v
		}
	}
	return out
}

func halves(f []float32) []byte {
	out := make([]byte, 2*len(f))
	for i, v := range f {
		binary.LittleEndian.PutUint16(out[2*i:], export.Float32ToHalf(v))
	}
	return out
}
