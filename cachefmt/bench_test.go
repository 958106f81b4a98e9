package cachefmt

// Measured on the project's build machine (x86-64, 2 cores shared with other jobs, Go 1.26.8),
// one core:
//
//	go test -run '^$' -bench . -benchtime 20x -cpu 1 ./cachefmt/
//
// MB/cpu-s is raw fp32 MB per CPU second (steady on a shared machine); file/raw32 is the file
// size over the raw fp32 bytes of the real tokens. Targets: fp16 file/raw32 <= 0.45, decode
// >= 1000 MB/s per core.
//
//	BenchmarkEncode/fp32      823 MB/cpu-s   0.8408 file/raw32
//	BenchmarkEncode/fp16      917 MB/cpu-s   0.4306 file/raw32
//	BenchmarkEncode/bf16     1138 MB/cpu-s   0.3407 file/raw32
//	BenchmarkDecode/fp32     1665 MB/cpu-s
//	BenchmarkDecode/fp16     2241 MB/cpu-s
//	BenchmarkDecode/bf16     2371 MB/cpu-s
//	BenchmarkBatchesShuffled 1547 MB/cpu-s   (fp16, random order, batches of 16)
//
// BenchmarkPlaneCodec (huff0 against zstd on the byte planes) is summarized in FORMAT.md,
// "Choices, and why".

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// activations imitates BERT hidden states (MiniLM: hidden 384): per-channel Gaussian with a
// channel-specific scale and mean, a per-token scale, and a few large outlier channels.
// Token counts are uniform in [64, 448), about IMDb's.
type activations struct {
	hidden int
	rows   [][]float32
	raw32  int64 // bytes of the rows as fp32
}

func makeActivations(hidden, rows int) *activations {
	rng := rand.New(rand.NewPCG(42, 7))
	mean, scale := make([]float64, hidden), make([]float64, hidden)
	for c := range hidden {
		mean[c] = rng.NormFloat64() * 0.1
		scale[c] = math.Exp(rng.NormFloat64()*0.4) * 0.5
	}
	for _, c := range []int{17, 101, 222, 300, 351} {
		mean[c], scale[c] = 6*float64(1-2*(c%2)), 2
	}
	a := &activations{hidden: hidden}
	for range rows {
		tokens := 64 + rng.IntN(384)
		row := make([]float32, tokens*hidden)
		for t := range tokens {
			ts := 0.8 + 0.4*rng.Float64()
			for c := range hidden {
				row[t*hidden+c] = float32(mean[c] + scale[c]*ts*rng.NormFloat64())
			}
		}
		a.rows = append(a.rows, row)
		a.raw32 += int64(4 * len(row))
	}
	return a
}

var benchData = sync.OnceValue(func() *activations { return makeActivations(384, 48) })

