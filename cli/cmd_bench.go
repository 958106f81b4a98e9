package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/autofreeze/autofreeze/bench"
	"github.com/autofreeze/autofreeze/internal/atomicfile"
	"github.com/autofreeze/autofreeze/internal/tinymodel"
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/precision"
	"github.com/autofreeze/autofreeze/report"
)

func benchCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "bench",
		Usage: "compare full fine-tuning, AutoFreeze (no cache, memory, disk) and static freezing; time the cache against recomputing",
		UsageText: "autofreeze bench --out DIR [--model DIR --train FILE --test FILE ...]\n" +
			"   autofreeze bench --quick --out DIR   (every mode on a tiny model, in seconds)",
		Description: "Each mode runs as its own `autofreeze train` process on the same data, seed and epochs;\n" +
			"its best checkpoint is then evaluated on the test file. Writes DIR/BENCHMARKS.md (tables)\n" +
			"and DIR/accuracy.png (loss, accuracy and frozen layers against wall time, all modes).",
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "out", Usage: "directory for the runs and results", Required: true},
			&ucli.BoolFlag{Name: "quick", Usage: "a tiny random model and a toy task: checks every mode end to end (no meaningful timings)"},
			&ucli.StringFlag{Name: "model", Value: ".deps/models/all-minilm-l6-v2", Usage: "model directory"},
			&ucli.StringFlag{Name: "train", Value: ".deps/data/imdb/train.jsonl", Usage: "training data"},
			&ucli.StringFlag{Name: "test", Value: ".deps/data/imdb/test.jsonl", Usage: "test data"},
			&ucli.IntFlag{Name: "train-limit", Value: 4000, Usage: "training examples (seeded sample)"},
			&ucli.IntFlag{Name: "eval-limit", Value: 500, Usage: "held-out examples evaluated after each epoch"},
			&ucli.IntFlag{Name: "test-limit", Value: 2000, Usage: "test examples (seeded sample)"},
			&ucli.IntFlag{Name: "epochs", Value: 3, Usage: "epochs"},
			&ucli.IntFlag{Name: "max-length", Value: 128, Usage: "tokens per example"},
			&ucli.IntFlag{Name: "batch-size", Value: 16, Usage: "batch size"},
			&ucli.Float64Flag{Name: "lr", Value: 1e-4, Usage: "peak learning rate"},
			&ucli.StringFlag{Name: "seeds", Value: "42", Usage: "comma-separated seeds; every mode runs once per seed (the time-to-accuracy protocol asks for at least 3)"},
			&ucli.IntFlag{Name: "eval-every", Usage: "held-out evaluation every N steps in every run (0: at epoch ends); the time to target is read off these"},
			&ucli.StringFlag{Name: "modes", Usage: "comma-separated modes to run (default: every one; full is always needed, it defines the target): full, autofreeze-nocache, autofreeze-memory, autofreeze-disk, autofreeze-max-K (at most K layers frozen), static-K, frozen-encoder-logreg, pytorch-fp32, pytorch-bf16"},
			&ucli.StringFlag{Name: "pytorch-python", Usage: "python of the PyTorch baseline's venv (scripts/pytorch_venv.sh prints it): adds pytorch-fp32 (and pytorch-bf16 where the CPU has native bf16) on the same batches"},
			&ucli.StringFlag{Name: "pytorch-script", Value: "scripts/pytorch_baseline.py", Usage: "the PyTorch baseline script"},
			&ucli.Float64Flag{Name: "target-drop", Value: 0.3, Usage: "the target is full fine-tuning's mean best held-out accuracy minus this many points"},
			&ucli.IntFlag{Name: "threads", Value: runtime.NumCPU(), Usage: "CPU threads for every mode"},
			&ucli.StringSliceFlag{Name: "train-arg", Usage: "extra flag for every train run (repeatable), e.g. --train-arg=--freeze-intervals=10"},
			ortLibFlag(),
		},
		Action: func(c *ucli.Context) error {
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			o := bench.Options{
				Exe: exe, Out: c.String("out"), Model: c.String("model"), Train: c.String("train"), Test: c.String("test"),
				TrainLimit: c.Int("train-limit"), EvalLimit: c.Int("eval-limit"), TestLimit: c.Int("test-limit"),
				Epochs: c.Int("epochs"), MaxLength: c.Int("max-length"), BatchSize: c.Int("batch-size"),
				LR: c.Float64("lr"), Threads: c.Int("threads"), EvalEvery: c.Int("eval-every"),
				TrainArgs: c.StringSlice("train-arg"), Logger: logger(c),
			}
			seeds, err := parseSeeds(c.String("seeds"))
			if err != nil {
				return usageError(err)
			}
			if c.Bool("quick") {
				if err := quickSetup(&o); err != nil {
					return err
				}
			}
			if err := os.MkdirAll(o.Out, 0o755); err != nil {
				return err
			}
			cfg, err := model.LoadConfig(o.Model)
			if err != nil {
				return usageError(err)
			}
			modes, pytorchModes, withProbe, err := benchModes(c, cfg.NumLayers)
			if err != nil {
				return usageError(err)
			}
			pt := bench.PyTorch{Python: c.String("pytorch-python"), Script: c.String("pytorch-script")}
			// Every seed's runs go to OUT/seed-S; the tables and the plot of
			// the first seed's runs are those of a single bench.
			var all, first []*bench.Result
			firstOpts := o
			for i, seed := range seeds {
				so := o
				so.Seed, so.Out = seed, filepath.Join(o.Out, fmt.Sprintf("seed-%d", seed))
				results, err := bench.Modes(c.Context, so, modes)
				if err != nil {
					return err
				}
				if withProbe {
					r, err := bench.RunProbe(c.Context, so)
					if err != nil {
						return err
					}
					results = append(results, r)
				}
				for _, name := range pytorchModes {
					r, err := bench.RunPyTorch(c.Context, so, pt, strings.TrimPrefix(name, "pytorch-"))
					if err != nil {
						return err
					}
					results = append(results, r)
				}
				all = append(all, results...)
				if i == 0 {
					first, firstOpts = results, so
				}
			}
			o, results := firstOpts, first
			var pc *bench.PrefixCosts
			for _, r := range results {
				if r.Mode.Name == "autofreeze-disk" && r.FinalFrozen > 0 {
					if pc, err = bench.MeasurePrefix(c.Context, o, r.RunDir, r.FinalFrozen, ortLibPath(c)); err != nil {
						return err
					}
				}
			}
			summary, err := bench.Summarize(o, all, "full", c.Float64("target-drop")/100)
			if err != nil {
				return err
			}
			summary.Command, summary.Machine = "autofreeze"+commandLine(), machineDescription()
			var js bytes.Buffer
			if err := summary.WriteJSON(&js); err != nil {
				return err
			}
			out := c.String("out")
			summaryPath := filepath.Join(out, "summary.json")
			if err := atomicfile.WriteFile(summaryPath, js.Bytes()); err != nil {
				return err
			}
			var md bytes.Buffer
			bench.Markdown(&md, o, results, pc, "autofreeze"+commandLine(), machineDescription())
			fmt.Fprintf(&md, "\n## Time to accuracy (%d seed(s))\n\n", len(seeds))
			summary.Markdown(&md, "full")
			if err := atomicfile.WriteFile(filepath.Join(out, "BENCHMARKS.md"), md.Bytes()); err != nil {
				return err
			}
			var runs []*report.Run
			for _, r := range results {
				r.Run.Name = r.Mode.Name
				runs = append(runs, r.Run)
			}
			if err := report.PNG(filepath.Join(out, "accuracy.png"), runs...); err != nil {
				return err
			}
			c.App.Writer.Write(md.Bytes())
			fmt.Fprintf(c.App.Writer, "\nwrote %s, %s and %s\n", filepath.Join(out, "BENCHMARKS.md"), filepath.Join(out, "summary.json"), filepath.Join(out, "accuracy.png"))
			return nil
		},
	}
}

