// Package run is a fine-tuning run from start to finish: it loads the model
// and data, trains with the freeze policy, moves the frozen prefix to ONNX
// Runtime and the activation cache when the policy says so, evaluates,
// checkpoints, resumes, and writes the run directory (config.yaml,
// metrics.jsonl, checkpoints, report).
//
// It decides the order of things; the work itself is done by trainable
// (libtorch), frozen (ONNX Runtime), cachefmt, freeze and text.
package run

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/autofreeze/autofreeze/freeze"
	"github.com/autofreeze/autofreeze/internal/atomicfile"
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/precision"
	"github.com/autofreeze/autofreeze/text"
	"github.com/autofreeze/autofreeze/trainable"
)

// Config is everything that determines a run. The run directory's
// config.yaml holds it with every default filled in; a YAML file in the same
// form can be given to `autofreeze train --config`.
type Config struct {
	Model string `yaml:"model"`
	Train string `yaml:"train"`
	// Eval is the evaluation file; when empty, EvalSplit of the training data
	// is held out (seeded).
	Eval      string  `yaml:"eval"`
	EvalSplit float64 `yaml:"eval-split"`
	Out       string  `yaml:"out"`
	Seed      uint64  `yaml:"seed"`

	Format         string `yaml:"format"`
	TextColumn     string `yaml:"text-column"`
	TextPairColumn string `yaml:"text-pair-column"`
	LabelColumn    string `yaml:"label-column"`
	// Problem is what the head learns: "single_label" (one class per
	// example), "multi_label" (a list of labels per example) or
	// "regression" (a score per example); Hugging Face's problem_type.
	Problem     string `yaml:"problem,omitempty"`
	NoHeader    bool   `yaml:"no-header"`
	SkipBadRows bool   `yaml:"skip-bad-rows"`
	// TrainLimit and EvalLimit keep a seeded random sample of that many
	// examples (0: all).
	TrainLimit int `yaml:"train-limit"`
	EvalLimit  int `yaml:"eval-limit"`

	MaxLength     int     `yaml:"max-length"`
	BatchSize     int     `yaml:"batch-size"`
	EvalBatchSize int     `yaml:"eval-batch-size"`
	GradAccum     int     `yaml:"grad-accum"`
	Epochs        int     `yaml:"epochs"`
	MaxSteps      int     `yaml:"max-steps"`
	LR            float64 `yaml:"lr"`
	WarmupRatio   float64 `yaml:"warmup-ratio"`
	// Schedule is "linear" (warmup, then linear decay to 0), "stepped"
	// (AutoFreeze's reference code: x1.0, x0.7 from 30%, x0.4 from 60% of
	// the steps) or "constant".
	Schedule    string  `yaml:"schedule"`
	WeightDecay float64 `yaml:"weight-decay"`
	MaxGradNorm float64 `yaml:"max-grad-norm"`
	NoDropout   bool    `yaml:"no-dropout"`

	// EvalEvery evaluates every N optimizer steps (0: at epoch ends only).
	EvalEvery int `yaml:"eval-every"`
	LogEvery  int `yaml:"log-every"`
	// SaveEvery writes a checkpoint every N steps (0: at evaluations only).
	SaveEvery int `yaml:"save-every"`
	// Patience stops after that many evaluations without a better eval
	// loss (0: never).
	Patience int `yaml:"patience"`
	Threads  int `yaml:"threads"`
	// Precision is the arithmetic of the forward pass: "fp32" or "bf16"
	// (mixed precision as autocast does it; package precision). "auto"
	// is resolved for this CPU before the run starts, so config.yaml
	// records what ran.
	Precision string `yaml:"precision,omitempty"`

	// Freeze is "off", "auto" (AutoFreeze), "observe" (AutoFreeze's
	// decisions logged, never applied), a number N (the first N layers
	// frozen from the start) or "schedule" (PipeTransformer's rule).
	Freeze           string  `yaml:"freeze"`
	FreezeIntervals  int     `yaml:"freeze-intervals"`
	FreezePercentile float64 `yaml:"freeze-percentile"`
	FreezeNorm       string  `yaml:"freeze-norm"`
	// FreezeMax caps how many layers AutoFreeze freezes (0: all but the
	// last); omitted when 0, so older runs' config hash is unchanged.
	FreezeMax int `yaml:"freeze-max,omitempty"`
	// FreezeStart is how many layers AutoFreeze freezes before the first
	// step, deciding on the rest from there (0: none); omitted when 0.
	FreezeStart int `yaml:"freeze-start,omitempty"`
	// Cache is where the frozen prefix's activations go: "off" (the prefix
	// runs under no-grad every step), "memory", "disk", or "auto" (on disk
	// when the cache pays for itself: an epoch or more of training left;
	// see cacheWorthBuilding).
	Cache string `yaml:"cache"`
	// CacheSwitch is when training starts reading a new cache: "immediate"
	// (the step after it is built: the default, since a cache is complete
	// when it is built) or "epoch" (from the next epoch, as the paper does,
	// whose caches fill during the epoch).
	CacheSwitch string `yaml:"cache-switch"`
	// CacheBuild is how a cache is built at a freeze decision: "blocking"
	// (training waits) or "background" (ONNX Runtime builds it beside
	// training, which reads it from CacheLag steps after the decision; see
	// background.go).
	CacheBuild string `yaml:"cache-build,omitempty"`
	// CacheLag is that number of steps (0: one freeze interval).
	CacheLag   int    `yaml:"cache-lag,omitempty"`
	CacheDType string `yaml:"cache-dtype"`
	// Engine runs the frozen prefix for the cache: "onnx" (ONNX Runtime) or
	// "torch".
	Engine string `yaml:"engine"`
	// Fused exports the prefix with ONNX Runtime's fused operators (the
	// command line's default; measured 15-30% faster than the plain graph).
	Fused bool `yaml:"fused"`
	// Int8 exports the prefix's projections with int8 weights (fused only):
	// faster on CPU, slightly different activations (export.ExportOptions).
	Int8     bool   `yaml:"int8,omitempty"`
	Provider string `yaml:"provider"`
	ORTLib   string `yaml:"ort-lib"`
	// Device is where the trainable encoder (and the torch engine) runs:
	// "cpu", "cuda", "cuda:N" or "auto" (trainable.ResolveDevice).
	// DistBackend is the process group of a data-parallel run: "auto",
	// "gloo" or "nccl". They say where a run runs, not what it trains, so
	// config.yaml and the resume check leave them out: a run resumes on
	// another device, and its config.yaml stays valid on a machine
	// without GPUs.
	Device      string `yaml:"-"`
	DistBackend string `yaml:"-"`

	// Mode is how a data-parallel run uses its workers: "performance"
	// keeps them all; "efficiency" gives some back as layers freeze
	// (checkpoint, restart at a smaller world size), choosing how many
	// with the cost model from the measured Profile (autofreeze plan
	// profile).
	Mode    string `yaml:"mode,omitempty"`
	Profile string `yaml:"profile,omitempty"`
	// The cluster efficiency mode prices its choices on (zero: the
	// defaults of plan.DefaultCluster, 10 Gbit/s, 50 µs, 60 s, linear).
	ClusterBandwidthGbps     float64 `yaml:"cluster-bandwidth-gbps,omitempty"`
	ClusterLatencyUs         float64 `yaml:"cluster-latency-us,omitempty"`
	ClusterRestartSeconds    float64 `yaml:"cluster-restart-seconds,omitempty"`
	ClusterScalingEfficiency float64 `yaml:"cluster-scaling-efficiency,omitempty"`
}

