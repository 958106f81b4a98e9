package cachebench

// Run (README.md has the numbers):
//
//	go test -run '^$' -bench 'Encode|Decode|EpochRead' -benchtime 20x -cpu 1 ./internal/cachebench/
//	go test -run '^$' -bench SuffixTrain -benchtime 3x -cpu 1 -timeout 30m ./internal/cachebench/
//	CACHEBENCH_MAX_LENGTH=512 go test -run '^$' -bench 'Encode|Decode' -benchtime 10x -cpu 1 ./internal/cachebench/
//
// The first benchmark computes the activations (10-40 s of ONNX Runtime);
// every other one reuses them. An epoch of SuffixTrain takes about 20 s.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autofreeze/autofreeze/cachefmt"
	"github.com/autofreeze/autofreeze/frozen"
	"github.com/autofreeze/autofreeze/frozen/export"
	"github.com/autofreeze/autofreeze/internal/testenv"
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/text"
	"github.com/autofreeze/autofreeze/trainable"
)

const (
	numExamples = 256 // IMDb training reviews
	layerK      = 3   // the activations enter layer 3 of MiniLM's 6
	batchSize   = 16  // of the epoch read and of training
	refLen512   = 512 // what AutoFreeze's reference code pads every example to
	epochSeed   = 1
)

// maxLength is the truncation length: 128, or CACHEBENCH_MAX_LENGTH.
func maxLength() int {
	if n, err := strconv.Atoi(os.Getenv("CACHEBENCH_MAX_LENGTH")); err == nil && n > 0 {
		return n
	}
	return 128
}

// activations are the hidden states entering layer K of numExamples IMDb
// reviews, real tokens only, in fp32 as ONNX Runtime computed them.
type activations struct {
	cfg     *model.Config
	weights *model.Weights
	hidden  int
	maxLen  int
	rows    [][]float32 // [tokens*hidden] per example
	tokens  []int
	labels  []int64
	raw32   int64 // fp32 bytes of the real tokens
	dir     string
	caches  map[cachefmt.Dtype]string // on-disk caches, built when first needed
}

// padded is the bytes of the reference layout: every example as fp32,
// padded to n tokens.
func (a *activations) padded(n int) int64 { return int64(len(a.rows)) * int64(n) * int64(a.hidden) * 4 }

var (
	actOnce sync.Once
	act     *activations
	actErr  error
)

// data computes the activations the first time any benchmark asks.
func data(tb testing.TB) *activations {
	tb.Helper()
	modelDir, ortLib, imdb := testenv.ModelDir(tb), testenv.ORTLib(tb), testenv.IMDbDir(tb)
	actOnce.Do(func() { act, actErr = compute(modelDir, ortLib, filepath.Join(imdb, "train.jsonl")) })
	if actErr != nil {
		tb.Fatal(actErr)
	}
	return act
}

func TestMain(m *testing.M) {
	code := m.Run()
	if act != nil {
		os.RemoveAll(act.dir)
	}
	os.Exit(code)
}

