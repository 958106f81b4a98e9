package run

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/autofreeze/autofreeze/distributed"
	"github.com/autofreeze/autofreeze/freeze"
	"github.com/autofreeze/autofreeze/internal/dirlock"
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/plan"
	"github.com/autofreeze/autofreeze/text"
	"github.com/autofreeze/autofreeze/trainable"
)

// Progress is reported after every logged step.
type Progress struct {
	Step, TotalSteps int
	Epoch, Epochs    int
	Loss             float64 // mean training loss since the last report
	ExamplesPerSec   float64
	Elapsed, ETA     time.Duration
	Frozen           int
}

// Observer receives progress; the command line draws it as a progress bar
// or log lines.
type Observer interface{ Progress(Progress) }

// Options are how to run, as opposed to what (Config).
type Options struct {
	// Resume continues the run in Config.Out from its last checkpoint.
	Resume   bool
	Logger   *slog.Logger // nil: discard
	Observer Observer     // nil: none
	// World, when set, makes this process one rank of a data-parallel
	// run: it trains on its share of every global batch (BatchSize ×
	// GradAccum examples), and only rank 0 writes the run directory.
	World *distributed.World
	// ResizeFile is where, in efficiency mode, rank 0 writes the world size
	// the run continues on after giving workers back; Train then returns
	// ErrResize on every rank. Empty: the launcher cannot resize (torchrun),
	// and the run keeps its workers.
	ResizeFile string
}

// Result is what a finished run reports.
type Result struct {
	RunDir         string
	BestCheckpoint string
	LastCheckpoint string
	BestEval       Metrics
	Test           *Metrics
	Steps          int
	Epochs         int
	Elapsed        time.Duration
	Frozen         int
	Stopped        string // why training ended: "completed", "early stopping"
}

// ErrRunExists is returned when the run directory already holds a run and
// Resume is not set.
var ErrRunExists = errors.New("run directory already holds a run")

// ErrInterrupted is wrapped by the error Train returns when its context is
// cancelled (SIGINT, SIGTERM): the step in progress was finished (or, in a
// cache build, abandoned) and, on a single process, checkpointed; --resume
// continues from the last checkpoint, which the error names.
var ErrInterrupted = errors.New("training interrupted")

// LockFile is the lock file in a run directory (package dirlock): one
// process at a time writes a run.
const LockFile = ".lock"

// trainRun is the state of a run in progress.
type trainRun struct {
	ctx     context.Context // nil: never cancelled
	lock    *dirlock.Lock   // on the run directory, held by rank 0
	cfg     Config
	opts    Options
	log     *slog.Logger
	tok     *text.Tokenizer
	mcfg    *model.Config
	labels  text.LabelSet
	train   *split
	eval    *split
	enc     *trainable.Encoder
	tr      *trainable.Trainer
	policy  freeze.Policy
	fcfg    freeze.Config
	metrics *metricsLog
	st      TrainerState
	prefix  *prefixState
	// evalPrefix keeps the held-out split's states entering the frozen
	// point (evalcache.go); evalPrefixOff: they would not fit in memory.
	evalPrefix    *evalPrefix
	evalPrefixOff bool
	world         *distributed.World // nil: one process
	profile       *plan.Profile      // efficiency mode's cost model input
	// resizeDue: the freeze point moved in efficiency mode; after this
	// step's evaluation, ask whether fewer workers will do.
	resizeDue bool

	microPerEpoch, stepsPerEpoch, epochs, warmup, interval int
	start                                                  time.Time
	elapsedBase                                            float64
	resumedAt                                              int // the step this process started at (for the ETA)
	dataHash                                               string
}

