package cli

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	ucli "github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/autofreeze/autofreeze/distributed"
	"github.com/autofreeze/autofreeze/precision"
	"github.com/autofreeze/autofreeze/report"
	"github.com/autofreeze/autofreeze/run"
	"github.com/autofreeze/autofreeze/trainable"
)

// trainFlags are train's flags; each may also be set in the --config YAML
// file under the same name (the form of a run directory's config.yaml).
func trainFlags() []ucli.Flag {
	d := run.Defaults()
	str := func(name, value, usage string) ucli.Flag {
		return &ucli.StringFlag{Name: name, Value: value, Usage: usage}
	}
	num := func(name string, value int, usage string) ucli.Flag {
		return &ucli.IntFlag{Name: name, Value: value, Usage: usage}
	}
	real := func(name string, value float64, usage string) ucli.Flag {
		return &ucli.Float64Flag{Name: name, Value: value, Usage: usage}
	}
	flag := func(name, usage string) ucli.Flag {
		return &ucli.BoolFlag{Name: name, Usage: usage}
	}
	return []ucli.Flag{
		&ucli.StringFlag{Name: "config", Usage: "YAML file of settings (keys as the flags'); flags override it"},
		&ucli.BoolFlag{Name: "resume", Usage: "continue the run in --out from its last checkpoint"},
		str("model", "", "Hugging Face model directory (BERT family)"),
		str("train", "", "training data: CSV, TSV, JSONL or Parquet"),
		str("eval", "", "evaluation data (default: hold out --eval-split of the training data)"),
		real("eval-split", d.EvalSplit, "fraction of the training data held out when there is no --eval"),
		str("out", "", "run directory"),
		&ucli.Uint64Flag{Name: "seed", Value: d.Seed, Usage: "seed for shuffling, splitting, initialisation and dropout (not 0)"},
		str("format", "", "data format: csv, tsv, jsonl or parquet (default: by extension)"),
		str("text-column", "", "text column name, or 0-based index with --no-header (default \"text\")"),
		str("text-pair-column", "", "second text column, for pair tasks"),
		str("label-column", "", "label column (default \"label\")"),
		str("problem", d.Problem, "what the head learns: single_label (one class per example), multi_label (a list of labels per example: a JSON array, or names separated by commas; [] for none) or regression (a number per example)"),
		flag("no-header", "CSV/TSV files have no header row"),
		flag("skip-bad-rows", "skip malformed rows, counting and reporting them, instead of stopping"),
		num("train-limit", 0, "train on a seeded random sample of this many examples (0: all)"),
		num("eval-limit", 0, "evaluate on a seeded random sample of this many examples (0: all)"),
		num("max-length", d.MaxLength, "truncate texts to this many tokens"),
		num("batch-size", d.BatchSize, "examples per micro-batch"),
		num("eval-batch-size", d.EvalBatchSize, "examples per evaluation batch"),
		num("grad-accum", d.GradAccum, "micro-batches per optimizer step"),
		num("epochs", d.Epochs, "passes over the training data"),
		num("max-steps", 0, "stop after this many optimizer steps (overrides --epochs)"),
		real("lr", d.LR, "peak learning rate"),
		real("warmup-ratio", d.WarmupRatio, "fraction of the steps spent warming up the learning rate"),
		str("schedule", d.Schedule, "learning-rate schedule: linear, stepped (AutoFreeze's x1/x0.7/x0.4) or constant"),
		real("weight-decay", d.WeightDecay, "AdamW weight decay (not on biases and LayerNorm weights)"),
		real("max-grad-norm", d.MaxGradNorm, "clip the global gradient L2 norm (0: no clipping)"),
		flag("no-dropout", "train without dropout"),
		num("eval-every", 0, "evaluate every N steps (0: at the end of each epoch)"),
		num("log-every", d.LogEvery, "log training loss every N steps"),
		num("save-every", 0, "also checkpoint every N steps"),
		num("patience", 0, "stop after N evaluations without a better eval loss (0: never)"),
		num("threads", 0, fmt.Sprintf("CPU threads (0: all cores; at most %d)", run.MaxThreads)),
		precisionFlag(),
		str("freeze", d.Freeze, "off, auto (AutoFreeze), observe (log AutoFreeze's decisions and gradient norms, never freeze), N (freeze the first N layers) or schedule (PipeTransformer)"),
		num("freeze-max", d.FreezeMax, "AutoFreeze freezes at most this many layers (0: all but the last)"),
		num("freeze-start", d.FreezeStart, "AutoFreeze freezes this many leading layers from the first step and decides on the rest from there (0: none)"),
		num("freeze-intervals", d.FreezeIntervals, "freeze decisions per run (interval = total steps / this)"),
		real("freeze-percentile", d.FreezePercentile, "percentile of the layers' gradient changes below which a prefix freezes"),
		str("freeze-norm", d.FreezeNorm, "gradient norm of the freeze signal: l1 (as the paper's code) or l2"),
		str("cache", d.Cache, "activations of the frozen prefix: off (recompute), memory, disk, or auto (disk when an epoch or more of training remains, so the cache pays for itself)"),
		str("cache-switch", d.CacheSwitch, "start reading a new cache: immediate (once built) or epoch (from the next epoch, as the paper)"),
		str("cache-build", d.CacheBuild, "build a new cache blocking (training waits) or in the background (ONNX Runtime beside training, which reads it --cache-lag steps after the freeze)"),
		num("cache-lag", 0, "with --cache-build background: steps after a freeze decision at which training switches to the new cache, waiting for it if needed (0: one freeze interval)"),
		str("cache-dtype", d.CacheDType, "cache precision: fp32, fp16 or bf16"),
		str("engine", d.Engine, "what runs the frozen prefix to fill the cache: onnx (ONNX Runtime) or torch"),
		&ucli.BoolFlag{Name: "fused", Value: true, Usage: "export the frozen prefix with ONNX Runtime's fused operators (15-30% faster on CPU; --fused=false for standard operators only)"},
		flag("int8", "export the frozen prefix with int8 projection weights (with --fused): faster on CPU, activations within about 1%"),
		str("provider", d.Provider, "ONNX Runtime execution provider: cpu, cuda or tensorrt"),
		str("device", d.Device, "where the trainable layers (and --engine torch) run: cpu, cuda (each rank its local GPU), cuda:N, or auto (a GPU when there is one; the CPU variant of the build has none)"),
		str("dist-backend", d.DistBackend, "data-parallel runs: gloo, nccl (GPUs, the CUDA build), or auto (nccl when every rank trains on a GPU)"),
		str("mode", d.Mode, "data-parallel runs: performance (keep every worker) or efficiency (give workers back as layers freeze; needs --profile and autofreeze launch)"),
		str("profile", "", "efficiency mode: the profile autofreeze plan profile measured"),
		real("cluster-bandwidth-gbps", 0, "efficiency mode's cost model: each worker's link, Gbit/s (0: 10)"),
		real("cluster-latency-us", 0, "efficiency mode's cost model: latency per all-reduce hop, µs (0: 50)"),
		real("cluster-restart-seconds", 0, "efficiency mode's cost model: time to restart on fewer workers (0: 60)"),
		real("cluster-scaling-efficiency", 0, "efficiency mode's cost model: what each added worker contributes, in (0, 1] (0: 1, linear)"),
		&ucli.DurationFlag{Name: "dist-timeout", Value: distributed.DefaultTimeout, Usage: "data-parallel runs: how long a rank waits in a collective (for rank 0's evaluation, a cache build, a slow rank) before failing"},
		ortLibFlag(),
	}
}

