package cli

import (
	"fmt"
	"path/filepath"

	ucli "github.com/urfave/cli/v2"

	"github.com/autofreeze/autofreeze/report"
)

func reportCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "report",
		Usage:     "print a run's summary and redraw its report.png (loss, accuracy and frozen layers against wall time)",
		UsageText: "autofreeze report RUN_DIR [RUN_DIR...] [--output FILE.png]",
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "output", Usage: "PNG to write (default RUN_DIR/report.png; several runs: report.png here)"},
		},
		Action: func(c *ucli.Context) error {
			if c.NArg() == 0 {
				return usagef("report: give a run directory")
			}
			var runs []*report.Run
			for _, dir := range c.Args().Slice() {
				r, err := report.Load(dir)
				if err != nil {
					return usageError(err)
				}
				runs = append(runs, r)
				report.Summary(c.App.Writer, r)
				fmt.Fprintln(c.App.Writer)
			}
			out := c.String("output")
			if out == "" {
				out = "report.png"
				if len(runs) == 1 {
					out = filepath.Join(runs[0].Dir, "report.png")
				}
			}
			if err := report.PNG(out, runs...); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "plot: %s\n", out)
			return nil
		},
	}
}
