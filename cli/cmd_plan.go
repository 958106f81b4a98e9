package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/autofreeze/autofreeze/plan"
	"github.com/autofreeze/autofreeze/run"
)

func planCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "plan",
		Usage: "predict the time and cost of full fine-tuning and of AutoFreeze's performance and efficiency modes on W workers",
		UsageText: `autofreeze plan --profile profile.json --schedule RUN/metrics.jsonl [--workers 8,16,64]
   autofreeze plan profile --config train.yaml --output profile.json`,
		Description: `The prediction combines a profile measured on this machine (autofreeze plan profile:
the step time at every freeze point, gradient bytes, cache build time) with the freeze
schedule of a real AutoFreeze run (its metrics.jsonl), through the cost model of
docs/COSTMODEL.md. Numbers are predictions, not measurements.`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "profile", Usage: "profile JSON written by autofreeze plan profile"},
			&ucli.StringFlag{Name: "schedule", Usage: "metrics.jsonl of an AutoFreeze run: when the freeze point moved"},
			&ucli.StringFlag{Name: "workers", Value: "8,16,64", Usage: "comma-separated cluster sizes"},
			&ucli.Float64Flag{Name: "bandwidth-gbps", Value: 10, Usage: "each worker's link for the ring all-reduce, Gbit/s"},
			&ucli.Float64Flag{Name: "latency-us", Value: 50, Usage: "latency per all-reduce hop, microseconds"},
			&ucli.Float64Flag{Name: "restart-seconds", Value: 60, Usage: "efficiency mode: time to checkpoint and restart at a smaller world size"},
			&ucli.Float64Flag{Name: "scaling-efficiency", Value: 1, Usage: "fraction of a worker's compute each added worker contributes (1: linear)"},
		},
		Subcommands: []*ucli.Command{planProfileCommand()},
		Action: func(c *ucli.Context) error {
			if c.String("profile") == "" || c.String("schedule") == "" {
				return usageError(errors.New("plan needs --profile (measure one with autofreeze plan profile) and --schedule (the metrics.jsonl of an AutoFreeze run)"))
			}
			p, err := plan.ReadProfile(c.String("profile"))
			if err != nil {
				return usageError(err)
			}
			s, err := plan.ScheduleFromMetrics(c.String("schedule"))
			if err != nil {
				return usageError(err)
			}
			workers, err := parseWorkers(c.String("workers"))
			if err != nil {
				return usageError(err)
			}
			if c.Float64("bandwidth-gbps") <= 0 || c.Float64("latency-us") < 0 || c.Float64("restart-seconds") < 0 {
				return usageError(errors.New("--bandwidth-gbps must be positive, --latency-us and --restart-seconds not negative"))
			}
			cl := plan.Cluster{}.With(c.Float64("bandwidth-gbps"), c.Float64("latency-us"), c.Float64("restart-seconds"), c.Float64("scaling-efficiency"))
			table, err := plan.MarkdownTable(p, s, cl, workers)
			if err != nil {
				return usageError(err)
			}
			fmt.Fprint(c.App.Writer, table)
			return nil
		},
	}
}

func parseWorkers(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--workers %q: want positive integers separated by commas, e.g. 8,16,64", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func planProfileCommand() *ucli.Command {
	flags := append(trainFlags(),
		&ucli.IntFlag{Name: "steps", Value: 3, Usage: "optimizer steps timed at each freeze point"},
		&ucli.StringFlag{Name: "output", Value: "profile.json", Usage: "where to write the profile"},
	)
	return &ucli.Command{
		Name:  "profile",
		Usage: "measure, on this machine, the step time at every freeze point, the gradient bytes and the cache build time",
		UsageText: `autofreeze plan profile --model DIR --train FILE --batch-size 16 --grad-accum 4 --output profile.json
   (the training flags, or --config, as for autofreeze train; --out is not needed)`,
		Flags:  flags,
		Before: loadConfigFile(flags),
		Action: func(c *ucli.Context) error {
			if err := checkOutputFile(c.String("output"), "profile.json"); err != nil {
				return err
			}
			cfg := trainConfig(c)
			if cfg.Out == "" {
				cfg.Out = "unused" // profiling writes to a temporary directory
			}
			if err := cfg.WithDefaults().Validate(); err != nil {
				return usageError(err)
			}
			p, err := run.Profile(c.Context, cfg, run.ProfileOptions{Steps: c.Int("steps"), Logger: logger(c)})
			if err != nil {
				return classifyRunError(err)
			}
			if err := p.Write(c.String("output")); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "profile      %s (%d layers, global batch %d, step %.2fs at k=0, %.2fs at k=%d)\n",
				c.String("output"), p.Layers, p.GlobalBatch, p.StepSeconds[0], p.StepSeconds[p.Layers-1], p.Layers-1)
			return nil
		},
	}
}