// loadConfigFile fills the flags from the --config YAML file (flags given
// on the command line win), then checks every setting, so that train,
// batches and plan profile refuse the same values with the same messages
// whether they came from a flag or from the file (named with its line).
//
// The file's keys are the flags' names, and each value is parsed by its
// flag exactly as on the command line: `batch-size: 1e3` fails as
// `--batch-size 1e3` does.
func loadConfigFile(flags []ucli.Flag) ucli.BeforeFunc {
	return func(c *ucli.Context) error {
		origin := map[string]string{}
		if path := c.String("config"); path != "" {
			if err := applyConfigFile(c, flags, path, origin); err != nil {
				return usageError(err)
			}
		}
		return checkSettings(c, origin)
	}
}

// applyConfigFile sets every flag the file at path gives a value that the
// command line did not; origin records "FILE:LINE" for each.
func applyConfigFile(c *ucli.Context, flags []ucli.Flag, path string, origin map[string]string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: not valid YAML: %v", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if doc.Kind == 0 || len(doc.Content) == 0 || doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Tag == "!!null" {
		return fmt.Errorf("%s: the file holds no settings: write one `key: value` per line, with the flags' names as keys (e.g. `model: DIR`)", path)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("%s:%d: want `key: value` lines (a YAML mapping) with the flags' names as keys", path, root.Line)
	}
	byName := map[string]ucli.Flag{}
	for _, f := range flags {
		for _, name := range f.Names() {
			if name != "config" {
				byName[name] = f
			}
		}
	}
	seen := map[string]string{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		at := fmt.Sprintf("%s:%d", path, k.Line)
		f, ok := byName[k.Value]
		switch {
		case !ok && byName[strings.ReplaceAll(k.Value, "_", "-")] != nil:
			return fmt.Errorf("%s: unknown key %q: did you mean %s? (the keys are the flags' names)", at, k.Value, strings.ReplaceAll(k.Value, "_", "-"))
		case !ok:
			return fmt.Errorf("%s: unknown key %q: the keys are the flags' names (see autofreeze %s --help)", at, k.Value, c.Command.Name)
		case seen[k.Value] != "":
			return fmt.Errorf("%s: %s is set twice (also at %s)", at, k.Value, seen[k.Value])
		case v.Kind != yaml.ScalarNode:
			return fmt.Errorf("%s: %s: want a single value, not a list or mapping", at, k.Value)
		}
		seen[k.Value] = at
		if v.Tag == "!!null" || c.IsSet(k.Value) {
			continue // no value, or the command line's wins
		}
		if err := c.Set(k.Value, v.Value); err != nil {
			return fmt.Errorf("%s: %s: %q is not %s", at, k.Value, v.Value, flagKind(f, v.Value))
		}
		origin[k.Value] = at
	}
	return nil
}

