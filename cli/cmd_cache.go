package cli

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/autofreeze/autofreeze/cachefmt"
	"github.com/autofreeze/autofreeze/frozen"
	"github.com/autofreeze/autofreeze/frozen/export"
	"github.com/autofreeze/autofreeze/internal/dirlock"
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/precompute"
	"github.com/autofreeze/autofreeze/run"
	"github.com/autofreeze/autofreeze/text"
)

func cacheCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "cache",
		Usage: "build, advance, describe and verify activation caches of a frozen prefix",
		Description: "A cache holds, for every example of a dataset, the hidden states entering layer K\n" +
			"(the output of the frozen prefix [0, K)), compressed (cachefmt/FORMAT.md). Batch jobs\n" +
			"build one shard each with --shard I/N; the build that finds every shard finished writes\n" +
			"the manifest (rerun any shard, which skips finished work, to write it).",
		Subcommands: []*ucli.Command{cacheBuildCommand(), cacheAdvanceCommand(), cacheDescribeCommand(), cacheVerifyCommand()},
	}
}

// engineFlags configure the ONNX Runtime session that runs the prefix.
func engineFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "dtype", Value: "fp16", Usage: "cache precision: fp32, fp16 or bf16"},
		&ucli.IntFlag{Name: "batch-size", Value: 32, Usage: "examples per ONNX Runtime run"},
		&ucli.IntFlag{Name: "threads", Usage: fmt.Sprintf("ONNX Runtime intra-op threads (0: one per core; at most %d)", run.MaxThreads)},
		&ucli.BoolFlag{Name: "fused", Usage: "export with ONNX Runtime's fused operators"},
		&ucli.BoolFlag{Name: "int8", Usage: "with --fused: int8 weights in the projections (faster on CPU; part of the fingerprint)"},
		&ucli.StringFlag{Name: "provider", Value: "cpu", Usage: "execution provider: cpu, cuda or tensorrt"},
		&ucli.IntFlag{Name: "device", Usage: "GPU id for cuda/tensorrt"},
		&ucli.StringFlag{Name: "trt-cache", Usage: "TensorRT engine cache directory"},
		&ucli.BoolFlag{Name: "trt-fp16", Usage: "let TensorRT compute in fp16"},
		ortLibFlag(),
	}
}

// checkEngineFlags checks the numbers engineFlags takes.
func checkEngineFlags(c *ucli.Context) error {
	if n := c.Int("batch-size"); n < 1 {
		return usagef("--batch-size %d: want at least 1", n)
	}
	if err := run.CheckThreads(c.Int("threads")); err != nil {
		return usagef("--%v", err)
	}
	if d := c.Int("device"); d < 0 {
		return usagef("--device %d: want a GPU id (0 or more)", d)
	}
	return nil
}

// parseShard parses "I/N".
func parseShard(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, usagef("--shard %q: want I/N with 0 <= I < N, e.g. 3/8", s)
	}
	return i, n, nil
}

// fileHash is the dataset field of the fingerprint of a cache over every
// row of a file.
func fileHash(path string) (string, error) {
	h, err := precompute.DatasetHash(path, nil)
	return h, usageError(err)
}

// openPrefixRunner exports layers rng of the weights into a private
// temporary directory and opens an ONNX Runtime session on it; closeRunner
// closes it and removes the export.
func openPrefixRunner(c *ucli.Context, cfg *model.Config, w *model.Weights, rng model.Range) (r *frozen.Runner, closeRunner func(), err error) {
	if err := frozen.InitRuntime(ortLibPath(c)); err != nil {
		return nil, nil, err
	}
	provider, err := frozen.ParseProvider(c.String("provider"))
	if err != nil {
		return nil, nil, usageError(err)
	}
	return frozen.ExportTemp(cfg, w.Tensors, export.ExportOptions{Range: rng, Fused: c.Bool("fused"), Int8: c.Bool("int8")},
		frozen.RunnerOptions{Provider: provider, DeviceID: c.Int("device"), IntraOpThreads: c.Int("threads"),
			TensorRTFP16: c.Bool("trt-fp16"), TensorRTCacheDir: c.String("trt-cache"), Logger: logger(c)})
}

func cacheBuildCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "build",
		Usage:     "run the prefix [0, K) on ONNX Runtime over a dataset and write the cache (one shard with --shard)",
		UsageText: "autofreeze cache build --model DIR --layers 0:K --data FILE --out DIR [--shard I/N] [--dtype fp16]",
		Flags: append([]ucli.Flag{
			&ucli.StringFlag{Name: "model", Usage: "Hugging Face model directory whose prefix to run", Required: true},
			&ucli.StringFlag{Name: "layers", Usage: "0:K, the frozen prefix", Required: true},
			&ucli.StringFlag{Name: "data", Usage: "dataset (CSV, TSV, JSONL or Parquet); every row, in order", Required: true},
			&ucli.StringFlag{Name: "out", Usage: "cache directory", Required: true},
			&ucli.StringFlag{Name: "shard", Value: "0/1", Usage: "build shard I of N (a batch job's index)"},
			&ucli.IntFlag{Name: "max-length", Value: 128, Usage: "truncate texts to this many tokens"},
			&ucli.StringFlag{Name: "text-column", Usage: "text column (default \"text\")"},
			&ucli.StringFlag{Name: "text-pair-column", Usage: "second text column"},
			&ucli.StringFlag{Name: "label-column", Usage: "label column (optional)"},
			&ucli.StringFlag{Name: "format", Usage: "csv, tsv, jsonl or parquet (default: by extension)"},
		}, engineFlags()...),
		Action: func(c *ucli.Context) error {
			if err := checkEngineFlags(c); err != nil {
				return err
			}
			cfg, err := model.LoadConfig(c.String("model"))
			if err != nil {
				return usageError(err)
			}
			if err := checkMaxLength(c.Int("max-length"), cfg); err != nil {
				return err
			}
			rng, err := model.ParseRange(c.String("layers"), cfg.NumLayers)
			if err != nil {
				return usageError(err)
			}
			if rng.Start != 0 {
				return usagef("--layers %s: a cache is built from the tokens, so the range starts at 0 (use `cache advance` to extend one)", rng)
			}
			shard, of, err := parseShard(c.String("shard"))
			if err != nil {
				return err
			}
			dtype, err := cachefmt.ParseDtype(c.String("dtype"))
			if err != nil {
				return usageError(err)
			}
			tok, err := text.LoadTokenizer(c.String("model"))
			if err != nil {
				return usageError(err)
			}
			if err := tok.CheckVocabSize(cfg.VocabSize); err != nil {
				return usageError(err)
			}
			ds, err := text.LoadDataset(c.String("data"), text.DatasetOptions{Format: c.String("format"),
				TextColumn: c.String("text-column"), TextPairColumn: c.String("text-pair-column"), LabelColumn: c.String("label-column")})
			if err != nil {
				return usageError(err)
			}
			w, err := model.LoadWeights(c.String("model"), cfg)
			if err != nil {
				return usageError(err)
			}
			fp, err := prefixFingerprint(cfg, w, rng.End, tok, c.Int("max-length"), c.String("data"), dtype, c.Bool("fused"), c.Bool("int8"))
			if err != nil {
				return err
			}
			out := c.String("out")
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			lock, err := lockShard(c, "autofreeze cache build", out, shard, of)
			if err != nil {
				return err
			}
			defer lock.Release()
			labels, err := exampleLabels(ds)
			if err != nil {
				return usageError(err)
			}
			log := logger(c)
			job := precompute.Job{Dir: out, Shard: shard, Of: of, Fingerprint: fp, Hidden: cfg.HiddenSize,
				Encodings: text.EncodeAll(tok, ds.Examples, c.Int("max-length")), Labels: labels, Tokenizer: tok,
				BatchSize: c.Int("batch-size"), Logger: log,
				Progress: func(done, total int) { log.Info("cache build", "shard", c.String("shard"), "rows", done, "of", total) }}
			if precompute.Done(job) {
				log.Info("shard already built and verified; skipping", "shard", c.String("shard"))
				return combineIfComplete(c, out, fp, of)
			}
			runner, closeRunner, err := openPrefixRunner(c, cfg, w, rng)
			if err != nil {
				return err
			}
			defer closeRunner()
			if err := precompute.Build(c.Context, job, frozen.Engine{Runner: runner}); err != nil {
				return stoppedShard(c, err)
			}
			return combineIfComplete(c, out, fp, of)
		},
	}
}

