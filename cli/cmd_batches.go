package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	ucli "github.com/urfave/cli/v2"

	"github.com/autofreeze/autofreeze/internal/atomicfile"
	"github.com/autofreeze/autofreeze/run"
)

// batchesCommand writes the batches a training run would train and
// evaluate on, for another trainer to use (scripts/pytorch_baseline.py).
// It takes train's flags, so a train command line becomes a batches one by
// replacing `train` with `batches` and adding --output; the flags that do
// not change the batches (freezing, caching, precision, --out) are accepted
// and ignored.
func batchesCommand() *ucli.Command {
	flags := append(trainFlags(),
		&ucli.StringFlag{Name: "test", Usage: "also write the batches of this labelled file (a test set), evaluated as autofreeze eval does"},
		&ucli.IntFlag{Name: "test-limit", Usage: "sample this many --test examples, as autofreeze eval --limit does with --seed (0: all)"},
		&ucli.StringFlag{Name: "output", Usage: "JSONL file to write (atomically)", Required: true},
	)
	return &ucli.Command{
		Name:  "batches",
		Usage: "write the exact batches a training run trains and evaluates on, as JSONL (for comparing trainers on the same data)",
		UsageText: "autofreeze batches --model DIR --train FILE [--eval FILE] [train's data, limit, seed, batch and schedule flags]\n" +
			"    [--test FILE [--test-limit N]] --output FILE\n\n" +
			"The first line is the run's settings (steps, warmup, learning rate, labels, ...); then one line per\n" +
			"training micro-batch in the order the run takes them, the held-out batches, and the --test batches.\n" +
			"scripts/pytorch_baseline.py trains PyTorch + transformers on such a file.",
		Flags:  flags,
		Before: loadConfigFile(flags),
		Action: func(c *ucli.Context) error {
			cfg := trainConfig(c)
			out := c.String("output")
			if dir := filepath.Dir(out); dir != "." {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return err
				}
			}
			var h *run.BatchesHeader
			err := atomicfile.Write(out, func(w io.Writer) error {
				var err error
				h, err = run.DumpBatches(cfg, w, c.String("test"), c.Int("test-limit"))
				return err
			})
			if err != nil {
				return classifyRunError(err)
			}
			fmt.Fprintf(c.App.Writer, "wrote %s: %d train batches (%d examples, %d epochs, %d steps), %d eval batches (%d examples), %d test batches (%d examples)\n",
				out, h.TrainBatches, h.TrainExamples, h.Epochs, h.TotalSteps, h.EvalBatches, h.EvalExamples, h.TestBatches, h.TestExamples)
			return nil
		},
	}
}