// Train runs (or resumes) a fine-tuning run and writes its directory.
func Train(ctx context.Context, cfg Config, opts Options) (*Result, error) {
	cfg = cfg.WithDefaults()
	cfg, err := cfg.ResolvePrecision()
	if err != nil {
		return nil, badInput(err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, badInput(err)
	}
	r := &trainRun{ctx: ctx, cfg: cfg, opts: opts, log: opts.Logger, world: opts.World}
	if r.log == nil {
		r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := r.prepare(); err != nil {
		r.close()
		return nil, r.stopped(err)
	}
	defer r.close()
	res, err := r.loop(ctx)
	return res, r.stopped(err)
}

func (r *trainRun) close() {
	if r.prefix != nil {
		r.prefix.close()
	}
	if r.enc != nil {
		r.enc.Close()
	}
	r.metrics.close()
	r.lock.Release()
	r.lock = nil
}

// context is the run's context (a profile's run has none).
func (r *trainRun) context() context.Context {
	if r.ctx == nil {
		return context.Background()
	}
	return r.ctx
}

// interruptedError is what a run whose context was cancelled returns.
type interruptedError struct {
	msg   string
	cause error
}

func (e *interruptedError) Error() string   { return e.msg }
func (e *interruptedError) Unwrap() []error { return []error{ErrInterrupted, e.cause} }

// stopped turns an error that the cancelled context caused (in a cache
// build, say, in the middle of a step) into one that says what to do.
func (r *trainRun) stopped(err error) error {
	if err == nil || r.ctx == nil || r.ctx.Err() == nil || errors.Is(err, ErrInterrupted) {
		return err
	}
	return r.interrupted(err, false)
}

// interrupted ends a run whose context was cancelled. At a step boundary
// (atBoundary) a single process first checkpoints the state, unless the
// step is checkpointed already; elsewhere (a cache build in the middle of
// a step) the latest checkpoint is what a resumed run continues from.
func (r *trainRun) interrupted(cause error, atBoundary bool) error {
	out := r.cfg.Out
	if atBoundary && r.world.Size() == 1 && r.st.Step > 0 && r.enc != nil {
		last, err := lastCheckpoint(out)
		switch {
		case err == nil && filepath.Base(last) == "step-"+strconv.Itoa(r.st.Step):
			// this step is checkpointed already
		default:
			r.log.Info("interrupted: saving a checkpoint", "step", r.st.Step)
			if err := r.checkpoint(false); err != nil {
				return &interruptedError{fmt.Sprintf("training interrupted at step %d, and saving its checkpoint failed (%v); --resume continues from the last checkpoint", r.st.Step, err), cause}
			}
		}
	}
	last, err := lastCheckpoint(out)
	if err != nil {
		return &interruptedError{fmt.Sprintf("training interrupted at step %d, before its first checkpoint: run the same command again to start over in %s", r.st.Step, out), cause}
	}
	step := strings.TrimPrefix(filepath.Base(last), "step-")
	return &interruptedError{fmt.Sprintf("training interrupted at step %d; %s holds the checkpoint of step %s: continue with the same command and --resume", r.st.Step, out, step), cause}
}

// configHash identifies the settings a resumed run must share with the run
// it continues.
func configHash(c Config) string {
	c.Out = ""
	// Settings added later hash as before at their defaults, so older
	// runs still resume. The mode is how the workers are used, not what is
	// trained: an efficiency-mode run resumes in performance mode and back,
	// or with another cluster description.
	c.Mode, c.Profile = "", ""
	c.ClusterBandwidthGbps, c.ClusterLatencyUs, c.ClusterRestartSeconds, c.ClusterScalingEfficiency = 0, 0, 0, 0
	if c.Precision == "fp32" {
		c.Precision = ""
	}
	if c.Problem == "single_label" {
		c.Problem = ""
	}
	if c.CacheBuild == "blocking" {
		c.CacheBuild = ""
	}
	data, _ := yaml.Marshal(c)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

func (r *trainRun) prepare() error {
	c := r.cfg
	started := startedRun(c.Out)
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return err
	}
	// The run directory is rank 0's: it alone writes it, so it alone
	// locks it, and the other ranks stop with it when it cannot.
	var lockErr error
	if r.world.Main() {
		lockErr = r.lockRunDir()
	}
	if err := r.agree(lockErr, "locking the run directory"); err != nil {
		return err
	}
	var resumeFrom string
	if dir, err := lastCheckpoint(c.Out); err == nil {
		if !r.opts.Resume {
			return badInput(fmt.Errorf("%w: %s has checkpoints; pass --resume to continue it, or choose another --out", ErrRunExists, c.Out))
		}
		resumeFrom = dir
	} else if r.opts.Resume {
		if !started {
			return badInput(fmt.Errorf("%s holds no run to resume: start it without --resume", c.Out))
		}
		// Stopped (or killed) before its first checkpoint was complete:
		// there is nothing to continue, so the run starts over.
		r.log.Warn("the run directory holds no completed checkpoint; starting the run from the beginning", "dir", c.Out)
	}
	trainable.SetThreads(c.Threads)

	var err error
	if r.mcfg, err = model.LoadConfig(c.Model); err != nil {
		return badInput(err)
	}
	if c.MaxLength > r.mcfg.MaxSequenceLength() {
		return badInput(fmt.Errorf("max-length %d exceeds the %d tokens the model's position table holds (max_position_embeddings %d)", c.MaxLength, r.mcfg.MaxSequenceLength(), r.mcfg.MaxPositions))
	}
	if r.tok, err = text.LoadTokenizer(c.Model); err != nil {
		return badInput(err)
	}
	if err := c.checkModel(r.mcfg, r.tok); err != nil {
		return badInput(err)
	}
	if r.train, r.eval, r.labels, err = loadTrainEval(c, r.tok); err != nil {
		return badInput(err)
	}
	if r.train.skipped > 0 || r.eval.skipped > 0 {
		r.log.Warn("skipped bad rows (--skip-bad-rows)", "train", r.train.skipped, "eval", r.eval.skipped)
	}
	if r.eval.len() == 0 {
		return badInput(fmt.Errorf("no evaluation examples: give --eval or a larger --eval-split"))
	}
	r.log.Info("data", "train", r.train.len(), "eval", r.eval.len(), "labels", r.labels.Names())

	weightsDir := c.Model
	if resumeFrom != "" {
		weightsDir = resumeFrom
		if r.st, err = loadTrainerState(resumeFrom); err != nil {
			return badInput(err)
		}
		if h := configHash(c); h != r.st.ConfigHash {
			return badInput(fmt.Errorf("cannot resume %s: the configuration differs from the run's (%s); rerun with the config.yaml in the run directory", c.Out, filepath.Join(c.Out, "config.yaml")))
		}
	}
	w, err := model.LoadWeights(weightsDir, r.mcfg)
	if err != nil {
		return badInput(err)
	}
	if r.enc, err = trainable.New(r.mcfg, w.Tensors, r.labels.Len(), trainable.Options{Seed: c.Seed, BF16: c.BF16()}); err != nil {
		return err
	}
	if init := r.enc.Initialised(); len(init) > 0 && resumeFrom == "" {
		r.log.Info("initialised tensors the checkpoint lacks", "tensors", init)
	}
	oc := trainable.OptimConfig{WeightDecay: c.WeightDecay, MaxGradNorm: c.MaxGradNorm, NoDropout: c.NoDropout}
	if oc.WeightDecay == 0 {
		oc.WeightDecay = -1
	}
	if oc.MaxGradNorm == 0 {
		oc.MaxGradNorm = -1
	}
	r.tr = trainable.NewTrainer(r.enc, oc)

	if r.fcfg, err = c.FreezeConfig(); err != nil {
		return err
	}
	if err := r.loadProfile(); err != nil {
		return err
	}
	p := planRun(c, r.train.len())
	r.microPerEpoch, r.stepsPerEpoch, r.epochs, r.warmup = p.microPerEpoch, p.stepsPerEpoch, p.epochs, p.warmup
	total := p.total
	r.interval = r.fcfg.IntervalSteps(total)

	if c.Freeze != "off" {
		if r.policy, err = freeze.New(r.mcfg.NumLayers, r.fcfg); err != nil {
			return err
		}
		r.tr.TrackLayerGrads(r.fcfg.Mode == freeze.Auto)
	}
	if resumeFrom != "" {
		if err := r.restore(resumeFrom); err != nil {
			return err
		}
		r.resumedAt = r.st.Step
	} else {
		r.st = TrainerState{Version: stateVersion, TotalSteps: total, BestEvalLoss: math.MaxFloat64, Labels: r.labels.Names(), MaxLength: c.MaxLength, ConfigHash: configHash(c),
			InitialWorldSize: r.world.Size()}
		if r.policy != nil && r.policy.Frozen() > 0 { // a prefix frozen from the start (static, --freeze-start)
			if err := r.tr.Freeze(r.policy.Frozen()); err != nil {
				return err
			}
		}
	}
	if r.world.Size() > 1 {
		if global := c.BatchSize * c.GradAccum; global < r.world.Size() {
			return badInput(fmt.Errorf("the global batch (batch-size %d × grad-accum %d) is smaller than the %d ranks: raise --grad-accum", c.BatchSize, c.GradAccum, r.world.Size()))
		}
		// Every rank starts from rank 0's weights, and sums its gradients
		// with the others' before each step.
		if err := r.tr.BroadcastParameters(r.world.BroadcastTensors); err != nil {
			return fmt.Errorf("copying rank 0's weights: %w", err)
		}
		r.tr.SyncGrads(r.world.SumTensors)
		r.log.Info("data-parallel", "world_size", r.world.Size(), "global_batch", c.BatchSize*c.GradAccum)
	}
	var writeErr error
	if r.world.Main() { // the run directory is rank 0's to write
		if writeErr = c.SaveYAML(filepath.Join(c.Out, "config.yaml")); writeErr == nil {
			r.metrics, writeErr = openMetrics(filepath.Join(c.Out, "metrics.jsonl"), resumeFrom != "", r.st.Step)
		}
	}
	if err := r.agree(writeErr, "writing the run directory"); err != nil {
		return err
	}
	if resumeFrom != "" {
		r.log.Info("resuming", "checkpoint", resumeFrom, "step", r.st.Step, "epoch", r.st.Epoch, "frozen", r.st.Frozen)
		if err := r.metrics.write(map[string]any{"type": "resume", "step": r.st.Step, "epoch": r.st.Epoch, "elapsed_s": r.st.ElapsedSeconds, "checkpoint": resumeFrom}); err != nil {
			return err
		}
		// The caches the checkpoint trained from, verified (or rebuilt).
		for _, ref := range []*CacheRef{r.st.Cache, r.st.PendingCache} {
			if ref != nil {
				if err := r.reopenCache(*ref); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return r.metrics.write(map[string]any{"type": "start", "step": 0, "elapsed_s": 0.0, "train_examples": r.train.len(), "eval_examples": r.eval.len(), "total_steps": total, "epochs": r.epochs, "labels": r.labels.Names(), "layers": r.mcfg.NumLayers, "world_size": r.world.Size()})
}

// startedRun reports whether dir holds what a run writes before its first
// checkpoint.
func startedRun(dir string) bool {
	for _, name := range []string{"config.yaml", "metrics.jsonl", checkpointsDir} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

// lockRunDir makes the run directory this process's until close (package
// dirlock): a second run on it stops with who holds it, instead of both
// overwriting each other's checkpoints. A lock its holder left when it was
// killed is taken over.
func (r *trainRun) lockRunDir() error {
	l, err := dirlock.Acquire(r.cfg.Out, LockFile, "autofreeze train")
	if err != nil {
		return err
	}
	if l.Stale != nil {
		r.log.Info("taking over the run directory from a process that no longer runs", "holder", l.Stale.String())
	}
	r.lock = l
	return nil
}

// restore loads the optimizer, freeze and cache state of a checkpoint.
func (r *trainRun) restore(dir string) error {
	if r.st.Frozen > 0 {
		if err := r.tr.Freeze(r.st.Frozen); err != nil {
			return err
		}
	}
	if r.policy != nil && r.st.Policy != nil {
		if err := r.policy.Restore(*r.st.Policy); err != nil {
			return fmt.Errorf("%s: freeze policy state: %w", dir, err)
		}
	}
	moments, err := model.ReadSafetensors(filepath.Join(dir, optimizerFile))
	if err != nil {
		return err
	}
	if err := r.tr.RestoreOptimizerState(moments, int64(r.st.Step)); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	r.elapsedBase = r.st.ElapsedSeconds
	return nil
}

// elapsed is the training time so far, across resumes; the clock of this
// process starts with the training loop (what happens before, such as
// reopening caches on resume, counts as time zero).
func (r *trainRun) elapsed() float64 {
	if r.start.IsZero() {
		return r.elapsedBase
	}
	return r.elapsedBase + time.Since(r.start).Seconds()
}

// microSeed is the dropout seed of a micro-batch: a function of the run's
// seed, the batch's position and the rank, so a resumed run draws the same
// masks.
func (r *trainRun) microSeed(epoch, micro int) int64 {
	return int64(r.cfg.Seed)*1_000_003 + int64(epoch*r.microPerEpoch+micro) + int64(r.world.Rank())*1_000_000_007
}

func (r *trainRun) loop(ctx context.Context) (*Result, error) {
	c := r.cfg
	r.start = time.Now()
	if r.st.Step == 0 && r.st.Micro == 0 && r.tr.Frozen() > 0 { // a prefix frozen from the start
		if err := r.prefixMoved(r.st.Epoch, 0); err != nil {
			return nil, err
		}
	}
	res := &Result{RunDir: c.Out, Stopped: "completed"}
	// What the next log record averages: loss·examples, examples, and the
	// examples of all ranks.
	var lossSum, lossN float64
	lastLog := time.Now()
	global := c.BatchSize * c.GradAccum // examples per optimizer step, over all ranks
	stop := false
	for epoch := r.st.Epoch; epoch < r.epochs && !stop; epoch++ {
		order := text.EpochOrder(r.train.len(), c.Seed, epoch)
		startStep := 0
		if epoch == r.st.Epoch {
			startStep = (r.st.Micro + c.GradAccum - 1) / c.GradAccum
		}
		r.st.Epoch = epoch
		r.promote(epoch, 0) // a cache waiting for this epoch
		for s := startStep; s < r.stepsPerEpoch; s++ {
			// Between steps: a cancelled run stops here, checkpointed.
			if err := ctx.Err(); err != nil {
				return nil, r.interrupted(err, true)
			}
			r.promote(epoch, s*c.GradAccum) // a cache whose switch step this is
			if err := r.joinBackgroundBuild(epoch, s*c.GradAccum); err != nil {
				return nil, err
			}
			stepRows := order[s*global : min((s+1)*global, len(order))]
			lr := learningRate(c.Schedule, c.LR, r.st.Step, r.st.TotalSteps, r.warmup)
			sum, n, err := r.step(epoch, s, stepRows, lr)
			if err != nil {
				return nil, fmt.Errorf("step %d: %w", r.st.Step+1, err)
			}
			lossSum += sum
			lossN += n
			r.st.Micro = min((s+1)*c.GradAccum, r.microPerEpoch)
			r.st.Step++
			if r.st.Step%c.LogEvery == 0 || r.st.Step == r.st.TotalSteps {
				sums := []float64{lossSum, lossN}
				if err := r.world.SumFloat64(sums); err != nil {
					return nil, fmt.Errorf("step %d: %w", r.st.Step, err)
				}
				secs := time.Since(lastLog).Seconds()
				p := Progress{Step: r.st.Step, TotalSteps: r.st.TotalSteps, Epoch: epoch + 1, Epochs: r.epochs,
					Loss: sums[0] / sums[1], ExamplesPerSec: sums[1] / secs,
					Elapsed: time.Duration(r.elapsed() * float64(time.Second)), Frozen: r.tr.Frozen()}
				if done := r.st.Step; done > 0 {
					p.ETA = time.Duration(float64(time.Since(r.start)) / float64(done-r.resumedAt) * float64(r.st.TotalSteps-done))
				}
				if err := r.metrics.write(map[string]any{"type": "step", "step": r.st.Step, "epoch": epoch + 1, "elapsed_s": r.elapsed(),
					"loss": p.Loss, "lr": lr, "examples_per_s": p.ExamplesPerSec, "frozen_layers": r.tr.Frozen()}); err != nil {
					return nil, err
				}
				if r.opts.Observer != nil && r.world.Main() {
					r.opts.Observer.Progress(p)
				}
				lossSum, lossN, lastLog = 0, 0, time.Now()
			}
			if r.policy != nil && r.fcfg.Mode != freeze.Static && r.st.Step%r.interval == 0 {
				if err := r.decideFreeze(epoch, r.st.Micro); err != nil {
					return nil, err
				}
			}
			evalNow := c.EvalEvery > 0 && r.st.Step%c.EvalEvery == 0
			saveNow := c.SaveEvery > 0 && r.st.Step%c.SaveEvery == 0
			last := r.st.Step >= r.st.TotalSteps
			if evalNow || last {
				var err error
				if stop, err = r.evaluateAndSave(res); err != nil {
					return nil, err
				}
				if stop {
					res.Stopped = "early stopping"
				}
			} else if saveNow && r.world.Main() {
				if err := r.checkpoint(false); err != nil {
					return nil, err
				}
			}
			if r.resizeDue && !last && !stop {
				r.resizeDue = false
				if err := r.maybeResize(); err != nil {
					return nil, err
				}
			}
			if last || stop {
				stop = true
				break
			}
		}
		if stop {
			break
		}
		// The epoch is done: a checkpoint taken now resumes at the next one.
		r.st.Micro = 0
		r.st.Epoch = epoch + 1
		if c.EvalEvery == 0 {
			var err error
			if stop, err = r.evaluateAndSave(res); err != nil {
				return nil, err
			}
			if stop {
				res.Stopped = "early stopping"
			}
		}
	}
	return r.finish(res)
}

// step runs this rank's share of the global batch stepRows (step s of the
// epoch) through forward and backward passes, in micro-batches, and takes
// one optimizer step at learning rate lr. It returns the loss summed over
// this rank's examples, and their count.
func (r *trainRun) step(epoch, s int, stepRows []int, lr float64) (lossSum, n float64, err error) {
	c := r.cfg
	lo, hi := distributed.Share(len(stepRows), r.world.Rank(), r.world.Size())
	mine := stepRows[lo:hi]
	for j := 0; j*c.BatchSize < len(mine) && err == nil; j++ {
		rows := mine[j*c.BatchSize : min((j+1)*c.BatchSize, len(mine))]
		micro := s*c.GradAccum + j // as one process numbers them
		b, _ := r.train.batch(r.tok, rows)
		var hidden []float32
		var inLayer int
		if hidden, inLayer, err = r.prefixHidden(rows, b); err != nil {
			break
		}
		trainable.Seed(r.microSeed(epoch, micro))
		// Each micro-batch's mean loss weighs by its share of the step's
		// examples: the sum over micro-batches and ranks is the mean over
		// the global batch.
		var loss float64
		if loss, err = r.tr.BackwardTargets(b, hidden, inLayer, r.train.targets(rows), float64(len(rows))/float64(len(stepRows))); err != nil {
			break
		}
		lossSum += loss * float64(len(rows))
		n += float64(len(rows))
	}
	// Ranks may run different numbers of micro-batches: agree once, so
	// that none waits in the gradient sum for one that failed.
	if err := r.agree(err, "the forward and backward pass"); err != nil {
		return 0, 0, err
	}
	if _, err := r.tr.Step(lr); err != nil {
		return 0, 0, err
	}
	return lossSum, n, nil
}