// benchModes reads --modes and --pytorch-python: our training modes to run,
// the PyTorch baseline's, and whether to fit the frozen-encoder baseline
// (named, or no --modes at all).
func benchModes(c *ucli.Context, layers int) (modes []bench.Mode, pytorch []string, probe bool, err error) {
	var names []string
	for _, n := range strings.Split(c.String("modes"), ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	if len(names) > 0 && !slices.Contains(names, "full") {
		return nil, nil, false, fmt.Errorf("--modes %q: full is needed (its best held-out accuracy defines the target)", c.String("modes"))
	}
	if modes, err = bench.SelectModes(bench.AllModes(layers), layers, names); err != nil {
		return nil, nil, false, fmt.Errorf("--modes: %w", err)
	}
	probe = len(names) == 0 || slices.Contains(names, bench.ProbeMode)
	// The baseline runs when --pytorch-python is given: the PyTorch modes
	// --modes names, or else fp32 (and bf16 where the CPU has it natively).
	for _, n := range bench.PyTorchModes {
		if slices.Contains(names, n) {
			if c.String("pytorch-python") == "" {
				return nil, nil, false, fmt.Errorf("--modes %s: needs --pytorch-python (the venv scripts/pytorch_venv.sh makes)", n)
			}
			pytorch = append(pytorch, n)
		}
	}
	if len(pytorch) == 0 && c.String("pytorch-python") != "" {
		pytorch = append(pytorch, "pytorch-fp32")
		if precision.DetectCPU().NativeBF16() {
			pytorch = append(pytorch, "pytorch-bf16")
		}
	}
	return modes, pytorch, probe, nil
}

// parseSeeds reads --seeds: distinct unsigned integers, comma-separated.
func parseSeeds(s string) ([]uint64, error) {
	var seeds []uint64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("--seeds %q: %q is not an unsigned integer (want e.g. 42,43,44)", s, f)
		}
		if slices.Contains(seeds, v) {
			return nil, fmt.Errorf("--seeds %q: seed %d given twice", s, v)
		}
		seeds = append(seeds, v)
	}
	return seeds, nil
}

