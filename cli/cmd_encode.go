package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	ucli "github.com/urfave/cli/v2"

	"github.com/autofreeze/autofreeze/internal/atomicfile"
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/precision"
	"github.com/autofreeze/autofreeze/run"
	"github.com/autofreeze/autofreeze/text"
	"github.com/autofreeze/autofreeze/trainable"
)

type encodeOptions struct {
	ModelDir  string
	Input     string
	Output    string
	Pool      string // none, cls or mean
	MaxLength int
	BatchSize int
	Engine    string // torch or onnx
	Threads   int
	BF16      bool // torch engine only: ONNX Runtime's CPU provider has no bfloat16 kernels
	ORTLib    string
}

func encodeCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "encode",
		Usage:     "run texts through the encoder and write hidden states or pooled embeddings as JSONL",
		UsageText: "autofreeze encode --model DIR --input FILE --output FILE [--pool none|cls|mean]",
		Description: "INPUT is a text file with one text per line, or JSON Lines with a \"text\" field.\n" +
			"Each output line is {\"id\": i, \"input_ids\": [...], \"hidden\": [[...], ...]} (real tokens\n" +
			"only) with --pool none, or {\"id\": i, \"embedding\": [...]} otherwise, in input order.",
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "model", Usage: "Hugging Face model directory", Required: true},
			&ucli.StringFlag{Name: "input", Usage: "texts: .txt (one per line) or .jsonl", Required: true},
			&ucli.StringFlag{Name: "output", Usage: "JSONL file to write", Required: true},
			&ucli.StringFlag{Name: "pool", Value: "mean", Usage: "none (every token's hidden state), cls, or mean (over real tokens)"},
			&ucli.IntFlag{Name: "max-length", Value: 128, Usage: "truncate texts to this many tokens"},
			&ucli.IntFlag{Name: "batch-size", Value: 32, Usage: "texts per forward pass"},
			&ucli.StringFlag{Name: "engine", Value: "torch", Usage: "torch (libtorch via gotch) or onnx (ONNX Runtime)"},
			&ucli.IntFlag{Name: "threads", Usage: fmt.Sprintf("CPU threads (0: all cores; at most %d)", run.MaxThreads)},
			precisionFlag(),
			ortLibFlag(),
		},
		Action: func(c *ucli.Context) error {
			p, err := resolvePrecision(c)
			if err != nil {
				return err
			}
			if p == precision.BF16 && c.String("engine") == "onnx" {
				if c.String("precision") != string(precision.Auto) {
					return usagef("--precision bf16 needs --engine torch: ONNX Runtime's CPU provider has no bfloat16 kernels")
				}
				p = precision.FP32
			}
			opts := encodeOptions{BF16: p == precision.BF16,
				ModelDir: c.String("model"), Input: c.String("input"), Output: c.String("output"),
				Pool: c.String("pool"), MaxLength: c.Int("max-length"), BatchSize: c.Int("batch-size"),
				Engine: c.String("engine"), Threads: c.Int("threads"), ORTLib: ortLibPath(c),
			}
			return runEncode(opts, logger(c))
		},
	}
}

// checkMaxLength checks --max-length of a command that encodes texts for
// the model: [CLS] and [SEP] at least, and no more than its positions.
func checkMaxLength(n int, cfg *model.Config) error {
	if n < 2 || n > cfg.MaxSequenceLength() {
		return usagef("--max-length %d: want 2 to the %d tokens the model's position table holds", n, cfg.MaxSequenceLength())
	}
	return nil
}

// hiddenFunc runs the whole encoder on a padded batch and returns
// [Size, SeqLen, hidden] hidden states.
type hiddenFunc func(b text.Batch) ([]float32, error)

