package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// ProbeMode is the frozen-encoder baseline: the pre-trained encoder's
// mean-pooled embeddings and a logistic regression (`autofreeze probe`),
// the fast alternative users reach for. Its clock covers embedding the
// training and held-out examples and every fit.
const ProbeMode = "frozen-encoder-logreg"

// probeArgs are the `autofreeze probe` arguments of o, writing to output.
func (o Options) probeArgs(output string) []string {
	return []string{"--quiet", "probe", "--model", o.Model, "--train", o.Train, "--output", output,
		"--seed", strconv.FormatUint(o.Seed, 10), "--max-length", strconv.Itoa(o.MaxLength),
		"--threads", strconv.Itoa(o.Threads), "--train-limit", strconv.Itoa(o.TrainLimit),
		"--eval-limit", strconv.Itoa(o.EvalLimit), "--test", o.Test, "--test-limit", strconv.Itoa(o.TestLimit)}
}

// RunProbe runs the frozen-encoder baseline with o.Seed on the same
// training, held-out and test samples as the training modes. Like RunMode
// it reuses a finished result made with the same arguments.
func RunProbe(ctx context.Context, o Options) (*Result, error) {
	m := Mode{Name: ProbeMode, About: "frozen encoder (mean-pooled embeddings) + logistic regression (`autofreeze probe`)"}
	dir := filepath.Join(o.Out, ProbeMode)
	resultPath := filepath.Join(dir, "result.json")
	args := o.probeArgs(resultPath)
	argsPath := filepath.Join(dir, "args.json")
	if saved, err := os.ReadFile(argsPath); err == nil {
		var prev []string
		if json.Unmarshal(saved, &prev) == nil && slices.Equal(prev, args) {
			if res, err := readBaselineResult(resultPath, o, m, dir); err == nil {
				o.log().Info("bench: reusing the finished run", "mode", ProbeMode, "seed", o.Seed, "dir", dir)
				return res, nil
			}
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	o.log().Info("bench: fitting", "mode", ProbeMode, "seed", o.Seed)
	if _, err := runChild(ctx, o, args, filepath.Join(o.Out, ProbeMode+".log")); err != nil {
		return nil, fmt.Errorf("mode %s: %w", ProbeMode, err)
	}
	data, _ := json.Marshal(args)
	if err := os.WriteFile(argsPath, data, 0o644); err != nil {
		return nil, err
	}
	return readBaselineResult(resultPath, o, m, dir)
}
