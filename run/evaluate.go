package run

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/text"
	"github.com/autofreeze/autofreeze/trainable"
)

// evaluate runs the classifier over a labelled split, in batches of similar
// length, and returns its metrics and every row's logits (in split order).
func evaluate(enc *trainable.Encoder, tok *text.Tokenizer, s *split, batchSize int) (Metrics, [][]float32, error) {
	return evaluateFrom(enc, tok, s, batchSize, nil)
}

// evaluateFrom is evaluate through the kept states of a frozen prefix
// (nil: the whole model runs); see evalPrefix.
func evaluateFrom(enc *trainable.Encoder, tok *text.Tokenizer, s *split, batchSize int, prefix *evalPrefix) (Metrics, [][]float32, error) {
	n := enc.NumLabels()
	logits := make([][]float32, s.len())
	order := s.lengthOrder()
	if prefix != nil {
		order = prefix.order
	}
	for i, rows := range evalBatches(order, batchSize) {
		b, _ := s.batch(tok, rows)
		var out []float32
		var err error
		if prefix != nil && prefix.k > 0 {
			out, err = enc.LogitsFrom(b, prefix.hidden[i], prefix.k)
		} else {
			out, err = enc.Logits(b)
		}
		if err != nil {
			return Metrics{}, nil, err
		}
		for i, row := range rows {
			logits[row] = out[i*n : (i+1)*n]
		}
	}
	switch {
	case !s.labelled():
		return Metrics{Examples: s.len(), problem: s.problem}, logits, nil
	case s.problem == model.MultiLabel:
		return multiLabel(s.values, logits, n), logits, nil
	case s.problem == model.Regression:
		pred := make([]float32, len(logits))
		for i, l := range logits {
			pred[i] = l[0]
		}
		return regression(s.values, pred), logits, nil
	}
	truth := make([]int, s.len())
	pred := make([]int, s.len())
	loss := 0.0
	for i, l := range logits {
		truth[i] = int(s.labels[i])
		pred[i] = argmax(l)
		loss += crossEntropy(l, truth[i])
	}
	m := classification(truth, pred, n)
	m.Loss = loss / float64(s.len())
	return m, logits, nil
}

// evaluateAndSave evaluates on the evaluation split, logs it, writes a
// checkpoint (marked best when the eval loss improved) and reports whether
// early stopping says to stop.
func (r *trainRun) evaluateAndSave(res *Result) (stop bool, err error) {
	if r.world.Size() > 1 {
		// Rank 0 evaluates and saves while the others wait for its word
		// on early stopping.
		flag := []int64{0}
		var evalErr error
		if r.world.Main() {
			stop, evalErr = r.evaluateAndSaveHere(res)
			if stop {
				flag[0] = 1
			}
		}
		if err := r.agree(evalErr, "rank 0's evaluation and checkpoint"); err != nil {
			return false, err
		}
		if err := r.world.BroadcastInt64(flag); err != nil {
			return false, fmt.Errorf("step %d: waiting for rank 0's evaluation: %w", r.st.Step, err)
		}
		return flag[0] == 1, nil
	}
	return r.evaluateAndSaveHere(res)
}

func (r *trainRun) evaluateAndSaveHere(res *Result) (stop bool, err error) {
	t0 := time.Now()
	prefix, prefixSecs, err := r.evalThroughPrefix()
	if err != nil {
		return false, fmt.Errorf("evaluating at step %d: %w", r.st.Step, err)
	}
	m, _, err := evaluateFrom(r.enc, r.tok, r.eval, r.cfg.EvalBatchSize, prefix)
	if err != nil {
		return false, fmt.Errorf("evaluating at step %d: %w", r.st.Step, err)
	}
	best := m.Loss < r.st.BestEvalLoss
	if best {
		r.st.BestEvalLoss, r.st.BestStep, r.st.EvalsNoGain = m.Loss, r.st.Step, 0
		res.BestEval = m
	} else {
		r.st.EvalsNoGain++
	}
	// "epoch" is the epoch the evaluation falls in, counted from 1.
	epoch := (r.st.Step + r.stepsPerEpoch - 1) / r.stepsPerEpoch
	rec := map[string]any{"type": "eval", "step": r.st.Step, "epoch": epoch, "elapsed_s": r.elapsed(),
		"eval_seconds": time.Since(t0).Seconds(), "examples": m.Examples, "best": best, "frozen_layers": r.tr.Frozen()}
	logArgs := []any{"step", r.st.Step}
	for _, f := range m.Fields() {
		rec[f.Name] = f.Value
		logArgs = append(logArgs, f.Name, fmt.Sprintf("%.4f", f.Value))
	}
	if m.problem == model.MultiLabel {
		rec["accuracy"] = m.Accuracy // exact match, for the tools that plot accuracy
	}
	if prefix != nil {
		// Evaluated from the kept held-out states entering layer k; updating
		// them took prefix_seconds of eval_seconds.
		rec["from_layer"], rec["prefix_seconds"] = prefix.k, prefixSecs
	}
	if err := r.metrics.write(rec); err != nil {
		return false, err
	}
	r.log.Info("eval", append(logArgs, "best", best)...)
	if err := r.checkpoint(best); err != nil {
		return false, err
	}
	return r.cfg.Patience > 0 && r.st.EvalsNoGain >= r.cfg.Patience, nil
}