// compute picks numExamples reviews spread over the training file (the file
// is sorted by label; a fixed permutation gives both labels), runs layers
// [0, K) on ONNX Runtime in batches of 16 and keeps each review's real
// tokens.
func compute(modelDir, ortLib, trainFile string) (*activations, error) {
	start := time.Now()
	raw, err := os.ReadFile(trainFile)
	if err != nil {
		return nil, err
	}
	lines := strings.SplitAfter(strings.TrimRight(string(raw), "\n"), "\n")
	pick := slices.Clone(text.EpochOrder(len(lines), 7, 0)[:numExamples])
	slices.Sort(pick)
	var sample strings.Builder
	for _, i := range pick {
		sample.WriteString(strings.TrimRight(lines[i], "\n") + "\n")
	}
	dir, err := os.MkdirTemp("", "cachebench-")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "sample.jsonl")
	if err := os.WriteFile(path, []byte(sample.String()), 0o644); err != nil {
		return nil, err
	}
	ds, err := text.LoadDataset(path, text.DatasetOptions{RequireLabels: true})
	if err != nil {
		return nil, err
	}
	ls, err := ds.LabelSet()
	if err != nil {
		return nil, err
	}
	ids, err := ds.LabelIDs(ls)
	if err != nil {
		return nil, err
	}
	tok, err := text.LoadTokenizer(modelDir)
	if err != nil {
		return nil, err
	}
	cfg, err := model.LoadConfig(modelDir)
	if err != nil {
		return nil, err
	}
	w, err := model.LoadWeights(modelDir, cfg)
	if err != nil {
		return nil, err
	}
	if err := frozen.InitRuntime(ortLib); err != nil {
		return nil, err
	}
	r, err := frozen.ExportAndOpen(filepath.Join(dir, "prefix.onnx"), cfg, w.Tensors,
		export.ExportOptions{Range: model.Range{Start: 0, End: layerK}}, frozen.RunnerOptions{})
	if err != nil {
		return nil, err
	}
	defer r.Close() // also stops ONNX Runtime's threads, which would count as CPU time below
	a := &activations{cfg: cfg, weights: w, hidden: cfg.HiddenSize, maxLen: maxLength(), dir: dir, caches: map[cachefmt.Dtype]string{}}
	encs := text.EncodeAll(tok, ds.Examples, a.maxLen)
	h := a.hidden
	for lo := 0; lo < len(encs); lo += batchSize {
		b := tok.Pad(encs[lo:min(lo+batchSize, len(encs))])
		out, err := r.Run(frozen.Batch{Size: b.Size, SeqLen: b.SeqLen, InputIDs: b.IDs, TokenTypeIDs: b.TypeIDs, Mask: b.Mask})
		if err != nil {
			return nil, err
		}
		for i, n := range b.Lengths {
			a.rows = append(a.rows, slices.Clone(out[i*b.SeqLen*h:(i*b.SeqLen+n)*h]))
			a.tokens = append(a.tokens, n)
			a.labels = append(a.labels, int64(ids[lo+i]))
			a.raw32 += int64(4 * n * h)
		}
	}
	tokens := 0
	for _, n := range a.tokens {
		tokens += n
	}
	fmt.Printf("cachebench: %d IMDb reviews, max length %d, %.1f real tokens per example (%d in all), "+
		"hidden states entering layer %d computed by ONNX Runtime in %v\n",
		len(a.rows), a.maxLen, float64(tokens)/float64(len(a.rows)), tokens, layerK, time.Since(start).Round(time.Millisecond))
	return a, nil
}

var dtypes = []cachefmt.Dtype{cachefmt.Float32, cachefmt.Float16, cachefmt.BFloat16}

