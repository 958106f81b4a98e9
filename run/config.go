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
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/autofreeze/autofreeze/freeze"
	"github.com/autofreeze/autofreeze/internal/atomicfile"
	"github.com/autofreeze/autofreeze/precision"
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
	NoHeader       bool   `yaml:"no-header"`
	SkipBadRows    bool   `yaml:"skip-bad-rows"`
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

	// Freeze is "off", "auto" (AutoFreeze), a number N (the first N layers
	// frozen from the start) or "schedule" (PipeTransformer's rule).
	Freeze           string  `yaml:"freeze"`
	FreezeIntervals  int     `yaml:"freeze-intervals"`
	FreezePercentile float64 `yaml:"freeze-percentile"`
	FreezeNorm       string  `yaml:"freeze-norm"`
	// Cache is where the frozen prefix's activations go: "off" (the prefix
	// runs under no-grad every step), "memory" or "disk".
	Cache string `yaml:"cache"`
	// CacheSwitch is when training starts reading a new cache: "epoch" (from
	// the next epoch, as the paper does) or "immediate".
	CacheSwitch string `yaml:"cache-switch"`
	CacheDType  string `yaml:"cache-dtype"`
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
		CacheSwitch: "epoch", CacheDType: "fp16", Engine: "onnx", Provider: "cpu", Mode: "performance",
		Precision: "fp32",
	}
}

// WithDefaults fills zero fields from Defaults.
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
	// WarmupRatio, WeightDecay and MaxGradNorm may be 0 on purpose; the
	// command line fills their defaults.
	return c
}

// Validate checks values that do not depend on files.
func (c Config) Validate() error {
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	oneOf := func(field, v string, allowed ...string) {
		if !slices.Contains(allowed, v) {
			last := len(allowed) - 1
			bad("%s %q: want %s or %s", field, v, strings.Join(allowed[:last], ", "), allowed[last])
		}
	}
	if c.Model == "" {
		bad("model: required (a Hugging Face model directory)")
	}
	if c.Train == "" {
		bad("train: required (a CSV, TSV or JSONL file)")
	}
	if c.Out == "" {
		bad("out: required (the run directory)")
	}
	if c.EvalSplit < 0 || c.EvalSplit >= 1 {
		bad("eval_split %g: want 0 <= x < 1", c.EvalSplit)
	}
	if c.MaxLength < 8 {
		bad("max_length %d: want at least 8", c.MaxLength)
	}
	if c.BatchSize < 1 || c.EvalBatchSize < 1 || c.GradAccum < 1 {
		bad("batch_size, eval_batch_size and grad_accum must be at least 1")
	}
	if c.Epochs < 1 && c.MaxSteps < 1 {
		bad("epochs or max_steps must be at least 1")
	}
	if c.LR < 0 {
		bad("lr %g: must not be negative", c.LR)
	}
	if c.WarmupRatio < 0 || c.WarmupRatio >= 1 {
		bad("warmup_ratio %g: want 0 <= x < 1", c.WarmupRatio)
	}
	oneOf("schedule", c.Schedule, "linear", "stepped", "constant")
	if _, err := freeze.ParseFlag(c.Freeze); err != nil {
		bad("freeze %q: %v", c.Freeze, err)
	}
	if _, err := freeze.ParseNorm(c.FreezeNorm); err != nil {
		bad("freeze_norm %q: %v", c.FreezeNorm, err)
	}
	if c.FreezePercentile <= 0 || c.FreezePercentile > 100 {
		bad("freeze_percentile %g: want 0 < p <= 100", c.FreezePercentile)
	}
	oneOf("cache", c.Cache, "off", "memory", "disk")
	oneOf("cache_switch", c.CacheSwitch, "epoch", "immediate")
	oneOf("cache_dtype", c.CacheDType, "fp32", "fp16", "bf16")
	oneOf("engine", c.Engine, "onnx", "torch")
	oneOf("precision", c.Precision, "fp32", "bf16")
	if c.Int8 && (!c.Fused || c.Engine != "onnx") {
		bad("int8: needs engine onnx with fused")
	}
	if c.ClusterBandwidthGbps < 0 || c.ClusterLatencyUs < 0 || c.ClusterRestartSeconds < 0 || c.ClusterScalingEfficiency < 0 || c.ClusterScalingEfficiency > 1 {
		bad("cluster settings: bandwidth, latency and restart must not be negative, scaling efficiency in (0, 1]")
	}
	oneOf("mode", c.Mode, "performance", "efficiency")
	if c.Mode == "efficiency" && c.Profile == "" {
		bad("mode efficiency: needs profile (measure one with autofreeze plan profile)")
	}
	if c.TrainLimit < 0 || c.EvalLimit < 0 || c.MaxSteps < 0 || c.EvalEvery < 0 || c.SaveEvery < 0 || c.Patience < 0 {
		bad("limits, max_steps, eval_every, save_every and patience must not be negative")
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid configuration:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
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
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