// commandLine is this process's arguments, for the record.
func commandLine() string {
	args := os.Args[1:]
	for i, a := range args {
		if a == "bench" {
			return " " + strings.Join(args[i:], " ")
		}
	}
	return ""
}

// quickSetup points the options at a tiny random model and toy data in
// OUT/quick-data, sized to run every mode in seconds.
func quickSetup(o *bench.Options) error {
	dir := filepath.Join(o.Out, "quick-data")
	o.Model, o.Train, o.Test = filepath.Join(dir, "model"), filepath.Join(dir, "train.csv"), filepath.Join(dir, "test.csv")
	if err := tinymodel.WriteModel(o.Model, 1); err != nil {
		return err
	}
	if err := tinymodel.WriteCSV(o.Train, 400, 1); err != nil {
		return err
	}
	if err := tinymodel.WriteCSV(o.Test, 100, 2); err != nil {
		return err
	}
	o.TrainLimit, o.EvalLimit, o.TestLimit = 360, 40, 100
	o.Epochs, o.MaxLength, o.BatchSize, o.LR, o.Threads = 3, 24, 16, 5e-3, 1
	if o.EvalEvery == 0 {
		o.EvalEvery = 5
	}
	o.TrainArgs = append(o.TrainArgs, "--freeze-intervals", "10", "--engine", "onnx")
	return nil
}

// machineDescription names the CPU, cores and memory.
func machineDescription() string {
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.TrimPrefix(strings.Split(string(data), "\n")[0], "MemTotal:"), "%d", &kb)
		mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
	}
	return fmt.Sprintf("%s, %d cores%s, no GPU (%s/%s)", cpu, runtime.NumCPU(), mem, runtime.GOOS, runtime.GOARCH)
}