// Defaults are the values a zero field takes.
func Defaults() Config {
	return Config{
		EvalSplit: 0.1, Seed: 42, MaxLength: 128, BatchSize: 16, EvalBatchSize: 64,
		GradAccum: 1, Epochs: 3, LR: 5e-5, WarmupRatio: 0.1, Schedule: "linear",
		WeightDecay: 0.01, MaxGradNorm: 1.0, LogEvery: 10, Freeze: "off",
		FreezeIntervals: 20, FreezePercentile: 50, FreezeNorm: "l1", Cache: "off",
		CacheSwitch: "immediate", CacheDType: "fp16", Engine: "onnx", Provider: "cpu", Mode: "performance",
		Precision: "fp32", Device: "auto", DistBackend: "auto", Problem: "single_label", CacheBuild: "blocking",
	}
}

// WithDefaults fills zero fields from Defaults: to a Go caller a zero
// field means "unset". The command line never passes an unset field (each
// flag holds its default unless given), and Validate refuses a zero that
// WithDefaults would replace, so a zero the user gives (--lr 0, epochs: 0)
// is an error rather than silently the default.
func (c Config) WithDefaults() Config {
	d := Defaults()
	setS := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	setI := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setF := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		}
	}
	setF(&c.EvalSplit, d.EvalSplit)
	if c.Seed == 0 {
		c.Seed = d.Seed
	}
	setI(&c.MaxLength, d.MaxLength)
	setI(&c.BatchSize, d.BatchSize)
	setI(&c.EvalBatchSize, d.EvalBatchSize)
	setI(&c.GradAccum, d.GradAccum)
	setI(&c.Epochs, d.Epochs)
	setF(&c.LR, d.LR)
	setS(&c.Schedule, d.Schedule)
	setI(&c.LogEvery, d.LogEvery)
	setS(&c.Freeze, d.Freeze)
	setI(&c.FreezeIntervals, d.FreezeIntervals)
	setF(&c.FreezePercentile, d.FreezePercentile)
	setS(&c.FreezeNorm, d.FreezeNorm)
	setS(&c.Cache, d.Cache)
	setS(&c.CacheSwitch, d.CacheSwitch)
	setS(&c.Mode, d.Mode)
	setS(&c.CacheDType, d.CacheDType)
	setS(&c.Engine, d.Engine)
	setS(&c.Provider, d.Provider)
	setS(&c.Precision, d.Precision)
	setS(&c.Problem, d.Problem)
	setS(&c.CacheBuild, d.CacheBuild)
	setS(&c.Device, d.Device)
	setS(&c.DistBackend, d.DistBackend)
	// WarmupRatio, WeightDecay and MaxGradNorm may be 0 on purpose; the
	// command line fills their defaults.
	return c
}

