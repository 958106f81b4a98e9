package run

import (
	"fmt"
	"time"

	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/text"
	"github.com/autofreeze/autofreeze/trainable"
)

// Evaluating through the held-out split's frozen prefix.
//
// Once K layers are frozen their weights never change again, so the hidden
// states that the held-out examples have entering layer K are the same at
// every later evaluation. The run keeps them in memory (evalPrefix) and
// each evaluation runs only layers [K, L) and the head: with five of six
// layers frozen, an evaluation costs about a sixth of the whole model's.
// When K grows, only the newly frozen layers run on the kept states.
//
// The metrics are bit-identical to evaluating the whole model: the batches
// are the same (length order, --eval-batch-size), and Encoder.Hidden plus
// Encoder.LogitsFrom run the same float32 operations on the same shapes as
// one Encoder.Logits call. A resumed run rebuilds the states from its
// checkpoint's frozen weights, which are those the states came from, so
// resuming changes nothing either.

// maxEvalPrefixBytes bounds the memory the kept states may take; a larger
// held-out split is evaluated through the whole model, as before.
const maxEvalPrefixBytes = 1 << 30

// evalPrefix holds, per evaluation batch, the hidden states entering layer
// k of the held-out examples.
type evalPrefix struct {
	k      int
	order  []int       // the split's rows in evaluation order
	hidden [][]float32 // per batch of order, [size, seqLen, hidden]; nil when k is 0
}

// evalBatches cuts the length order of s into batches of batchSize rows.
func evalBatches(order []int, batchSize int) [][]int {
	var out [][]int
	for start := 0; start < len(order); start += batchSize {
		out = append(out, order[start:min(start+batchSize, len(order))])
	}
	return out
}

// evalPrefixBytes is the memory the states of s entering any layer take.
func evalPrefixBytes(s *split, batchSize, hidden int) int64 {
	var n int64
	for _, rows := range evalBatches(s.lengthOrder(), batchSize) {
		longest := 0
		for _, r := range rows {
			longest = max(longest, s.encs[r].Len())
		}
		n += int64(len(rows)) * int64(longest) * int64(hidden) * 4
	}
	return n
}

// advance makes p hold the states entering layer k (≥ p.k), running only
// the layers [p.k, k) on what p holds.
func (p *evalPrefix) advance(enc *trainable.Encoder, tok *text.Tokenizer, s *split, batchSize, k int) error {
	if k < p.k {
		return fmt.Errorf("held-out prefix at layer %d cannot go back to layer %d", p.k, k)
	}
	if k == p.k {
		return nil
	}
	if p.order == nil {
		p.order = s.lengthOrder()
	}
	batches := evalBatches(p.order, batchSize)
	if p.hidden == nil {
		p.hidden = make([][]float32, len(batches))
	}
	for i, rows := range batches {
		b, _ := s.batch(tok, rows)
		var in []float32
		if p.k > 0 {
			in = p.hidden[i]
		}
		out, err := enc.Hidden(b, model.Range{Start: p.k, End: k}, in)
		if err != nil {
			return fmt.Errorf("held-out states entering layer %d: %w", k, err)
		}
		p.hidden[i] = out
	}
	p.k = k
	return nil
}

// evalThroughPrefix brings the run's held-out prefix to the frozen point
// and reports how long that took; it returns nil (evaluate the whole
// model) when nothing is frozen or the states would not fit the bound.
func (r *trainRun) evalThroughPrefix() (*evalPrefix, float64, error) {
	k := r.tr.Frozen()
	if k == 0 || r.evalPrefixOff {
		return nil, 0, nil
	}
	if r.evalPrefix == nil {
		if n := evalPrefixBytes(r.eval, r.cfg.EvalBatchSize, r.mcfg.HiddenSize); n > maxEvalPrefixBytes {
			r.log.Info("the held-out split's frozen prefix would take too much memory to keep: evaluating the whole model", "bytes", n, "limit", int64(maxEvalPrefixBytes))
			r.evalPrefixOff = true
			return nil, 0, nil
		}
		r.evalPrefix = &evalPrefix{}
	}
	t0 := time.Now()
	if err := r.evalPrefix.advance(r.enc, r.tok, r.eval, r.cfg.EvalBatchSize, k); err != nil {
		return nil, 0, err
	}
	return r.evalPrefix, time.Since(t0).Seconds(), nil
}