// flagKind says what a flag's value must look like, for errors.
func flagKind(f ucli.Flag, value string) string {
	switch f.(type) {
	case *ucli.IntFlag, *ucli.Uint64Flag:
		if x, err := strconv.ParseFloat(value, 64); err == nil && x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return fmt.Sprintf("a whole number in digits: write %d", int64(x))
		}
		return "a whole number"
	case *ucli.Float64Flag:
		return "a number"
	case *ucli.BoolFlag:
		return "true or false"
	case *ucli.DurationFlag:
		return "a duration such as 90s or 30m"
	}
	return "a valid value"
}

// checkSettings checks every setting of a training run's flags (those
// train, batches and plan profile share), naming each bad one as the user
// gave it: --flag, or FILE:LINE: key.
func checkSettings(c *ucli.Context, origin map[string]string) error {
	cfg := trainConfig(c)
	var problems []run.Problem
	if p, err := precision.Parse(cfg.Precision); err != nil {
		problems = append(problems, run.Problem{Key: "precision", Value: strconv.Quote(cfg.Precision), Want: "want fp32, bf16 or auto"})
		cfg.Precision = string(precision.FP32)
	} else if cfg.Precision = string(p); p == precision.Auto {
		cfg.Precision = string(precision.FP32) // resolved for this CPU later
	}
	var se *run.SettingsError
	if err := cfg.ValidateSettings(); errors.As(err, &se) {
		problems = append(problems, se.Problems...)
	}
	if d := c.Duration("dist-timeout"); d <= 0 {
		problems = append(problems, run.Problem{Key: "dist-timeout", Value: d.String(), Want: "want a positive duration such as 30m"})
	}
	return settingsError(problems, origin)
}

// settingsError is a usage error listing problems, each prefixed by where
// the setting came from.
func settingsError(problems []run.Problem, origin map[string]string) error {
	if len(problems) == 0 {
		return nil
	}
	lines := make([]string, len(problems))
	for i, p := range problems {
		if at := origin[p.Key]; at != "" {
			lines[i] = at + ": " + p.String()
		} else {
			lines[i] = "--" + p.String()
		}
	}
	if len(lines) == 1 {
		return usagef("invalid setting %s", lines[0])
	}
	return usagef("invalid settings:\n  %s", strings.Join(lines, "\n  "))
}