// MaxThreads bounds every --threads (train, eval, predict, encode, cache):
// far above the cores of the machines this runs on, far below the tens of
// thousands of threads that make libtorch and ONNX Runtime hang. It is a
// constant rather than a multiple of this machine's cores so that a
// config.yaml valid on one machine is valid on every other (and resumes
// there).
const MaxThreads = 1024

// CheckThreads checks a thread count: 0 (one per core) to MaxThreads.
func CheckThreads(n int) error {
	if n < 0 || n > MaxThreads {
		return fmt.Errorf("threads %d: want 0 (one per core) to %d", n, MaxThreads)
	}
	return nil
}

// Bounds of the counts, so that products such as the global batch
// (batch-size × grad-accum) and the total steps cannot overflow.
const (
	maxBatch  = 1 << 20
	maxEpochs = 1 << 20
	maxSteps  = 1 << 40
	// minLR keeps the scheduled rate (lr × a fraction of the steps) far
	// from underflowing to 0.
	minLR = 1e-12
)

// Problem is one setting Validate refuses: its key (the flag's name, which
// is also its key in a --config file and in config.yaml), the value as
// given (empty for a missing one) and what it should be.
type Problem struct {
	Key, Value, Want string
}

func (p Problem) String() string {
	if p.Value == "" {
		return p.Key + ": " + p.Want
	}
	return p.Key + " " + p.Value + ": " + p.Want
}

// SettingsError lists every setting Validate refused, so that the command
// line can say where each came from (a flag, or a line of --config).
type SettingsError struct{ Problems []Problem }

func (e *SettingsError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return "invalid configuration:\n  " + strings.Join(lines, "\n  ")
}

// Validate checks every setting that does not depend on files, the
// required ones included. Zero is never taken for "unset" here: a field
// WithDefaults would fill must hold a real value (the command line passes
// each flag's default, so a zero there is one the user gave).
func (c Config) Validate() error {
	var ps []Problem
	required := func(key, v, what string) {
		if v == "" {
			ps = append(ps, Problem{Key: key, Want: "required (" + what + ")"})
		}
	}
	required("model", c.Model, "a Hugging Face model directory")
	required("train", c.Train, "a CSV, TSV, JSONL or Parquet file")
	required("out", c.Out, "the run directory")
	ps = append(ps, c.problems()...)
	if len(ps) > 0 {
		return &SettingsError{Problems: ps}
	}
	return nil
}

// ValidateSettings is Validate without the required settings (model,
// train, out), for commands that check them later or do not need them.
func (c Config) ValidateSettings() error {
	if ps := c.problems(); len(ps) > 0 {
		return &SettingsError{Problems: ps}
	}
	return nil
}

