// Package bench answers two questions with numbers: does adaptive freezing
// beat full fine-tuning and static freezing, and does caching the frozen
// prefix's activations pay off against recomputing them? It runs
// `autofreeze train` once per mode as a child process (so each mode's wall
// time and peak memory are its own), evaluates each best checkpoint on held
// out test data, times the ways of obtaining the prefix's activations, and
// writes Markdown tables and a plot.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/autofreeze/autofreeze/internal/atomicfile"
	"github.com/autofreeze/autofreeze/report"
)

// Options say what to compare. Every mode trains on the same data, seed,
// epochs and step budget.
type Options struct {
	Exe                              string   // the autofreeze binary that runs each mode
	Env                              []string // environment of the child processes (nil: this one's)
	Out                              string   // directory for the runs, tables and plot
	Model, Train, Test               string
	TrainLimit, EvalLimit, TestLimit int
	Epochs, MaxLength, BatchSize     int
	LR                               float64
	Seed                             uint64
	Threads                          int
	// EvalEvery is the held-out evaluation cadence in optimizer steps of
	// every run (0: at epoch ends), for the time-to-accuracy protocol.
	EvalEvery int
	// TrainArgs are more flags for every `train` (e.g. --freeze-intervals).
	TrainArgs []string
	Logger    *slog.Logger
}

// Mode is one way of fine-tuning.
type Mode struct {
	Name  string
	About string
	Args  []string
}

// Result is one mode's outcome with one seed. RunMode writes it to the run
// directory's bench-result.json, and reuses a finished one instead of
// training again, so an interrupted bench resumes where it stopped.
type Result struct {
	Mode           Mode
	Seed           uint64
	RunDir         string
	WallSeconds    float64 // the whole `train` process
	TrainSeconds   float64 // training and evaluation, from its metrics
	TestAccuracy   float64
	TestExamples   int
	BestEvalAcc    float64
	ExamplesPerSec float64 // training examples over training wall time
	PeakRSSBytes   int64
	CacheBytes     int64
	FinalFrozen    int
	IdealSpeedup   float64
	Run            *report.Run `json:"-"`
}

// resultFile is where RunMode records a finished mode.
const resultFile = "bench-result.json"

func (o Options) log() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o.Logger
}

func (o Options) trainArgs(out string) []string {
	args := []string{"--quiet", "train", "--model", o.Model, "--train", o.Train, "--out", out,
		"--seed", strconv.FormatUint(o.Seed, 10), "--epochs", strconv.Itoa(o.Epochs),
		"--max-length", strconv.Itoa(o.MaxLength), "--batch-size", strconv.Itoa(o.BatchSize),
		"--lr", strconv.FormatFloat(o.LR, 'g', -1, 64), "--threads", strconv.Itoa(o.Threads),
		"--train-limit", strconv.Itoa(o.TrainLimit), "--eval-limit", strconv.Itoa(o.EvalLimit)}
	if o.EvalEvery > 0 {
		args = append(args, "--eval-every", strconv.Itoa(o.EvalEvery))
	}
	return append(args, o.TrainArgs...)
}

