package cli

import (
	"encoding/json"
	"fmt"

	ucli "github.com/urfave/cli/v2"

	"github.com/autofreeze/autofreeze/internal/atomicfile"
	"github.com/autofreeze/autofreeze/precision"
	"github.com/autofreeze/autofreeze/run"
)

// inferenceFlags are the flags eval and predict share.
func inferenceFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "model", Usage: "a checkpoint (e.g. RUN_DIR/checkpoints/best)", Required: true},
		&ucli.StringFlag{Name: "data", Usage: "CSV, TSV, JSONL or Parquet file", Required: true},
		&ucli.StringFlag{Name: "format", Usage: "csv, tsv, jsonl or parquet (default: by extension)"},
		&ucli.StringFlag{Name: "text-column", Usage: "text column (default \"text\")"},
		&ucli.StringFlag{Name: "text-pair-column", Usage: "second text column, for pair tasks"},
		&ucli.StringFlag{Name: "label-column", Usage: "label column (default \"label\")"},
		&ucli.BoolFlag{Name: "no-header", Usage: "CSV/TSV files have no header row"},
		&ucli.BoolFlag{Name: "skip-bad-rows", Usage: "skip malformed rows, counting them, instead of stopping"},
		&ucli.IntFlag{Name: "max-length", Usage: "truncate texts to this many tokens (default: as trained)"},
		&ucli.IntFlag{Name: "batch-size", Value: 64, Usage: "examples per batch"},
		&ucli.IntFlag{Name: "threads", Usage: "CPU threads (0: all cores)"},
		precisionFlag(),
	}
}

func inferenceConfig(c *ucli.Context) (run.InferenceConfig, error) {
	p, err := resolvePrecision(c)
	if err != nil {
		return run.InferenceConfig{}, err
	}
	return run.InferenceConfig{
		Model: c.String("model"), Data: c.String("data"), Format: c.String("format"),
		TextColumn: c.String("text-column"), TextPairColumn: c.String("text-pair-column"),
		LabelColumn: c.String("label-column"), NoHeader: c.Bool("no-header"), SkipBadRows: c.Bool("skip-bad-rows"),
		MaxLength: c.Int("max-length"), BatchSize: c.Int("batch-size"), Threads: c.Int("threads"),
		BF16: p == precision.BF16,
	}, nil
}

func evalCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "eval",
		Usage:     "evaluate a checkpoint on labelled data: loss, accuracy, macro-F1, MCC",
		UsageText: "autofreeze eval --model CKPT --data FILE [--output metrics.json]",
		Flags: append(inferenceFlags(),
			&ucli.StringFlag{Name: "output", Usage: "also write the metrics to this JSON file"},
			&ucli.IntFlag{Name: "limit", Usage: "evaluate a seeded random sample of this many examples (0: all)"},
			&ucli.Uint64Flag{Name: "seed", Value: 42, Usage: "seed of the --limit sample"}),
		Action: func(c *ucli.Context) error {
			ic, err := inferenceConfig(c)
			if err != nil {
				return err
			}
			ic.Limit, ic.Seed = c.Int("limit"), c.Uint64("seed")
			m, err := run.Evaluate(ic)
			if err != nil {
				return classifyRunError(err)
			}
			w := c.App.Writer
			fmt.Fprintf(w, "%-11s %d\n", "examples", m.Examples)
			for _, f := range m.Fields() {
				fmt.Fprintf(w, "%-11s %.4f\n", f.Name, f.Value)
			}
			if out := c.String("output"); out != "" {
				data, _ := json.MarshalIndent(m, "", "  ")
				return atomicfile.WriteFile(out, append(data, '\n'))
			}
			return nil
		},
	}
}

func predictCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "predict",
		Usage:     "write each example's logits, probabilities and predicted label as JSONL",
		UsageText: "autofreeze predict --model CKPT --data FILE --output FILE",
		Flags: append(inferenceFlags(),
			&ucli.StringFlag{Name: "output", Usage: "JSONL file to write", Required: true}),
		Action: func(c *ucli.Context) error {
			ic, err := inferenceConfig(c)
			if err != nil {
				return err
			}
			n, err := run.Predict(ic, c.String("output"))
			if err != nil {
				return classifyRunError(err)
			}
			fmt.Fprintf(c.App.Writer, "wrote %d predictions to %s\n", n, c.String("output"))
			return nil
		},
	}
}