// checkpoint saves the current state.
func (r *trainRun) checkpoint(best bool) error {
	r.st.Frozen = r.tr.Frozen()
	if r.policy != nil {
		ps := r.policy.State()
		r.st.Policy = &ps
	}
	r.st.ElapsedSeconds = r.elapsed()
	r.st.Cache, r.st.PendingCache = nil, nil
	if r.prefix != nil {
		if c := r.prefix.active; c != nil {
			ref := c.ref
			r.st.Cache = &ref
		}
		if c := r.prefix.pending; c != nil {
			ref := c.ref
			r.st.PendingCache = &ref
		}
		if b := r.prefix.building; b != nil {
			// A resumed run builds it (blocking) and switches at the same
			// step; a blocking build leaves no pending cache beside it.
			ref := b.ref
			r.st.PendingCache = &ref
		}
	}
	dir, err := saveCheckpoint(r.cfg.Out, r.cfg.Model, r.enc, r.tr, r.cfg.problem(), r.labels.Names(), r.st, best)
	if err != nil {
		return fmt.Errorf("saving checkpoint at step %d: %w", r.st.Step, err)
	}
	return r.metrics.write(map[string]any{"type": "checkpoint", "step": r.st.Step, "elapsed_s": r.elapsed(), "dir": dir, "best": best})
}

// finish records the end of the run and, when a test file is configured,
// evaluates the best checkpoint on it.
func (r *trainRun) finish(res *Result) (*Result, error) {
	if err := r.checkRanksAgree(); err != nil {
		return nil, err
	}
	root := filepath.Join(r.cfg.Out, checkpointsDir)
	res.BestCheckpoint = filepath.Join(root, "best")
	res.LastCheckpoint = filepath.Join(root, "last")
	res.Steps = r.st.Step
	res.Epochs = (r.st.Step + r.stepsPerEpoch - 1) / r.stepsPerEpoch
	res.Elapsed = time.Duration(r.elapsed() * float64(time.Second))
	res.Frozen = r.tr.Frozen()
	if res.BestEval.Examples == 0 { // resumed after the best evaluation
		res.BestEval.Loss = r.st.BestEvalLoss
	}
	return res, r.metrics.write(map[string]any{"type": "end", "step": r.st.Step, "elapsed_s": r.elapsed(), "stopped": res.Stopped,
		"best_step": r.st.BestStep, "best_eval_loss": r.st.BestEvalLoss, "frozen_layers": res.Frozen})
}

// checkRanksAgree compares every rank's weights with rank 0's (through a
// digest): data-parallel ranks must end identical, and a run whose ranks
// diverged must not pass for a good one.
func (r *trainRun) checkRanksAgree() error {
	if r.world.Size() == 1 {
		return nil
	}
	w, err := r.enc.Weights()
	if err != nil {
		return err
	}
	digest, err := model.Fingerprint(w, append(r.mcfg.EncoderParams(), r.mcfg.ClassifierParams(r.labels.Len())...))
	if err != nil {
		return err
	}
	sum, err := hex.DecodeString(digest)
	if err != nil {
		return err
	}
	mine := make([]int64, len(sum)/8)
	for i := range mine {
		mine[i] = int64(binary.LittleEndian.Uint64(sum[8*i:]))
	}
	root := slices.Clone(mine)
	if err := r.world.BroadcastInt64(root); err != nil {
		return err
	}
	r.log.Info("final weights", "sha256", digest, "same_as_rank_0", slices.Equal(mine, root))
	if !slices.Equal(mine, root) {
		return fmt.Errorf("rank %d's weights differ from rank 0's at the end of training: the ranks diverged", r.world.Rank())
	}
	return nil
}