// problems checks the values of the settings.
func (c Config) problems() []Problem {
	var ps []Problem
	bad := func(key string, v any, want string, a ...any) {
		val := fmt.Sprint(v)
		if s, ok := v.(string); ok {
			val = strconv.Quote(s)
		}
		ps = append(ps, Problem{Key: key, Value: val, Want: fmt.Sprintf(want, a...)})
	}
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	oneOf := func(key, v string, allowed ...string) {
		if !slices.Contains(allowed, v) {
			last := len(allowed) - 1
			bad(key, v, "want %s or %s", strings.Join(allowed[:last], ", "), allowed[last])
		}
	}
	count := func(key string, v, lo, hi int, want string) {
		if v < lo || v > hi {
			bad(key, v, "%s", want)
		}
	}
	if !finite(c.EvalSplit) || c.EvalSplit <= 0 || c.EvalSplit >= 1 {
		bad("eval-split", c.EvalSplit, "want a fraction 0 < x < 1 of the training data to hold out (used when there is no eval file)")
	}
	if c.Seed == 0 {
		bad("seed", c.Seed, "0 is reserved (it means unset); choose any other number")
	}
	count("max-length", c.MaxLength, 8, model.MaxPositionEmbeddings, "want at least 8 tokens (and at most the model's max_position_embeddings)")
	count("batch-size", c.BatchSize, 1, maxBatch, fmt.Sprintf("want 1 to %d examples per micro-batch", maxBatch))
	count("eval-batch-size", c.EvalBatchSize, 1, maxBatch, fmt.Sprintf("want 1 to %d examples per evaluation batch", maxBatch))
	count("grad-accum", c.GradAccum, 1, maxBatch, fmt.Sprintf("want 1 to %d micro-batches per step", maxBatch))
	count("epochs", c.Epochs, 1, maxEpochs, fmt.Sprintf("want 1 to %d passes (use max-steps to stop earlier)", maxEpochs))
	count("max-steps", c.MaxSteps, 0, maxSteps, "want 0 (train for epochs) or a positive number of steps")
	if !finite(c.LR) || c.LR < minLR {
		bad("lr", c.LR, "want a positive learning rate such as 5e-05 (at least %g)", minLR)
	}
	if !finite(c.WarmupRatio) || c.WarmupRatio < 0 || c.WarmupRatio >= 1 {
		bad("warmup-ratio", c.WarmupRatio, "want a fraction 0 <= x < 1 of the steps")
	}
	oneOf("schedule", c.Schedule, "linear", "stepped", "constant")
	if !finite(c.WeightDecay) || c.WeightDecay < 0 {
		bad("weight-decay", c.WeightDecay, "want 0 (none) or a positive number such as 0.01")
	}
	if !finite(c.MaxGradNorm) || c.MaxGradNorm < 0 {
		bad("max-grad-norm", c.MaxGradNorm, "want 0 (no clipping) or a positive norm such as 1.0")
	}
	count("train-limit", c.TrainLimit, 0, math.MaxInt, "want 0 (all) or a positive number of examples")
	count("eval-limit", c.EvalLimit, 0, math.MaxInt, "want 0 (all) or a positive number of examples")
	count("eval-every", c.EvalEvery, 0, math.MaxInt, "want 0 (at epoch ends) or a positive number of steps")
	count("log-every", c.LogEvery, 1, math.MaxInt, "want a positive number of steps")
	count("save-every", c.SaveEvery, 0, math.MaxInt, "want 0 (at evaluations) or a positive number of steps")
	count("patience", c.Patience, 0, math.MaxInt, "want 0 (never stop early) or a positive number of evaluations")
	if err := CheckThreads(c.Threads); err != nil {
		bad("threads", c.Threads, "want 0 (one per core) to %d", MaxThreads)
	}
	oneOf("precision", c.Precision, "fp32", "bf16")
	oneOf("problem", c.Problem, "single_label", "multi_label", "regression")
	if len(labelColumns(c.LabelColumn)) > 1 && c.Problem != "multi_label" {
		bad("label-column", c.LabelColumn, "several columns (one 0/1 column per label) are multi-label data: add --problem multi_label")
	}
	if _, err := freeze.ParseFlag(c.Freeze); err != nil {
		bad("freeze", c.Freeze, "want off, auto, observe, schedule or a number of layers N >= 0")
	}
	if c.FreezeMax < 0 || c.FreezeMax > model.MaxLayers {
		bad("freeze-max", c.FreezeMax, "want 0 (all layers but the last) or a number of layers from 1")
	}
	switch {
	case c.FreezeStart < 0 || c.FreezeStart > model.MaxLayers:
		bad("freeze-start", c.FreezeStart, "want 0 (nothing frozen at the start) or a number of layers from 1")
	case c.FreezeStart > 0 && c.Freeze != "auto":
		bad("freeze-start", c.FreezeStart, "only AutoFreeze starts from a frozen prefix: use --freeze auto (--freeze N freezes N layers for the whole run)")
	case c.FreezeStart > 0 && c.FreezeMax > 0 && c.FreezeStart > c.FreezeMax:
		bad("freeze-start", c.FreezeStart, "more than --freeze-max %d: lower it or raise --freeze-max", c.FreezeMax)
	}
	count("freeze-intervals", c.FreezeIntervals, 1, maxSteps, "want a positive number of freeze decisions")
	if !finite(c.FreezePercentile) || c.FreezePercentile <= 0 || c.FreezePercentile > 100 {
		bad("freeze-percentile", c.FreezePercentile, "want 0 < p <= 100")
	}
	oneOf("freeze-norm", c.FreezeNorm, "l1", "l2")
	oneOf("cache", c.Cache, "off", "memory", "disk", "auto")
	oneOf("cache-switch", c.CacheSwitch, "epoch", "immediate")
	oneOf("cache-build", c.CacheBuild, "blocking", "background")
	count("cache-lag", c.CacheLag, 0, maxSteps, "want 0 (one freeze interval) or a positive number of steps")
	if c.CacheBuild == "background" && (c.Engine != "onnx" || c.CacheSwitch != "immediate") {
		bad("cache-build", c.CacheBuild, "a background build runs on ONNX Runtime and switches at a step: use it with --engine onnx and --cache-switch immediate")
	}
	oneOf("cache-dtype", c.CacheDType, "fp32", "fp16", "bf16")
	oneOf("engine", c.Engine, "onnx", "torch")
	oneOf("provider", c.Provider, "cpu", "cuda", "tensorrt")
	if _, err := trainable.ParseDevice(c.Device); err != nil || c.Device == "" {
		bad("device", c.Device, "want cpu, cuda, cuda:N (N >= 0) or auto")
	}
	oneOf("dist-backend", c.DistBackend, "auto", "gloo", "nccl")
	if c.Int8 && (!c.Fused || c.Engine != "onnx") {
		bad("int8", c.Int8, "needs engine onnx with fused")
	}
	for _, f := range []struct {
		key string
		v   float64
	}{
		{"cluster-bandwidth-gbps", c.ClusterBandwidthGbps}, {"cluster-latency-us", c.ClusterLatencyUs},
		{"cluster-restart-seconds", c.ClusterRestartSeconds},
	} {
		if !finite(f.v) || f.v < 0 {
			bad(f.key, f.v, "want 0 (the default) or a positive number")
		}
	}
	if e := c.ClusterScalingEfficiency; !finite(e) || e < 0 || e > 1 {
		bad("cluster-scaling-efficiency", e, "want 0 < x <= 1 (0: the default, 1)")
	}
	oneOf("mode", c.Mode, "performance", "efficiency")
	if c.Mode == "efficiency" && c.Profile == "" {
		bad("mode", c.Mode, "needs profile (measure one with autofreeze plan profile)")
	}
	return ps
}