// RunMode trains one mode in a child process, then evaluates its best
// checkpoint on the test data. A mode whose run directory already holds
// its result (same arguments) is not run again.
func RunMode(ctx context.Context, o Options, m Mode) (*Result, error) {
	dir := filepath.Join(o.Out, m.Name)
	if res, err := loadResult(dir, o, m); err == nil {
		o.log().Info("bench: reusing the finished run", "mode", m.Name, "seed", o.Seed, "dir", dir)
		return res, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	args := append(o.trainArgs(dir), m.Args...)
	o.log().Info("bench: training", "mode", m.Name, "args", m.Args)
	t0 := time.Now()
	state, err := runChild(ctx, o, args, filepath.Join(o.Out, m.Name+".log"))
	if err != nil {
		return nil, fmt.Errorf("mode %s: %w", m.Name, err)
	}
	res := &Result{Mode: m, Seed: o.Seed, RunDir: dir, WallSeconds: time.Since(t0).Seconds()}
	if ru, ok := state.SysUsage().(*syscall.Rusage); ok {
		res.PeakRSSBytes = ru.Maxrss * 1024
	}
	r, err := report.Load(dir)
	if err != nil {
		return nil, err
	}
	res.Run = r
	res.TrainSeconds = r.Elapsed()
	res.FinalFrozen = r.FinalFrozen()
	res.IdealSpeedup = r.IdealSpeedup()
	res.CacheBytes = r.CacheBytes()
	if b := r.Best(); b != nil {
		res.BestEvalAcc = b.Accuracy
	}
	if res.TrainSeconds > 0 {
		res.ExamplesPerSec = float64(r.TrainSize*o.Epochs) / res.TrainSeconds
	}
	testJSON := filepath.Join(dir, "test.json")
	evalArgs := []string{"--quiet", "eval", "--model", filepath.Join(dir, "checkpoints", "best"), "--data", o.Test,
		"--limit", strconv.Itoa(o.TestLimit), "--seed", strconv.FormatUint(o.Seed, 10), "--threads", strconv.Itoa(o.Threads),
		"--max-length", strconv.Itoa(o.MaxLength), "--output", testJSON}
	if _, err := runChild(ctx, o, evalArgs, filepath.Join(o.Out, m.Name+"-test.log")); err != nil {
		return nil, fmt.Errorf("mode %s: test evaluation: %w", m.Name, err)
	}
	var tm struct {
		Accuracy float64 `json:"accuracy"`
		Examples int     `json:"examples"`
	}
	data, err := os.ReadFile(testJSON)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &tm); err != nil {
		return nil, fmt.Errorf("%s: %w", testJSON, err)
	}
	res.TestAccuracy, res.TestExamples = tm.Accuracy, tm.Examples
	if err := saveResult(dir, o, res); err != nil {
		return nil, err
	}
	o.log().Info("bench: done", "mode", m.Name, "wall_s", fmt.Sprintf("%.1f", res.WallSeconds), "test_accuracy", res.TestAccuracy, "frozen", res.FinalFrozen)
	return res, nil
}

// savedResult is bench-result.json: the result and the arguments that
// produced it.
type savedResult struct {
	Args   []string `json:"args"`
	Result *Result  `json:"result"`
}

func saveResult(dir string, o Options, res *Result) error {
	data, err := json.MarshalIndent(savedResult{Args: append(o.trainArgs(dir), res.Mode.Args...), Result: res}, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, resultFile), append(data, '\n'))
}

// loadResult reads a finished mode's result, provided it was made with the
// same arguments, and its metrics.
func loadResult(dir string, o Options, m Mode) (*Result, error) {
	data, err := os.ReadFile(filepath.Join(dir, resultFile))
	if err != nil {
		return nil, err
	}
	var saved savedResult
	if err := json.Unmarshal(data, &saved); err != nil || saved.Result == nil {
		return nil, fmt.Errorf("%s: unreadable", resultFile)
	}
	if !slices.Equal(saved.Args, append(o.trainArgs(dir), m.Args...)) {
		return nil, fmt.Errorf("%s: made with other arguments", resultFile)
	}
	if saved.Result.Run, err = report.Load(dir); err != nil {
		return nil, err
	}
	saved.Result.Mode = m
	return saved.Result, nil
}

// runChild runs the autofreeze binary, its output going to logPath.
func runChild(ctx context.Context, o Options, args []string, logPath string) (*os.ProcessState, error) {
	return runProgram(ctx, o, o.Exe, args, logPath)
}

// runProgram runs exe with o's environment, its output going to logPath;
// a failure carries the log's tail.
func runProgram(ctx context.Context, o Options, exe string, args []string, logPath string) (*os.ProcessState, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = o.Env
	if err := cmd.Run(); err != nil {
		tail, _ := os.ReadFile(logPath)
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		return nil, fmt.Errorf("%s %v: %w\n%s", exe, args, err, tail)
	}
	return cmd.ProcessState, nil
}

