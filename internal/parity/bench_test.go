package parity

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/autofreeze/autofreeze/frozen"
	"github.com/autofreeze/autofreeze/frozen/export"
	"github.com/autofreeze/autofreeze/internal/testenv"
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/text"
	"github.com/autofreeze/autofreeze/trainable"
)

// Shape of the benchmark batch.
const (
	benchBatch = 32
	benchSeq   = 128
)

// benchThreads is AUTOFREEZE_BENCH_THREADS (default 2): libtorch's intra-op
// threads and ONNX Runtime's alike.
func benchThreads(b *testing.B) int {
	s := os.Getenv("AUTOFREEZE_BENCH_THREADS")
	if s == "" {
		return 2
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("AUTOFREEZE_BENCH_THREADS=%q: want a positive integer", s)
	}
	return n
}

// initORTB is initORT for a benchmark. It shares initORT's sync.Once, so
// tests and benchmarks in one process create ONNX Runtime's environment
// once; frozen.InitRuntime cannot be used here, as a second
// InitializeEnvironment fails.
func initORTB(b *testing.B) {
	lib := testenv.ORTLib(b)
	var err error
	ortOnce.Do(func() {
		ort.SetSharedLibraryPath(lib)
		err = ort.InitializeEnvironment()
	})
	if err != nil {
		b.Fatal(err)
	}
	if !ort.IsInitialized() {
		b.Fatal("ONNX Runtime failed to initialise earlier in this process")
	}
}

// imdbBatch is the first benchBatch reviews of IMDb's test split (file
// order) that are at least benchSeq tokens long with [CLS] and [SEP],
// truncated to exactly benchSeq tokens: every row is real text and none is
// padded, so both sides do the same work on every position.
func imdbBatch(b *testing.B, modelDir string) text.Batch {
	tok, err := text.LoadTokenizer(modelDir)
	if err != nil {
		b.Fatal(err)
	}
	ds, err := text.LoadDataset(filepath.Join(testenv.IMDbDir(b), "test.jsonl"), text.DatasetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var encs []text.Encoding
	for _, ex := range ds.Examples {
		if len(tok.Pieces(ex.Text))+2 < benchSeq {
			continue
		}
		encs = append(encs, tok.Encode(ex.Text, benchSeq))
		if len(encs) == benchBatch {
			break
		}
	}
	if len(encs) < benchBatch {
		b.Fatalf("only %d IMDb test reviews have %d tokens", len(encs), benchSeq)
	}
	bt := tok.Pad(encs)
	if bt.Size != benchBatch || bt.SeqLen != benchSeq {
		b.Fatalf("batch is %d x %d, want %d x %d", bt.Size, bt.SeqLen, benchBatch, benchSeq)
	}
	for _, m := range bt.Mask {
		if m != 1 {
			b.Fatal("the benchmark batch has padding")
		}
	}
	return bt
}

// BenchmarkPrefix measures the throughput of the frozen prefix [0,K) of
// all-MiniLM-L6-v2 on a batch of 32 real IMDb reviews of exactly 128 tokens:
// gotch's (libtorch's) no-grad forward against ONNX Runtime running
// autofreeze's export of the same layers, plain and fused, with the same
// number of intra-op threads on both sides (AUTOFREEZE_BENCH_THREADS,
// default 2). Exporting, opening sessions and one warm-up batch each happen
// before the timer starts. Both sides take host data in and give host data
// out. The examples/s metric is the one to compare.
//
//	go test ./internal/parity/ -run '^$' -bench Prefix -benchtime 5x
func BenchmarkPrefix(b *testing.B) {
	threads := benchThreads(b)
	dir, cfg, w := miniLM(b)
	bt := imdbBatch(b, dir)
	initORTB(b)
	trainable.SetThreads(threads)
	if got := trainable.Threads(); got != threads {
		b.Fatalf("libtorch runs %d threads, want %d", got, threads)
	}
	enc := newEncoder(b, cfg, w)
	tokens := frozen.Batch{Size: bt.Size, SeqLen: bt.SeqLen, InputIDs: bt.IDs, TokenTypeIDs: bt.TypeIDs, Mask: bt.Mask}
	tmp := b.TempDir()

	// Sessions are opened on first use and kept, since a sub-benchmark's
	// function runs more than once (b.N = 1 first).
	runners := map[string]*frozen.Runner{}
	runner := func(b *testing.B, r model.Range, fused, int8 bool) *frozen.Runner {
		key := fmt.Sprintf("%d_%d_%v_%v", r.Start, r.End, fused, int8)
		if run, ok := runners[key]; ok {
			return run
		}
		run, err := frozen.ExportAndOpen(filepath.Join(tmp, key+".onnx"), cfg, w.Tensors,
			export.ExportOptions{Range: r, Fused: fused, Int8: int8},
			frozen.RunnerOptions{IntraOpThreads: threads, InterOpThreads: 1})
		if err != nil {
			b.Fatal(err)
		}
		runners[key] = run
		return run
	}
	b.Cleanup(func() {
		for _, run := range runners {
			run.Close()
		}
	})

	for _, name := range []string{"gotch", "onnx_plain", "onnx_fused", "onnx_fused_int8"} {
		b.Run(name, func(b *testing.B) {
			for _, k := range []int{cfg.NumLayers, 3} {
				r := model.Range{Start: 0, End: k}
				b.Run(fmt.Sprintf("%d_%d", r.Start, r.End), func(b *testing.B) {
					var step func() error
					if name == "gotch" {
						step = func() error { _, err := enc.Hidden(bt, r, nil); return err }
					} else {
						run := runner(b, r, name != "onnx_plain", name == "onnx_fused_int8")
						step = func() error { _, err := run.Run(tokens); return err }
					}
					if err := step(); err != nil { // warm up
						b.Fatal(err)
					}
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if err := step(); err != nil {
							b.Fatal(err)
						}
					}
					b.StopTimer()
					b.ReportMetric(float64(benchBatch*b.N)/b.Elapsed().Seconds(), "examples/s")
					b.ReportMetric(float64(threads), "threads")
				})
			}
		})
	}
}