func (a *activations) encode(b *testing.B, d Dtype) []byte {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, a.hidden, &WriterOptions{Dtype: d})
	if err != nil {
		b.Fatal(err)
	}
	for i, row := range a.rows {
		w.Append(uint64(i), int32(i%2), row)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// cpuClock reports MB/s per CPU second (see cpuTime) when stopped.
type cpuClock struct {
	b     *testing.B
	start time.Duration
}

func startCPU(b *testing.B) cpuClock { b.ResetTimer(); return cpuClock{b, cpuTime()} }

func (c cpuClock) stop(bytesPerOp int64) {
	c.b.StopTimer()
	if used := cpuTime() - c.start; used > 0 {
		c.b.ReportMetric(float64(bytesPerOp)*float64(c.b.N)/used.Seconds()/1e6, "MB/cpu-s")
	}
}

var benchDtypes = []Dtype{Float32, Float16, BFloat16}

// BenchmarkEncode: Append and Close of every row, into memory. Throughput is of raw fp32 input.
func BenchmarkEncode(b *testing.B) {
	a := benchData()
	for _, d := range benchDtypes {
		b.Run(d.String(), func(b *testing.B) {
			size := len(a.encode(b, d))
			b.SetBytes(a.raw32)
			clock := startCPU(b)
			for range b.N {
				a.encode(b, d)
			}
			clock.stop(a.raw32)
			b.ReportMetric(float64(size)/float64(a.raw32), "file/raw32")
		})
	}
}

// BenchmarkDecode: every row read in file order into float32 (CRC, Huffman decoding, plane
// merge, widening). The group cache holds a few groups, so each is decoded once per pass.
func BenchmarkDecode(b *testing.B) {
	a := benchData()
	for _, d := range benchDtypes {
		b.Run(d.String(), func(b *testing.B) {
			data := a.encode(b, d)
			r, err := NewReader(bytes.NewReader(data), int64(len(data)), &ReaderOptions{CacheBytes: 2 << 20})
			if err != nil {
				b.Fatal(err)
			}
			var row Row
			b.SetBytes(a.raw32)
			clock := startCPU(b)
			for range b.N {
				for i := range r.Rows() {
					if err := r.ReadRow(i, &row); err != nil {
						b.Fatal(err)
					}
				}
			}
			clock.stop(a.raw32)
			b.ReportMetric(float64(len(data))/float64(a.raw32), "file/raw32")
		})
	}
}

// BenchmarkBatchesShuffled: an epoch in a random order through the prefetching iterator,
// batches of 16, one decoding worker.
func BenchmarkBatchesShuffled(b *testing.B) {
	a := benchData()
	data := a.encode(b, Float16)
	r, err := NewReader(bytes.NewReader(data), int64(len(data)), &ReaderOptions{CacheBytes: 2 << 20})
	if err != nil {
		b.Fatal(err)
	}
	order := rand.New(rand.NewPCG(1, 2)).Perm(r.Rows())
	b.SetBytes(a.raw32)
	clock := startCPU(b)
	for range b.N {
		it := NewBatches(context.Background(), r, order, 16, nil)
		for {
			if _, err := it.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
		it.Close()
	}
	clock.stop(a.raw32)
}

// BenchmarkPlaneCodec compares entropy coders on the byte planes of one large chunk: the
// measurement behind FORMAT.md's choice of huff0. Throughput is of raw fp32 input.
func BenchmarkPlaneCodec(b *testing.B) {
	a := benchData()
	var all []float32
	for _, row := range a.rows[:8] {
		all = append(all, row...)
	}
	raw32 := int64(4 * len(all))
	type codec struct {
		name string
		enc  func(plane []byte) []byte
		dec  func(stored []byte, n int) error
	}
	zenc := func(opts ...zstd.EOption) func([]byte) []byte {
		e, _ := zstd.NewWriter(nil, append(opts, zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(false))...)
		return func(p []byte) []byte { return e.EncodeAll(p, nil) }
	}
	zd, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	zdec := func(s []byte, n int) error { _, err := zd.DecodeAll(s, make([]byte, 0, n)); return err }
	codecs := []codec{
		{"huff0", func(p []byte) []byte {
			var pe planeEncoder
			return pe.appendChunk(nil, [][]byte{p}, len(p))
		}, func(s []byte, n int) error {
			return decodePlanes(chunkRef{}, s[1:len(s)-4], make([]byte, n), 1)
		}},
		{"zstd-fastest", zenc(zstd.WithEncoderLevel(zstd.SpeedFastest)), zdec},
		{"zstd-fastest-alllit", zenc(zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithAllLitEntropyCompression(true)), zdec},
		{"zstd-default-alllit", zenc(zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithAllLitEntropyCompression(true)), zdec},
	}
	for _, d := range benchDtypes {
		e := d.Size()
		planes := make([][]byte, e)
		for p := range planes {
			planes[p] = make([]byte, len(all))
		}
		splitInto(d, planes, 0, all)
		for _, c := range codecs {
			var stored [][]byte
			size := 0
			for _, p := range planes {
				s := c.enc(p)
				stored = append(stored, s)
				size += len(s)
			}
			b.Run(fmt.Sprintf("%s/%s/encode", d, c.name), func(b *testing.B) {
				b.SetBytes(raw32)
				clock := startCPU(b)
				for range b.N {
					for _, p := range planes {
						c.enc(p)
					}
				}
				clock.stop(raw32)
				b.ReportMetric(float64(size)/float64(raw32), "file/raw32")
			})
			b.Run(fmt.Sprintf("%s/%s/decode", d, c.name), func(b *testing.B) {
				b.SetBytes(raw32)
				clock := startCPU(b)
				for range b.N {
					for _, s := range stored {
						if err := c.dec(s, len(all)); err != nil {
							b.Fatal(err)
						}
					}
				}
				clock.stop(raw32)
				b.ReportMetric(float64(size)/float64(raw32), "file/raw32")
			})
		}
	}
}