func trainCommand() *ucli.Command {
	flags := trainFlags()
	return &ucli.Command{
		Name:      "train",
		Usage:     "fine-tune a classifier, freezing converged layers (--freeze auto)",
		UsageText: "autofreeze train --model DIR --train FILE [--eval FILE] --out RUN_DIR [--freeze auto] [--cache disk]",
		Flags:     flags,
		Before:    loadConfigFile(flags),
		Action: func(c *ucli.Context) error {
			cfg, err := trainConfig(c).ResolvePrecision()
			if err != nil {
				return usageError(err)
			}
			// Every flag holds a value (its default unless given), so
			// nothing here is "unset": a zero is the user's and is refused
			// where it is not a meaningful value.
			if err := cfg.Validate(); err != nil {
				var se *run.SettingsError
				if errors.As(err, &se) {
					return settingsError(se.Problems, nil)
				}
				return usageError(err)
			}
			opts := run.Options{Resume: c.Bool("resume"), Logger: logger(c)}
			place, err := choosePlace(c, cfg)
			if err != nil {
				return err
			}
			if distributed.Launched(os.LookupEnv) {
				world, err := joinWorld(c, cfg, &opts, place)
				if err != nil {
					return err
				}
				defer world.Close()
			}
			obs := newProgress(c.App.ErrWriter, c.Bool("quiet") || !opts.World.Main())
			opts.Observer = obs
			res, err := run.Train(c.Context, cfg, opts)
			obs.done()
			if errors.Is(err, run.ErrResize) {
				return &exitError{code: distributed.ExitResize, err: err}
			}
			if err != nil {
				return classifyRunError(err)
			}
			if opts.World.Main() {
				printTrainResult(c, res)
			}
			return nil
		},
	}
}

// trainConfig builds the run configuration from the flags (which
// loadConfigFile has filled from --config).
func trainConfig(c *ucli.Context) run.Config {
	return run.Config{
		Model: c.String("model"), Train: c.String("train"), Eval: c.String("eval"),
		EvalSplit: c.Float64("eval-split"), Out: c.String("out"), Seed: c.Uint64("seed"),
		Format: c.String("format"), TextColumn: c.String("text-column"), TextPairColumn: c.String("text-pair-column"),
		LabelColumn: c.String("label-column"), Problem: c.String("problem"), NoHeader: c.Bool("no-header"), SkipBadRows: c.Bool("skip-bad-rows"),
		TrainLimit: c.Int("train-limit"), EvalLimit: c.Int("eval-limit"),
		MaxLength: c.Int("max-length"), BatchSize: c.Int("batch-size"), EvalBatchSize: c.Int("eval-batch-size"),
		GradAccum: c.Int("grad-accum"), Epochs: c.Int("epochs"), MaxSteps: c.Int("max-steps"),
		LR: c.Float64("lr"), WarmupRatio: c.Float64("warmup-ratio"), Schedule: c.String("schedule"),
		WeightDecay: c.Float64("weight-decay"), MaxGradNorm: c.Float64("max-grad-norm"), NoDropout: c.Bool("no-dropout"),
		EvalEvery: c.Int("eval-every"), LogEvery: c.Int("log-every"), SaveEvery: c.Int("save-every"),
		Patience: c.Int("patience"), Threads: c.Int("threads"), Precision: c.String("precision"),
		Freeze: c.String("freeze"), FreezeIntervals: c.Int("freeze-intervals"),
		FreezePercentile: c.Float64("freeze-percentile"), FreezeNorm: c.String("freeze-norm"), FreezeMax: c.Int("freeze-max"), FreezeStart: c.Int("freeze-start"),
		Cache: c.String("cache"), CacheSwitch: c.String("cache-switch"), CacheBuild: c.String("cache-build"), CacheLag: c.Int("cache-lag"), CacheDType: c.String("cache-dtype"),
		Engine: c.String("engine"), Fused: c.Bool("fused"), Int8: c.Bool("int8"), Provider: c.String("provider"), ORTLib: ortLibPath(c),
		Device: c.String("device"), DistBackend: c.String("dist-backend"),
		Mode: c.String("mode"), Profile: c.String("profile"),
		ClusterBandwidthGbps: c.Float64("cluster-bandwidth-gbps"), ClusterLatencyUs: c.Float64("cluster-latency-us"),
		ClusterRestartSeconds: c.Float64("cluster-restart-seconds"), ClusterScalingEfficiency: c.Float64("cluster-scaling-efficiency"),
	}
}