// AllModes lists every mode for a model of the given number of layers:
// full fine-tuning, AutoFreeze without a cache and with the memory and disk
// caches, then static freezing of every k from 1 to all layers but the
// last, with the disk cache (the best of these, chosen in hindsight, is
// what adaptive freezing has to beat).
func AllModes(layers int) []Mode {
	modes := []Mode{
		{"full", "full fine-tuning (no freezing)", []string{"--freeze", "off"}},
		{"autofreeze-nocache", "AutoFreeze, frozen prefix recomputed under no-grad", []string{"--freeze", "auto", "--cache", "off"}},
		{"autofreeze-memory", "AutoFreeze, activations cached in memory", []string{"--freeze", "auto", "--cache", "memory"}},
		{"autofreeze-disk", "AutoFreeze, activations cached on disk", []string{"--freeze", "auto", "--cache", "disk"}},
		{"autofreeze-auto", "AutoFreeze, activations cached on disk when the cache pays for itself (an epoch or more left)", []string{"--freeze", "auto", "--cache", "auto"}},
	}
	for k := 1; k < layers; k++ {
		modes = append(modes, Mode{fmt.Sprintf("static-%d", k), fmt.Sprintf("the first %d layers frozen from the start, activations cached on disk", k),
			[]string{"--freeze", strconv.Itoa(k), "--cache", "disk"}})
	}
	return modes
}

// tunedMode is AutoFreeze with s layers frozen from the first step
// (--freeze-start s) and at most k frozen (--freeze-max k), named
// autofreeze-start-S, autofreeze-max-K or autofreeze-start-S-max-K; only run
// when named.
func tunedMode(name string, layers int) (Mode, bool) {
	rest, ok := strings.CutPrefix(name, "autofreeze")
	if !ok || rest == "" {
		return Mode{}, false
	}
	num := func(key string) (int, bool) { // "-key-N" at the front of rest
		tail, ok := strings.CutPrefix(rest, "-"+key+"-")
		if !ok {
			return 0, false
		}
		digits, after, more := strings.Cut(tail, "-")
		n, err := strconv.Atoi(digits)
		if err != nil || strconv.Itoa(n) != digits || n < 1 || n > layers-1 {
			return 0, false
		}
		if more {
			after = "-" + after
		}
		rest = after
		return n, true
	}
	start, hasStart := num("start")
	maxK, hasMax := num("max")
	if rest != "" || (hasStart && hasMax && start > maxK) {
		return Mode{}, false
	}
	args := []string{"--freeze", "auto"}
	var about []string
	if hasStart {
		args = append(args, "--freeze-start", strconv.Itoa(start))
		about = append(about, fmt.Sprintf("the first %d layers frozen from the start", start))
	}
	if hasMax {
		args = append(args, "--freeze-max", strconv.Itoa(maxK))
		about = append(about, fmt.Sprintf("at most %d layers frozen", maxK))
	}
	// A start prefix is cached from step 0; later freeze points are cached
	// only when enough training is left for the build to pay (--cache auto),
	// as they come when most of a short run is over.
	cache, where := "disk", "activations cached on disk"
	if hasStart {
		cache, where = "auto", "activations cached on disk when the cache pays for itself"
	}
	return Mode{name, fmt.Sprintf("AutoFreeze with %s, %s", strings.Join(about, " and "), where),
		append(args, "--cache", cache)}, true
}

// SelectModes keeps the modes named in names (all when names is empty), in
// AllModes' order, then the tuned AutoFreeze modes named (autofreeze-max-K,
// autofreeze-start-S, autofreeze-start-S-max-K with S ≤ K, both from 1 to
// layers−1); an unknown name is an error that lists the
// known ones.
func SelectModes(all []Mode, layers int, names []string) ([]Mode, error) {
	if len(names) == 0 {
		return all, nil
	}
	var known []string
	for _, m := range all {
		known = append(known, m.Name)
	}
	var tuned []Mode
	for _, n := range names {
		if m, ok := tunedMode(n, layers); ok {
			tuned = append(tuned, m)
			continue
		}
		if !slices.Contains(known, n) && !slices.Contains(PyTorchModes, n) && n != ProbeMode {
			return nil, fmt.Errorf("unknown mode %q: want some of %s, autofreeze-max-K, autofreeze-start-S, autofreeze-start-S-max-K (S ≤ K, both from 1 to %d), %s, %s", n, strings.Join(known, ", "), layers-1, ProbeMode, strings.Join(PyTorchModes, ", "))
		}
	}
	var out []Mode
	for _, m := range all {
		if slices.Contains(names, m.Name) {
			out = append(out, m)
		}
	}
	return append(out, tuned...), nil
}

// Modes runs the given modes with o.Seed, in order.
func Modes(ctx context.Context, o Options, modes []Mode) ([]*Result, error) {
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	var results []*Result
	for _, m := range modes {
		r, err := RunMode(ctx, o, m)
		if err != nil {
			return results, err
		}
		results = append(results, r)
	}
	return results, nil
}