// checkModel checks the settings that depend on the model and its
// tokenizer, before any weight is loaded: the length against its
// positions, a static freeze point against its layers, text pairs against
// its token types, and every token id against its vocabulary.
func (c Config) checkModel(m *model.Config, tok *text.Tokenizer) error {
	if c.MaxLength > m.MaxSequenceLength() {
		return fmt.Errorf("max-length %d exceeds the %d tokens the model's position table holds (max_position_embeddings %d): lower --max-length", c.MaxLength, m.MaxSequenceLength(), m.MaxPositions)
	}
	if fc, err := freeze.ParseFlag(c.Freeze); err == nil && fc.Mode == freeze.Static && fc.FrozenLayers > m.NumLayers-1 {
		return fmt.Errorf("freeze %d: %s has %d layers, so --freeze N takes 0 to %d (its last layer always trains)", fc.FrozenLayers, c.Model, m.NumLayers, m.NumLayers-1)
	}
	if c.FreezeStart > m.NumLayers-1 {
		return fmt.Errorf("freeze-start %d: %s has %d layers, so --freeze-start takes 0 to %d (its last layer always trains)", c.FreezeStart, c.Model, m.NumLayers, m.NumLayers-1)
	}
	if c.FreezeMax > m.NumLayers-1 {
		return fmt.Errorf("freeze-max %d: %s has %d layers, so --freeze-max takes 1 to %d (its last layer always trains)", c.FreezeMax, c.Model, m.NumLayers, m.NumLayers-1)
	}
	// BERT-style pairs mark the second text with token type 1; RoBERTa's
	// tokenizers separate them with </s></s> instead, and DistilBERT has
	// no token types at all.
	if c.TextPairColumn != "" && m.HasTokenTypes() && !m.PaddingPositions() && m.TypeVocabSize < 2 {
		return fmt.Errorf("text-pair-column %q: %s has type_vocab_size %d, so it cannot tell a pair's two texts apart", c.TextPairColumn, c.Model, m.TypeVocabSize)
	}
	return tok.CheckVocabSize(m.VocabSize)
}