// encode writes every row into memory as one shard of dtype d.
func (a *activations) encode(tb testing.TB, d cachefmt.Dtype) []byte {
	var buf bytes.Buffer
	w, err := cachefmt.NewWriter(&buf, a.hidden, &cachefmt.WriterOptions{Dtype: d})
	if err != nil {
		tb.Fatal(err)
	}
	for i, row := range a.rows {
		if err := w.Append(uint64(i), int32(a.labels[i]), row); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// reportSize reports a cache of size bytes against the references.
func (a *activations) reportSize(b *testing.B, size int) {
	b.ReportMetric(float64(size)/float64(a.raw32), "ratio_vs_raw")
	b.ReportMetric(float64(size)/float64(a.padded(a.maxLen)), fmt.Sprintf("ratio_vs_padded%d", a.maxLen))
	if a.maxLen != refLen512 {
		b.ReportMetric(float64(size)/float64(a.padded(refLen512)), "ratio_vs_padded512")
	}
	b.ReportMetric(float64(size)/float64(len(a.rows)), "bytes/example")
}

// cpuClock measures the process's CPU time over a benchmark's loop: the
// machines are shared, so wall time measures the neighbours too, while MB
// per CPU second is the throughput of one core.
type cpuClock struct {
	b     *testing.B
	cpu   time.Duration
	start time.Time
}

func startClock(b *testing.B) cpuClock {
	b.ResetTimer()
	return cpuClock{b: b, cpu: cpuTime(), start: time.Now()}
}

// stop reports MB/cpu-s for bytesPerOp of raw fp32 per iteration and
// returns the wall time per iteration.
func (c cpuClock) stop(bytesPerOp int64) time.Duration {
	c.b.StopTimer()
	if used := cpuTime() - c.cpu; used > 0 && bytesPerOp > 0 {
		c.b.ReportMetric(float64(bytesPerOp)*float64(c.b.N)/used.Seconds()/1e6, "MB/cpu-s")
	}
	return time.Since(c.start) / time.Duration(c.b.N)
}

// BenchmarkEncode: Append of every row and Close, into memory. Throughput
// (MB/s) is of raw fp32 input of the real tokens.
func BenchmarkEncode(b *testing.B) {
	a := data(b)
	for _, d := range dtypes {
		b.Run(d.String(), func(b *testing.B) {
			size := len(a.encode(b, d))
			b.SetBytes(a.raw32)
			clock := startClock(b)
			for range b.N {
				a.encode(b, d)
			}
			clock.stop(a.raw32)
			a.reportSize(b, size)
		})
	}
}

// BenchmarkDecode: every row read back into float32 in file order (CRC,
// Huffman decoding, plane merge, widening), the group cache holding only a
// few groups so that each is decoded once per pass. Throughput is of raw
// fp32 output.
func BenchmarkDecode(b *testing.B) {
	a := data(b)
	for _, d := range dtypes {
		b.Run(d.String(), func(b *testing.B) {
			enc := a.encode(b, d)
			r, err := cachefmt.NewReader(bytes.NewReader(enc), int64(len(enc)), &cachefmt.ReaderOptions{CacheBytes: 2 << 20})
			if err != nil {
				b.Fatal(err)
			}
			var row cachefmt.Row
			b.SetBytes(a.raw32)
			clock := startClock(b)
			for range b.N {
				for i := range r.Rows() {
					if err := r.ReadRow(i, &row); err != nil {
						b.Fatal(err)
					}
				}
			}
			clock.stop(a.raw32)
			a.reportSize(b, len(enc))
			if err := checkRows(a, r, d); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// checkRows: the decoded rows are the encoded ones rounded to d.
func checkRows(a *activations, r *cachefmt.Reader, d cachefmt.Dtype) error {
	var row cachefmt.Row
	for i, want := range a.rows {
		if err := r.ReadRow(i, &row); err != nil {
			return err
		}
		if row.Tokens != a.tokens[i] || int64(row.Label) != a.labels[i] {
			return fmt.Errorf("row %d: %d tokens, label %d; want %d, %d", i, row.Tokens, row.Label, a.tokens[i], a.labels[i])
		}
		for j, v := range want {
			if g := row.Hidden[j]; g != cachefmt.RoundTo(d, v) && !(math.IsNaN(float64(g)) && math.IsNaN(float64(v))) {
				return fmt.Errorf("row %d value %d: decoded %g, want %g rounded to %v", i, j, g, v, d)
			}
		}
	}
	return nil
}

// cacheDir writes the rows as a one-shard cache on disk (as `cache build`
// does) the first time it is asked for dtype d.
func (a *activations) cacheDir(tb testing.TB, d cachefmt.Dtype) (string, cachefmt.Fingerprint) {
	tb.Helper()
	fp := cachefmt.Fingerprint{PrefixWeights: "cachebench", Layer: layerK, Tokenizer: "cachebench", MaxLength: a.maxLen,
		Dataset: "cachebench", Dtype: d, Exporter: "cachebench"}
	if dir, ok := a.caches[d]; ok {
		return dir, fp
	}
	dir := filepath.Join(a.dir, "cache-"+d.String())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	w, err := cachefmt.CreateShard(dir, 0, 1, fp, a.hidden, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for i, row := range a.rows {
		if err := w.Append(uint64(i), int32(a.labels[i]), row); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	if _, err := cachefmt.Combine(dir, &cachefmt.CombineOptions{Want: &fp}); err != nil {
		tb.Fatal(err)
	}
	a.caches[d] = dir
	return dir, fp
}

// batchBuffer is what the training step takes: a padded batch and its
// hidden states [Size*SeqLen*hidden], zero past each row's tokens.
type batchBuffer struct {
	b      text.Batch
	hidden []float32
	labels []int64
}

// fill pads rows (token-major, real tokens only) into the buffer, reusing
// its memory. IDs and type ids stay zero: layers >= K do not read them.
func (bb *batchBuffer) fill(rows []cachefmt.Row, hidden int) {
	seq := 0
	for _, r := range rows {
		seq = max(seq, r.Tokens)
	}
	n := len(rows) * seq
	grow := func(s []int64) []int64 {
		if cap(s) < n {
			return make([]int64, n)
		}
		s = s[:n]
		clear(s)
		return s
	}
	bb.b.Size, bb.b.SeqLen = len(rows), seq
	bb.b.IDs, bb.b.TypeIDs, bb.b.Mask = grow(bb.b.IDs), grow(bb.b.TypeIDs), grow(bb.b.Mask)
	bb.b.Lengths = bb.b.Lengths[:0]
	if cap(bb.hidden) < n*hidden {
		bb.hidden = make([]float32, n*hidden)
	}
	bb.hidden = bb.hidden[:n*hidden]
	bb.labels = bb.labels[:0]
	for i, r := range rows {
		bb.b.Lengths = append(bb.b.Lengths, r.Tokens)
		for j := range r.Tokens {
			bb.b.Mask[i*seq+j] = 1
		}
		off := i * seq * hidden
		copy(bb.hidden[off:], r.Hidden)
		clear(bb.hidden[off+r.Tokens*hidden : off+seq*hidden])
		bb.labels = append(bb.labels, int64(r.Label))
	}
}

// BenchmarkEpochRead: one epoch of the cache on disk in a shuffled order
// (text.EpochOrder), batches of 16 through cachefmt.NewBatches (one
// decoding goroutine, two batches ahead), each padded into the buffer the
// training step takes. "nocache": no decoded group is kept, so every row
// decodes its row group, as with a dataset much larger than the group
// cache; "cache64MiB": the reader's default group cache, which holds this
// small set whole after the first epoch.
func BenchmarkEpochRead(b *testing.B) {
	a := data(b)
	for _, d := range dtypes {
		for _, gc := range []struct {
			name  string
			bytes int64
		}{{"nocache", -1}, {"cache64MiB", 0}} {
			b.Run(d.String()+"/"+gc.name, func(b *testing.B) {
				dir, fp := a.cacheDir(b, d)
				c, err := cachefmt.OpenCache(dir, fp, &cachefmt.ReaderOptions{CacheBytes: gc.bytes})
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				var bb batchBuffer
				b.SetBytes(a.raw32)
				clock := startClock(b)
				for i := range b.N {
					it := cachefmt.NewBatches(context.Background(), c, text.EpochOrder(c.Rows(), epochSeed, i), batchSize, nil)
					for {
						batch, err := it.Next()
						if err == io.EOF {
							break
						} else if err != nil {
							b.Fatal(err)
						}
						bb.fill(batch.Rows, a.hidden)
					}
					it.Close()
				}
				per := clock.stop(a.raw32)
				b.ReportMetric(float64(per)/1e6, "ms/epoch")
			})
		}
	}
}

// BenchmarkSuffixTrain: one epoch of training of the suffix (layers [K, 6)
// and the classification head, libtorch on the CPU, AdamW, dropout on) on
// the same examples in the same batches, from their hidden states: what
// the epoch read above feeds. The batches are padded before the timer
// starts, so this is the training step alone. threads=N is libtorch's
// intra-op threads.
func BenchmarkSuffixTrain(b *testing.B) {
	a := data(b)
	var batches []batchBuffer
	order := text.EpochOrder(len(a.rows), epochSeed, 0)
	for lo := 0; lo < len(order); lo += batchSize {
		var rows []cachefmt.Row
		for _, i := range order[lo:min(lo+batchSize, len(order))] {
			rows = append(rows, cachefmt.Row{ID: uint64(i), Label: int32(a.labels[i]), Tokens: a.tokens[i], Hidden: a.rows[i]})
		}
		var bb batchBuffer
		bb.fill(rows, a.hidden)
		batches = append(batches, bb)
	}
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			before := trainable.Threads()
			trainable.SetThreads(threads)
			defer trainable.SetThreads(before)
			enc, err := trainable.New(a.cfg, a.weights.Tensors, 2, trainable.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer enc.Close()
			tr := trainable.NewTrainer(enc, trainable.OptimConfig{})
			if err := tr.Freeze(layerK); err != nil {
				b.Fatal(err)
			}
			epoch := func() {
				for _, bb := range batches {
					if _, err := tr.Backward(bb.b, bb.hidden, layerK, bb.labels, 1); err != nil {
						b.Fatal(err)
					}
					if _, err := tr.Step(5e-5); err != nil {
						b.Fatal(err)
					}
				}
			}
			epoch() // warm-up: libtorch's first passes allocate
			b.SetBytes(a.raw32)
			clock := startClock(b)
			for range b.N {
				epoch()
			}
			per := clock.stop(a.raw32)
			b.ReportMetric(float64(per)/1e6, "ms/epoch")
		})
	}
}

// TestSizeTarget: on the real activations, the fp16 cache takes at most
// 0.45x the raw fp32 bytes of the real tokens, and every dtype decodes to
// what was written rounded to it. (Speed is for the benchmarks.)
func TestSizeTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("computes real activations (seconds of ONNX Runtime)")
	}
	a := data(t)
	for _, d := range dtypes {
		enc := a.encode(t, d)
		r, err := cachefmt.NewReader(bytes.NewReader(enc), int64(len(enc)), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkRows(a, r, d); err != nil {
			t.Fatalf("%v: %v", d, err)
		}
		ratio := float64(len(enc)) / float64(a.raw32)
		t.Logf("%v: %d bytes, %.4fx raw fp32 of the real tokens, %.4fx fp32 padded to %d, %.4fx padded to 512",
			d, len(enc), ratio, float64(len(enc))/float64(a.padded(a.maxLen)), a.maxLen, float64(len(enc))/float64(a.padded(refLen512)))
		if d == cachefmt.Float16 && ratio > 0.45 {
			t.Errorf("fp16 cache is %.4fx the raw fp32 bytes, want <= 0.45", ratio)
		}
	}
}
