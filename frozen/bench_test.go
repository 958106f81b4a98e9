package frozen_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/autofreeze/autofreeze/frozen"
	"github.com/autofreeze/autofreeze/frozen/export"
	"github.com/autofreeze/autofreeze/frozen/internal/testenv"
	"github.com/autofreeze/autofreeze/model"
)

// BenchmarkPrefix measures examples per second through exported MiniLM
// ranges at batch 32, sequence 128, plain against fused. Layer ranges from 0
// take token ids; 3:6 takes hidden states (the cache advancing).
// AUTOFREEZE_BENCH_THREADS sets ONNX Runtime's intra-op threads (default 2).
//
//	go test ./frozen -run '^$' -bench Prefix -benchtime 20x
func BenchmarkPrefix(b *testing.B) {
	initORT(b)
	threads := 2
	if s := os.Getenv("AUTOFREEZE_BENCH_THREADS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("AUTOFREEZE_BENCH_THREADS=%q: want a positive integer", s)
		}
		threads = n
	}
	cfg, w := testenv.MiniLM(b)
	const batch, seq = 32, 128
	rng := rand.New(rand.NewPCG(1, 2))
	tokens := frozen.Batch{Size: batch, SeqLen: seq}
	for i := 0; i < batch*seq; i++ {
		tokens.InputIDs = append(tokens.InputIDs, int64(1000+rng.IntN(28000)))
		tokens.Mask = append(tokens.Mask, 1)
	}
	hidden := frozen.Batch{Size: batch, SeqLen: seq, Mask: tokens.Mask}
	for i := 0; i < batch*seq*cfg.HiddenSize; i++ {
		hidden.Hidden = append(hidden.Hidden, float32(rng.NormFloat64()))
	}
	dir := b.TempDir()
	for _, r := range []model.Range{{Start: 0, End: 6}, {Start: 0, End: 3}, {Start: 3, End: 6}} {
		for _, fused := range []bool{false, true} {
			form := map[bool]string{false: "plain", true: "fused"}[fused]
			b.Run(fmt.Sprintf("layers=%s/%s/threads=%d", r, form, threads), func(b *testing.B) {
				p := exportFile(b, dir, cfg, w, export.ExportOptions{Range: r, Fused: fused})
				run := newRunner(b, p, frozen.RunnerOptions{IntraOpThreads: threads, InterOpThreads: 1})
				in := tokens
				if r.Start > 0 {
					in = hidden
				}
				if _, err := run.Run(in); err != nil { // warm up
					b.Fatal(err)
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := run.Run(in); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "examples/s")
			})
		}
	}
}