func runEncode(opts encodeOptions, log interface{ Info(string, ...any) }) error {
	switch opts.Pool {
	case "none", "cls", "mean":
	default:
		return usagef("--pool %q: want none, cls or mean", opts.Pool)
	}
	if opts.BatchSize < 1 {
		return usagef("--batch-size %d: want at least 1", opts.BatchSize)
	}
	if err := run.CheckThreads(opts.Threads); err != nil {
		return usagef("--%v", err)
	}
	cfg, err := model.LoadConfig(opts.ModelDir)
	if err != nil {
		return usageError(err)
	}
	if err := checkMaxLength(opts.MaxLength, cfg); err != nil {
		return err
	}
	tok, err := text.LoadTokenizer(opts.ModelDir)
	if err != nil {
		return usageError(err)
	}
	if err := tok.CheckVocabSize(cfg.VocabSize); err != nil {
		return usageError(err)
	}
	texts, err := readTexts(opts.Input)
	if err != nil {
		return err
	}
	var run hiddenFunc
	var closeEngine func()
	switch opts.Engine {
	case "torch":
		run, closeEngine, err = torchEngine(cfg, opts)
	case "onnx":
		run, closeEngine, err = onnxEngine(cfg, opts)
	default:
		return usagef("--engine %q: want torch or onnx", opts.Engine)
	}
	if err != nil {
		return err
	}
	defer closeEngine()
	return atomicfile.Write(opts.Output, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		for start := 0; start < len(texts); start += opts.BatchSize {
			end := min(start+opts.BatchSize, len(texts))
			encs := make([]text.Encoding, 0, end-start)
			for _, t := range texts[start:end] {
				encs = append(encs, tok.Encode(t, opts.MaxLength))
			}
			b := tok.Pad(encs)
			hidden, err := run(b)
			if err != nil {
				return err
			}
			for i := range encs {
				if err := writeEncoded(bw, start+i, encs[i], b, i, hidden, cfg.HiddenSize, opts.Pool); err != nil {
					return err
				}
			}
			log.Info("encoded", "texts", end, "of", len(texts))
		}
		return bw.Flush()
	})
}

func writeEncoded(w io.Writer, id int, enc text.Encoding, b text.Batch, row int, hidden []float32, h int, pool string) error {
	n := len(enc.IDs)
	tokens := make([][]float32, n)
	for j := 0; j < n; j++ {
		off := (row*b.SeqLen + j) * h
		tokens[j] = hidden[off : off+h]
	}
	var obj any
	switch pool {
	case "none":
		obj = struct {
			ID       int         `json:"id"`
			InputIDs []int64     `json:"input_ids"`
			Hidden   [][]float32 `json:"hidden"`
		}{id, enc.IDs, tokens}
	case "cls":
		obj = struct {
			ID        int       `json:"id"`
			Embedding []float32 `json:"embedding"`
		}{id, tokens[0]}
	case "mean":
		obj = struct {
			ID        int       `json:"id"`
			Embedding []float32 `json:"embedding"`
		}{id, trainable.MeanPool(hidden, b, row, h)}
	}
	for _, t := range tokens {
		for _, v := range t {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("text %d: the encoder produced %v", id, v)
			}
		}
	}
	line, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	_, err = w.Write(append(line, '\n'))
	return err
}

// readTexts reads a .txt file (one text per line) or a JSONL file (a "text"
// field per line). Empty or invalid lines are errors naming file and line.
func readTexts(path string) ([]string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".ndjson", ".json":
		ds, err := text.LoadDataset(path, text.DatasetOptions{Format: "jsonl"})
		if err != nil {
			return nil, usageError(err)
		}
		out := make([]string, len(ds.Examples))
		for i, e := range ds.Examples {
			out[i] = e.Text
		}
		return out, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, usageError(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimRight(sc.Text(), "\r")
		if !utf8.ValidString(s) {
			return nil, usagef("%s:%d: not valid UTF-8: save the file as UTF-8", path, line)
		}
		if strings.TrimSpace(s) == "" {
			return nil, usagef("%s:%d: empty line: remove it (every line is one text)", path, line)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, usagef("%s: %v", path, err)
	}
	if len(out) == 0 {
		return nil, usagef("%s: no texts", path)
	}
	return out, nil
}