// check checks an inference configuration against the checkpoint's model
// config and tokenizer.
func (c InferenceConfig) check(m *model.Config, tok *text.Tokenizer) error {
	if err := CheckThreads(c.Threads); err != nil {
		return err
	}
	if c.MaxLength != 0 && (c.MaxLength < 2 || c.MaxLength > m.MaxSequenceLength()) {
		return fmt.Errorf("max-length %d: want 2 to the %d tokens the model's position table holds (or leave it out: the length it was trained with)", c.MaxLength, m.MaxSequenceLength())
	}
	if c.BatchSize < 0 || c.BatchSize > maxBatch {
		return fmt.Errorf("batch-size %d: want 1 to %d", c.BatchSize, maxBatch)
	}
	if c.Limit < 0 {
		return fmt.Errorf("limit %d: want 0 (all) or a positive number of examples", c.Limit)
	}
	if len(labelColumns(c.LabelColumn)) > 1 && m.HeadProblem() != model.MultiLabel {
		return fmt.Errorf("label-column %q: several columns (one 0/1 column per label) are multi-label data, and %s is a %s model", c.LabelColumn, c.Model, m.HeadProblem().Short())
	}
	return tok.CheckVocabSize(m.VocabSize)
}

// ResolvePrecision replaces "auto" with what this CPU runs natively, and
// refuses bf16 where the CPU would only emulate it (precision.Resolve).
func (c Config) ResolvePrecision() (Config, error) {
	p, err := precision.Parse(c.Precision)
	if err != nil {
		return c, err
	}
	if p, err = precision.Resolve(p, precision.DetectCPU(), false); err != nil {
		return c, err
	}
	c.Precision = string(p)
	return c, nil
}

// BF16 reports whether the model runs in mixed precision.
func (c Config) BF16() bool { return c.Precision == string(precision.BF16) }

// FreezeConfig is the freeze policy's configuration.
func (c Config) FreezeConfig() (freeze.Config, error) {
	fc, err := freeze.ParseFlag(c.Freeze)
	if err != nil {
		return fc, err
	}
	fc.Intervals = c.FreezeIntervals
	fc.Percentile = c.FreezePercentile
	fc.MaxFrozen = c.FreezeMax
	fc.StartFrozen = c.FreezeStart
	if fc.Norm, err = freeze.ParseNorm(c.FreezeNorm); err != nil {
		return fc, err
	}
	return fc.WithDefaults(), nil
}

// SaveYAML writes c as YAML, atomically. Floats keep a decimal point
// (max-grad-norm: 1.0, not 1), so reading the file back as flags (altsrc)
// sees floats where flags expect them.
func (c Config) SaveYAML(path string) error {
	var doc yaml.Node
	if err := doc.Encode(c); err != nil {
		return err
	}
	floats := map[string]bool{}
	t := reflect.TypeOf(c)
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).Type.Kind() == reflect.Float64 {
			floats[strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]] = true
		}
	}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], doc.Content[i+1]
		if floats[k.Value] && !strings.ContainsAny(v.Value, ".eEn") {
			v.Value += ".0"
			v.Tag = "!!float"
		}
	}
	data, err := yaml.Marshal(&doc)
	if err != nil {
		return err
	}
	header := "# autofreeze run configuration, every default written out.\n# Rerun with: autofreeze train --config " + path + "\n"
	return atomicfile.WriteFile(path, append([]byte(header), data...))
}

// LoadYAML reads a config written by SaveYAML (unknown keys are errors).
func LoadYAML(path string) (Config, error) {
	var c Config
	f, err := os.Open(path)
	if err != nil {
		return c, err
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return c, fmt.Errorf("%s: the file holds no settings: write one `key: value` per line, with the flags' names as keys (e.g. `model: DIR`)", path)
		}
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
