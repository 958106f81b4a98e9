package cli

import (
	"fmt"

	ucli "github.com/urfave/cli/v2"

	"github.com/autofreeze/autofreeze/run"
)

// probeCommand fits the frozen-encoder baseline (package probe): what a
// user who finds fine-tuning too slow does instead.
func probeCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "probe",
		Usage:     "the frozen-encoder baseline: mean-pooled embeddings of the pre-trained encoder and a logistic regression",
		UsageText: "autofreeze probe --model DIR --train FILE --output result.json [--test FILE]",
		Description: "Embeds the training and held-out examples (the same seeded split and samples as `train`\n" +
			"with the same flags), fits a logistic regression for each --lambda, selects the one with\n" +
			"the lowest held-out loss and scores it on --test. The result JSON lists each fit's held-out\n" +
			"accuracy and loss with the seconds since the model and data were loaded.",
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "model", Usage: "Hugging Face model directory (the pre-trained encoder)", Required: true},
			&ucli.StringFlag{Name: "train", Usage: "training data (CSV, TSV, JSONL or Parquet)", Required: true},
			&ucli.StringFlag{Name: "eval", Usage: "held-out data (default: --eval-split of the training data)"},
			&ucli.Float64Flag{Name: "eval-split", Value: 0.1, Usage: "share of the training data held out when --eval is not given"},
			&ucli.IntFlag{Name: "train-limit", Usage: "seeded sample of this many training examples (0: all)"},
			&ucli.IntFlag{Name: "eval-limit", Usage: "seeded sample of this many held-out examples (0: all)"},
			&ucli.StringFlag{Name: "test", Usage: "test data the selected probe is scored on"},
			&ucli.IntFlag{Name: "test-limit", Usage: "seeded sample of this many test examples (0: all)"},
			&ucli.Uint64Flag{Name: "seed", Value: 42, Usage: "seed of the split and the samples"},
			&ucli.IntFlag{Name: "max-length", Value: 128, Usage: "truncate texts to this many tokens"},
			&ucli.IntFlag{Name: "batch-size", Value: 64, Usage: "examples per forward pass"},
			&ucli.IntFlag{Name: "threads", Usage: "CPU threads (0: all cores)"},
			&ucli.Float64SliceFlag{Name: "lambda", Usage: "L2 penalty to try (repeatable; default 1e-4, 1e-3, 1e-2, 1e-1, 1)"},
			&ucli.StringFlag{Name: "output", Usage: "result JSON to write", Required: true},
		},
		Action: func(c *ucli.Context) error {
			if c.Int("train-limit") < 0 || c.Int("eval-limit") < 0 || c.Int("test-limit") < 0 {
				return usagef("--train-limit, --eval-limit and --test-limit count examples: want 0 (all) or more")
			}
			if n := c.Int("batch-size"); n < 1 || n > 1<<16 {
				return usagef("--batch-size %d: want 1 to %d", n, 1<<16)
			}
			if n := c.Int("max-length"); n < 2 {
				return usagef("--max-length %d: want at least 2 tokens", n)
			}
			if s := c.Float64("eval-split"); c.String("eval") == "" && !(s > 0 && s < 1) {
				return usagef("--eval-split %v: want a share between 0 and 1", s)
			}
			pc := run.ProbeConfig{
				Config: run.Config{Model: c.String("model"), Train: c.String("train"), Eval: c.String("eval"),
					EvalSplit: c.Float64("eval-split"), TrainLimit: c.Int("train-limit"), EvalLimit: c.Int("eval-limit"),
					Seed: c.Uint64("seed"), MaxLength: c.Int("max-length"), EvalBatchSize: c.Int("batch-size"), Threads: c.Int("threads")},
				Test: c.String("test"), TestLimit: c.Int("test-limit"), Lambdas: c.Float64Slice("lambda"),
			}
			res, err := run.Probe(c.Context, pc, c.String("output"))
			if err != nil {
				return classifyRunError(err)
			}
			w := c.App.Writer
			fmt.Fprintf(w, "embedded %d training examples in %.1f s\n", res.Examples, res.EmbedSeconds)
			selected := 0
			for i, e := range res.Eval {
				if e.Best {
					selected = i
				}
			}
			for i, e := range res.Eval {
				mark := ""
				if i == selected {
					mark = "  (selected)"
				}
				fmt.Fprintf(w, "lambda %-8g held-out accuracy %.4f  loss %.4f  at %.1f s%s\n", e.Lambda, e.Accuracy, e.Loss, e.WallSeconds, mark)
			}
			if res.Test != nil {
				fmt.Fprintf(w, "test accuracy %.4f on %d examples\n", res.Test.Accuracy, res.Test.Examples)
			}
			return nil
		},
	}
}
