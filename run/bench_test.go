package run

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autofreeze/autofreeze/internal/testenv"
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/precision"
	"github.com/autofreeze/autofreeze/text"
	"github.com/autofreeze/autofreeze/trainable"
)

// BenchmarkTrainerOverhead trains the demo configuration (MiniLM, IMDb,
// 128 tokens, batch 16) for a fixed number of steps twice: through the full
// training run (data order, seeding, logging, freeze bookkeeping) and as a
// bare loop of forward+backward+AdamW on the same batches. It reports both
// throughputs, the run's overhead, and the process's peak RSS.
//
//	go test ./run -run '^$' -bench TrainerOverhead -benchtime 1x
func BenchmarkTrainerOverhead(b *testing.B) {
	modelDir := testenv.ModelDir(b)
	train := filepath.Join(testenv.IMDbDir(b), "train.jsonl")
	const steps, batch, maxLen = 20, 16, 128
	for i := 0; i < b.N; i++ {
		out := b.TempDir()
		cfg := Config{Model: modelDir, Train: train, Out: out, TrainLimit: steps * batch, EvalLimit: 16,
			MaxSteps: steps, BatchSize: batch, MaxLength: maxLen, LR: 5e-5, WarmupRatio: 0.1,
			WeightDecay: 0.01, MaxGradNorm: 1, LogEvery: steps, Threads: 2}
		if _, err := Train(context.Background(), cfg, Options{}); err != nil {
			b.Fatal(err)
		}
		runSeconds := lastStepElapsed(b, filepath.Join(out, "metrics.jsonl"))

		// The bare loop: the same examples in the same order.
		bareSeconds := bareLoop(b, cfg.WithDefaults(), steps, false)
		b.ReportMetric(float64(steps*batch)/runSeconds, "run_examples/s")
		b.ReportMetric(float64(steps*batch)/bareSeconds, "bare_examples/s")
		b.ReportMetric(100*(runSeconds/bareSeconds-1), "overhead_%")
		b.ReportMetric(float64(peakRSS()), "peak_RSS_MB")
	}
}

// BenchmarkStepPrecision is the bare training loop of the demo
// configuration (forward, backward and AdamW on the same 20 batches of 16
// IMDb reviews, 128 tokens, MiniLM, 2 threads, dropout on) in float32 and
// in mixed precision (bf16), alternated within each iteration. Compare
// with scripts/bench_vs_pytorch.sh, which runs PyTorch on the same batches.
// On a CPU without native bf16 (precision.CPU.NativeBF16) only float32 is
// measured: libtorch's emulation is some 40x slower there.
//
//	go test ./run -run '^$' -bench StepPrecision -benchtime 3x
func BenchmarkStepPrecision(b *testing.B) {
	modes := []bool{false, true}
	if cpu := precision.DetectCPU(); !cpu.NativeBF16() {
		b.Logf("measuring fp32 only: %s", cpu.Summary())
		modes = modes[:1]
	}
	const steps, batch = 20, 16
	cfg := Config{Model: testenv.ModelDir(b), Train: filepath.Join(testenv.IMDbDir(b), "train.jsonl"), Out: b.TempDir(),
		TrainLimit: steps * batch, EvalLimit: 16, BatchSize: batch, MaxLength: 128, Threads: 2}.WithDefaults()
	trainable.SetThreads(cfg.Threads)
	var secs [2]float64
	for i := 0; i < b.N; i++ {
		for j, bf16 := range modes {
			secs[j] += bareLoop(b, cfg, steps, bf16)
		}
	}
	n := float64(b.N * steps * batch)
	b.ReportMetric(n/secs[0], "fp32_examples/s")
	if len(modes) == 2 {
		b.ReportMetric(n/secs[1], "bf16_examples/s")
		b.ReportMetric(secs[0]/secs[1], "bf16_speedup")
	}
	b.ReportMetric(float64(peakRSS()), "peak_RSS_MB")
}

// bareLoop trains a fresh encoder for steps batches of cfg's training data
// in the run's first-epoch order with nothing but Backward and Step, and
// returns the seconds those took.
func bareLoop(b *testing.B, cfg Config, steps int, bf16 bool) float64 {
	b.Helper()
	tok, err := text.LoadTokenizer(cfg.Model)
	if err != nil {
		b.Fatal(err)
	}
	trainSplit, _, labels, err := loadTrainEval(cfg, tok)
	if err != nil {
		b.Fatal(err)
	}
	mcfg, _ := model.LoadConfig(cfg.Model)
	w, err := model.LoadWeights(cfg.Model, mcfg)
	if err != nil {
		b.Fatal(err)
	}
	enc, err := trainable.New(mcfg, w.Tensors, labels.Len(), trainable.Options{Seed: cfg.Seed, BF16: bf16})
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	tr := trainable.NewTrainer(enc, trainable.OptimConfig{})
	order := text.EpochOrder(trainSplit.len(), cfg.Seed, 0)
	batch := cfg.BatchSize
	var batches []text.Batch
	var targets [][]int64
	for s := 0; s < steps; s++ {
		bt, l := trainSplit.batch(tok, order[s*batch:(s+1)*batch])
		batches, targets = append(batches, bt), append(targets, l)
	}
	t0 := time.Now()
	for s := 0; s < steps; s++ {
		if _, err := tr.Backward(batches[s], nil, 0, targets[s], 1); err != nil {
			b.Fatal(err)
		}
		if _, err := tr.Step(5e-5); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(t0).Seconds()
}

func lastStepElapsed(b *testing.B, path string) float64 {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	last := 0.0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec struct {
			Type    string  `json:"type"`
			Elapsed float64 `json:"elapsed_s"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Type == "step" {
			last = rec.Elapsed
		}
	}
	return last
}

// peakRSS is the process's peak resident set in MiB (VmHWM).
func peakRSS() int {
	data, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int
			for _, f := range strings.Fields(rest)[:1] {
				for _, c := range f {
					kb = kb*10 + int(c-'0')
				}
			}
			return kb / 1024
		}
	}
	return 0
}