// classifyRunError marks errors caused by the user's input as usage
// errors (exit 2); run wraps most of them in run.ErrInput already.
func classifyRunError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) && !errors.Is(err, run.ErrInput) {
		return usageError(err)
	}
	return err
}

func printTrainResult(c *ucli.Context, res *run.Result) {
	w := c.App.Writer
	if r, err := report.Load(res.RunDir); err == nil {
		report.Summary(w, r)
		png := filepath.Join(res.RunDir, "report.png")
		if err := report.PNG(png, r); err != nil {
			logger(c).Warn("could not draw the report", "err", err)
		} else {
			fmt.Fprintf(w, "plot         %s\n", png)
		}
	} else {
		logger(c).Warn("could not read the run's metrics", "err", err)
	}
	fmt.Fprintf(w, "best model   %s\n", res.BestCheckpoint)
}

// joinWorld makes this process a rank of the data-parallel job its launcher
// (torchrun, autofreeze launch) describes in the environment. A job whose
// run directory has a checkpoint continues from the latest one.
func joinWorld(c *ucli.Context, cfg run.Config, opts *run.Options, p place) (*distributed.World, error) {
	env, err := distributed.EnvFrom(os.LookupEnv)
	if err != nil {
		return nil, usageError(err)
	}
	log := logger(c).With("rank", env.Rank)
	world, err := distributed.Join(env, distributed.Options{Timeout: c.Duration("dist-timeout"),
		Backend: distributed.Backend(cfg.DistBackend), CUDA: p.cuda, Device: p.gpu})
	if err != nil {
		return nil, err
	}
	log.Info("joined the job", "backend", string(world.Backend()), "device", p.name, "world", world.Size())
	opts.World, opts.Logger = world, log
	opts.ResizeFile = os.Getenv(distributed.ResizeFileVar)
	// Under a launcher a checkpoint means a restart (by the agent, or a
	// requeued or resubmitted job, whose restart count starts again at 0).
	// Checkpoints are only written once every rank has joined, so all
	// ranks see the same answer here.
	if !opts.Resume && run.HasCheckpoint(cfg.WithDefaults().Out) {
		log.Info("resuming from the latest checkpoint", "attempt", env.RestartCount)
		opts.Resume = true
	}
	return world, nil
}

// place is where this process trains: its device, and its GPU for NCCL.
type place struct {
	name string // "cpu" or "cuda:N"
	cuda bool
	gpu  int
}

// choosePlace resolves --device on this machine (a rank's "cuda" is its
// local rank's GPU) and makes it the encoders' device, and checks that
// --dist-backend can run here. A GPU or NCCL asked for that is not there
// is a usage error (exit 2) saying what is missing; auto without a GPU in
// the CUDA build says, in one line, that it runs on the CPU.
func choosePlace(c *ucli.Context, cfg run.Config) (place, error) {
	localRank := 0
	if distributed.Launched(os.LookupEnv) {
		if env, err := distributed.EnvFrom(os.LookupEnv); err == nil {
			localRank = env.LocalRank
		}
	}
	dev, note, err := trainable.ResolveDevice(cfg.Device, localRank)
	if err != nil {
		return place{}, usageError(err)
	}
	if note != "" {
		logger(c).Warn(note, "device", cfg.Device)
	}
	p := place{name: trainable.DeviceName(dev), cuda: dev.IsCuda()}
	if p.cuda {
		p.gpu = dev.Value
	}
	if err := distributed.CheckBackend(distributed.Backend(cfg.DistBackend), p.cuda); err != nil {
		return place{}, usageError(err)
	}
	trainable.SetDefaultDevice(dev)
	return p, nil
}