// lockShard makes shard i of n of the cache in dir this process's to build
// (package dirlock): batch jobs build different shards into one directory
// at once, but two builds of the same shard would overwrite each other.
// The lock file's name starts with cachefmt.TempPrefix: it is a temporary
// file of the cache directory, which a build removes when it ends (and
// cachefmt.CleanTemp when a killed build left it, an hour later; the
// holder refreshes it every minute).
func lockShard(c *ucli.Context, command, dir string, i, n int) (*dirlock.Lock, error) {
	l, err := dirlock.Acquire(dir, shardLockName(i, n), command)
	if err != nil {
		return nil, err
	}
	if l.Stale != nil {
		logger(c).Info("taking over the shard from a build that no longer runs", "holder", l.Stale.String())
	}
	return l, nil
}

// stoppedShard says what to do about a build that stopped on a signal.
func stoppedShard(c *ucli.Context, err error) error {
	if err == nil || c.Context.Err() == nil {
		return err
	}
	return fmt.Errorf("the shard is not finished (%w); its temporary files are removed, and finished shards are kept: run the same command to build it", err)
}

// shardLockName is the lock file of shard i of n in a cache directory.
func shardLockName(i, n int) string {
	return cachefmt.TempPrefix + "lock-" + strings.TrimSuffix(cachefmt.ShardName(i, n), ".afc")
}

// exampleLabels are the label ids of a dataset in label-set order, or nil
// when it has no labels.
func exampleLabels(ds *text.Dataset) ([]int64, error) {
	for _, e := range ds.Examples {
		if !e.HasLabel {
			return nil, nil
		}
	}
	ls, err := ds.LabelSet()
	if err != nil {
		return nil, err
	}
	ids, err := ds.LabelIDs(ls)
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(ids))
	for i, id := range ids {
		out[i] = int64(id)
	}
	return out, nil
}

// combineIfComplete writes the manifest once all N shards and their
// fragments are there; while other shards' jobs are still running it says
// so and succeeds.
func combineIfComplete(c *ucli.Context, dir string, fp cachefmt.Fingerprint, of int) error {
	if of == 1 {
		return nil // Build already combined it
	}
	_, err := cachefmt.Combine(dir, &cachefmt.CombineOptions{Want: &fp, Logger: logger(c)})
	if errors.Is(err, cachefmt.ErrMissing) {
		logger(c).Info("shard written; the manifest is written when every shard has finished", "waiting_for", err)
		return nil
	}
	return err
}

func prefixFingerprint(cfg *model.Config, w *model.Weights, k int, tok *text.Tokenizer, maxLen int, data string, dtype cachefmt.Dtype, fused, int8 bool) (cachefmt.Fingerprint, error) {
	dataHash, err := fileHash(data)
	if err != nil {
		return cachefmt.Fingerprint{}, err
	}
	return precompute.Fingerprint(precompute.Prefix{Model: cfg, Weights: w.Tensors, Layer: k, Tokenizer: tok.Hash(),
		MaxLength: maxLen, Dataset: dataHash, Dtype: dtype, Engine: "onnx", Fused: fused, Int8: int8})
}

func cacheAdvanceCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "advance",
		Usage:     "extend a cache at layer K to layer K2 by running only layers [K, K2) over it",
		UsageText: "autofreeze cache advance --cache DIR --model DIR --to K2 --out DIR2",
		Flags: append([]ucli.Flag{
			&ucli.StringFlag{Name: "cache", Usage: "the cache at layer K", Required: true},
			&ucli.StringFlag{Name: "model", Usage: "the model the cache was built from (checked against its fingerprint)", Required: true},
			&ucli.IntFlag{Name: "to", Usage: "K2 > K: the new freeze point", Required: true},
			&ucli.StringFlag{Name: "out", Usage: "the new cache directory", Required: true},
		}, engineFlags()...),
		Action: func(c *ucli.Context) error {
			if err := checkEngineFlags(c); err != nil {
				return err
			}
			m, err := cachefmt.ReadManifest(c.String("cache"))
			if err != nil {
				return err
			}
			cfg, err := model.LoadConfig(c.String("model"))
			if err != nil {
				return usageError(err)
			}
			k, k2 := m.Fingerprint.Layer, c.Int("to")
			if k2 <= k || k2 > cfg.NumLayers {
				return usagef("--to %d: the cache is at layer %d; want %d < K2 <= %d", k2, k, k, cfg.NumLayers)
			}
			w, err := model.LoadWeights(c.String("model"), cfg)
			if err != nil {
				return usageError(err)
			}
			have, err := model.Fingerprint(w.Tensors, cfg.RangeParams(model.Range{Start: 0, End: k}))
			if err != nil {
				return err
			}
			if have != m.Fingerprint.PrefixWeights {
				return fmt.Errorf("%s: %w: built from other weights than %s's layers [0, %d)", c.String("cache"), cachefmt.ErrStale, c.String("model"), k)
			}
			src, err := cachefmt.OpenCache(c.String("cache"), m.Fingerprint, nil)
			if err != nil {
				return err
			}
			defer src.Close()
			fp := m.Fingerprint
			fp.Layer = k2
			if fp.PrefixWeights, err = model.Fingerprint(w.Tensors, cfg.RangeParams(model.Range{Start: 0, End: k2})); err != nil {
				return err
			}
			if d, err := cachefmt.ParseDtype(c.String("dtype")); err == nil && c.IsSet("dtype") {
				fp.Dtype = d
			}
			fp.Exporter = precompute.ExporterID("onnx", c.Bool("fused"), c.Bool("int8"), false)
			out := c.String("out")
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			lock, err := lockShard(c, "autofreeze cache advance", out, 0, 1)
			if err != nil {
				return err
			}
			defer lock.Release()
			runner, closeRunner, err := openPrefixRunner(c, cfg, w, model.Range{Start: k, End: k2})
			if err != nil {
				return err
			}
			defer closeRunner()
			log := logger(c)
			job := precompute.Job{Dir: out, Of: 1, Fingerprint: fp, Hidden: cfg.HiddenSize, BatchSize: c.Int("batch-size"), Logger: log,
				Progress: func(done, total int) { log.Info("cache advance", "rows", done, "of", total) }}
			return stoppedShard(c, precompute.Advance(c.Context, job, frozen.Engine{Runner: runner}, src))
		},
	}
}

func cacheDescribeCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "describe",
		Usage:     "print a cache's fingerprint, shards, rows and sizes",
		UsageText: "autofreeze cache describe DIR",
		Action: func(c *ucli.Context) error {
			dir, err := oneDirArg(c, "cache describe")
			if err != nil {
				return err
			}
			m, err := cachefmt.ReadManifest(dir)
			if err != nil {
				return err
			}
			w := c.App.Writer
			var bytes int64
			for _, s := range m.Shards {
				bytes += s.Bytes
			}
			fp := m.Fingerprint
			fmt.Fprintf(w, "cache        %s (format version %d)\n", dir, m.Version)
			fmt.Fprintf(w, "layer        %d (hidden states entering it; hidden size %d)\n", fp.Layer, m.Hidden)
			fmt.Fprintf(w, "rows         %d examples, %d tokens (%.1f per example)\n", m.Rows, m.Tokens, float64(m.Tokens)/float64(max(m.Rows, 1)))
			fmt.Fprintf(w, "dtype        %s\n", m.Dtype)
			raw := float64(m.Tokens) * float64(m.Hidden) * 4
			fmt.Fprintf(w, "size         %d bytes in %d shard(s): %.3fx the raw fp32 of the real tokens\n", bytes, len(m.Shards), float64(bytes)/max(raw, 1))
			fmt.Fprintf(w, "max length   %d\n", fp.MaxLength)
			fmt.Fprintf(w, "weights      %s\n", fp.PrefixWeights)
			fmt.Fprintf(w, "tokenizer    %s\n", fp.Tokenizer)
			fmt.Fprintf(w, "dataset      %s\n", fp.Dataset)
			fmt.Fprintf(w, "exporter     %s\n", fp.Exporter)
			fmt.Fprintf(w, "fingerprint  %s\n", m.FingerprintHash)
			for _, s := range m.Shards {
				fmt.Fprintf(w, "  %s  %d rows  %d bytes  sha256 %s\n", s.File, s.Rows, s.Bytes, s.SHA256)
			}
			return nil
		},
	}
}

func cacheVerifyCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "verify",
		Usage:     "check every checksum of a cache (exit 0 valid, 3 corrupt, 4 stale)",
		UsageText: "autofreeze cache verify DIR [--model DIR --data FILE]",
		Description: "Without --model, checks the manifest, every shard's size and sha256 and every chunk's\n" +
			"CRC. With --model and --data, also checks that the cache was built from that model's\n" +
			"weights, that tokenizer and that data file (stale otherwise).",
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "model", Usage: "model the cache should match"},
			&ucli.StringFlag{Name: "data", Usage: "data file the cache should match"},
		},
		Action: func(c *ucli.Context) error {
			dir, err := oneDirArg(c, "cache verify")
			if err != nil {
				return err
			}
			var want *cachefmt.Fingerprint
			if c.String("model") != "" {
				m, err := cachefmt.ReadManifest(dir)
				if err != nil {
					return err
				}
				if want, err = expectedFingerprint(c, m); err != nil {
					return err
				}
			}
			if err := cachefmt.Verify(dir, want); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "%s: valid\n", dir)
			return nil
		},
	}
}

// oneDirArg is the one positional argument of a command; flags after it
// (which the flag parser leaves unparsed) are refused rather than ignored.
func oneDirArg(c *ucli.Context, name string) (string, error) {
	args := c.Args().Slice()
	switch {
	case len(args) == 0:
		return "", usagef("%s: give the cache directory", name)
	case len(args) > 1:
		return "", usagef("%s: unexpected %q after the directory: put flags before DIR", name, args[1])
	}
	if fi, err := os.Stat(args[0]); errors.Is(err, os.ErrNotExist) {
		return "", usagef("%s: %s does not exist: give a cache directory (the --out of cache build)", name, args[0])
	} else if err == nil && !fi.IsDir() {
		return "", usagef("%s: %s is a file, not a cache directory: give the directory that holds its manifest.json", name, args[0])
	}
	return args[0], nil
}

// expectedFingerprint recomputes what a cache like m should have for the
// given model and data.
func expectedFingerprint(c *ucli.Context, m *cachefmt.Manifest) (*cachefmt.Fingerprint, error) {
	cfg, err := model.LoadConfig(c.String("model"))
	if err != nil {
		return nil, usageError(err)
	}
	w, err := model.LoadWeights(c.String("model"), cfg)
	if err != nil {
		return nil, usageError(err)
	}
	tok, err := text.LoadTokenizer(c.String("model"))
	if err != nil {
		return nil, usageError(err)
	}
	fp := m.Fingerprint
	if m.Fingerprint.Layer > cfg.NumLayers {
		return nil, fmt.Errorf("%w: the cache is at layer %d, the model has %d", cachefmt.ErrStale, fp.Layer, cfg.NumLayers)
	}
	if fp.PrefixWeights, err = model.Fingerprint(w.Tensors, cfg.RangeParams(model.Range{Start: 0, End: fp.Layer})); err != nil {
		return nil, err
	}
	fp.Tokenizer = tok.Hash()
	if data := c.String("data"); data != "" {
		if fp.Dataset, err = fileHash(data); err != nil {
			return nil, err
		}
	}
	return &fp, nil
}
