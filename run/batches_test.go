package run

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/autofreeze/autofreeze/internal/tinymodel"
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/text"
	"github.com/autofreeze/autofreeze/trainable"
)

// dumpedBatch is a batch line of a batches file, as a reader sees it.
type dumpedBatch struct {
	Split        string    `json:"split"`
	Epoch        *int      `json:"epoch"`
	Step         int       `json:"step"`
	Micro        *int      `json:"micro"`
	StepExamples int       `json:"step_examples"`
	LR           *float64  `json:"lr"`
	DropoutSeed  *int64    `json:"dropout_seed"`
	Rows         []int     `json:"rows"`
	InputIDs     [][]int64 `json:"input_ids"`
	TokenTypeIDs [][]int64 `json:"token_type_ids"`
	Mask         [][]int64 `json:"attention_mask"`
	Labels       []int64   `json:"labels"`
}

// batch turns the line back into the padded batch it was written from.
func (d dumpedBatch) batch(t *testing.T) text.Batch {
	t.Helper()
	b := text.Batch{Size: len(d.InputIDs), Lengths: make([]int, len(d.InputIDs))}
	if b.Size > 0 {
		b.SeqLen = len(d.InputIDs[0])
	}
	for i := range d.InputIDs {
		if len(d.InputIDs[i]) != b.SeqLen || len(d.TokenTypeIDs[i]) != b.SeqLen || len(d.Mask[i]) != b.SeqLen {
			t.Fatalf("%s batch: ragged rows", d.Split)
		}
		b.IDs = append(b.IDs, d.InputIDs[i]...)
		b.TypeIDs = append(b.TypeIDs, d.TokenTypeIDs[i]...)
		b.Mask = append(b.Mask, d.Mask[i]...)
		for _, m := range d.Mask[i] {
			b.Lengths[i] += int(m)
		}
	}
	return b
}

func readBatches(t *testing.T, data []byte) (BatchesHeader, []dumpedBatch) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<26)
	var h BatchesHeader
	var out []dumpedBatch
	for i := 0; sc.Scan(); i++ {
		var err error
		if i == 0 {
			err = json.Unmarshal(sc.Bytes(), &h)
		} else {
			var d dumpedBatch
			err = json.Unmarshal(sc.Bytes(), &d)
			out = append(out, d)
		}
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
	}
	return h, out
}

// TestDumpBatches checks a dump of the tiny task against the training
// loop: the header's numbers, the train batches' order (recomputed from
// text.EpochOrder), their contents (the examples' encodings, padded), the
// evaluation and test batches, and finally that replaying the dumped
// train batches through the trainer reproduces, bit for bit, the per-step
// losses and learning rates and the evaluation losses that Train logs for
// the same configuration. Grad accumulation with a short last step makes
// the grouping non-trivial.
func TestDumpBatches(t *testing.T) {
	dir, modelDir, train, eval := tinyFiles(t) // 64 training, 24 evaluation examples
	test := filepath.Join(dir, "test.csv")
	if err := tinymodel.WriteCSV(test, 40, 7); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Model: modelDir, Train: train, Eval: eval, Out: filepath.Join(dir, "run"), Seed: 7,
		Epochs: 2, MaxLength: 24, BatchSize: 5, EvalBatchSize: 7, GradAccum: 2, LR: 5e-3, WarmupRatio: 0.2,
		WeightDecay: 0.01, MaxGradNorm: 1.0, LogEvery: 1, Threads: 1}
	var buf bytes.Buffer
	wrote, err := DumpBatches(cfg, &buf, test, 30)
	if err != nil {
		t.Fatal(err)
	}
	h, lines := readBatches(t, buf.Bytes())

	// The header: 64 examples are 13 micro-batches of 5 (the last of 4),
	// 7 steps of 2 micro-batches (the last of 1).
	want := BatchesHeader{Format: BatchesFormat, Model: modelDir, Train: train, Eval: eval, Test: test, TestLimit: 30,
		MaxLength: 24, BatchSize: 5, EvalBatchSize: 7, GradAccum: 2, Epochs: 2, MicroPerEpoch: 13, StepsPerEpoch: 7,
		TotalSteps: 14, WarmupSteps: 3, LR: 5e-3, WarmupRatio: 0.2, Schedule: "linear", WeightDecay: 0.01, MaxGradNorm: 1,
		AdamBeta1: 0.9, AdamBeta2: 0.999, AdamEps: 1e-8, Seed: 7, Threads: 1, Labels: []string{"neg", "pos"},
		HiddenDropout: 0.1, AttentionDropout: 0.1, TrainExamples: 64, EvalExamples: 24, TestExamples: 30,
		TrainBatches: 26, EvalBatches: 4, TestBatches: 5, Fields: batchFields}
	want.TrainTokens, want.InitialWeights = h.TrainTokens, h.InitialWeights
	if len(h.InitialWeights) != 2 || len(h.InitialWeights[model.ClassifierWeight].Data) != 2*32 {
		t.Fatalf("initial weights: want the new head's classifier.weight [2, 32] and classifier.bias, got %d tensors", len(h.InitialWeights))
	}
	if h.TrainTokens < 64*5 {
		t.Errorf("train_tokens %d: too few for 64 examples", h.TrainTokens)
	}
	hj, _ := json.Marshal(h)
	wj, _ := json.Marshal(want)
	if !bytes.Equal(hj, wj) {
		t.Fatalf("header\n got %s\nwant %s", hj, wj)
	}
	if wj, _ := json.Marshal(wrote); !bytes.Equal(hj, wj) {
		t.Errorf("DumpBatches returned\n%s\nbut wrote\n%s", wj, hj)
	}

	tok, err := text.LoadTokenizer(modelDir)
	if err != nil {
		t.Fatal(err)
	}
	encode := func(path string, limit int) ([]text.Encoding, []string) {
		ds, err := text.LoadDataset(path, text.DatasetOptions{RequireLabels: true})
		if err != nil {
			t.Fatal(err)
		}
		if limit > 0 { // as autofreeze eval --limit samples
			idx := text.EpochOrder(len(ds.Examples), cfg.Seed, -1)[:limit]
			slices.Sort(idx)
			var kept []text.Example
			for _, i := range idx {
				kept = append(kept, ds.Examples[i])
			}
			ds.Examples = kept
		}
		var labels []string
		for _, e := range ds.Examples {
			labels = append(labels, e.Label)
		}
		return text.EncodeAll(tok, ds.Examples, cfg.MaxLength), labels
	}
	checkContents := func(d dumpedBatch, encs []text.Encoding, labels []string) {
		t.Helper()
		b := d.batch(t)
		if b.Size != len(d.Rows) || len(d.Labels) != len(d.Rows) {
			t.Fatalf("%s batch of %d rows has %d ids rows and %d labels", d.Split, len(d.Rows), b.Size, len(d.Labels))
		}
		seqLen := 0
		for i, row := range d.Rows {
			e := encs[row]
			seqLen = max(seqLen, e.Len())
			if !slices.Equal(d.InputIDs[i][:e.Len()], e.IDs) || !slices.Equal(d.TokenTypeIDs[i][:e.Len()], e.TypeIDs) ||
				!slices.Equal(d.Mask[i][:e.Len()], e.Mask) {
				t.Fatalf("%s row %d: not the example's encoding", d.Split, row)
			}
			for j := e.Len(); j < b.SeqLen; j++ {
				if d.InputIDs[i][j] != h.PadTokenID || d.TokenTypeIDs[i][j] != 0 || d.Mask[i][j] != 0 {
					t.Fatalf("%s row %d: bad padding at %d", d.Split, row, j)
				}
			}
			if h.Labels[d.Labels[i]] != labels[row] {
				t.Fatalf("%s row %d: label %d (%s), want %s", d.Split, row, d.Labels[i], h.Labels[d.Labels[i]], labels[row])
			}
		}
		if b.SeqLen != seqLen {
			t.Fatalf("%s batch padded to %d, its longest row has %d tokens", d.Split, b.SeqLen, seqLen)
		}
	}

	// The train batches: each epoch's permutation, cut into steps of 10
	// rows and those into micro-batches of 5.
	trainEncs, trainLabels := encode(train, 0)
	var trainLines, evalLines, testLines []dumpedBatch
	for _, d := range lines {
		switch d.Split {
		case "train":
			if len(evalLines) > 0 || len(testLines) > 0 {
				t.Fatal("a train batch after the eval or test batches")
			}
			trainLines = append(trainLines, d)
		case "eval":
			if len(testLines) > 0 {
				t.Fatal("an eval batch after the test batches")
			}
			evalLines = append(evalLines, d)
		case "test":
			testLines = append(testLines, d)
		default:
			t.Fatalf("split %q", d.Split)
		}
	}
	if len(trainLines) != 26 || len(evalLines) != 4 || len(testLines) != 5 {
		t.Fatalf("%d train, %d eval, %d test batches; want 26, 4, 5", len(trainLines), len(evalLines), len(testLines))
	}
	k := 0
	for epoch := 0; epoch < 2; epoch++ {
		order := text.EpochOrder(64, cfg.Seed, epoch)
		for s := 0; s < 7; s++ {
			stepRows := order[s*10 : min(s*10+10, 64)]
			for j := 0; j*5 < len(stepRows); j++ {
				d := trainLines[k]
				k++
				if *d.Epoch != epoch || d.Step != epoch*7+s+1 || *d.Micro != s*2+j || d.StepExamples != len(stepRows) {
					t.Fatalf("train batch %d: epoch %d step %d micro %d of %d examples; want %d, %d, %d, %d",
						k, *d.Epoch, d.Step, *d.Micro, d.StepExamples, epoch, epoch*7+s+1, s*2+j, len(stepRows))
				}
				if want := stepRows[j*5 : min(j*5+5, len(stepRows))]; !slices.Equal(d.Rows, want) {
					t.Fatalf("train batch %d (epoch %d step %d): rows %v, want %v", k, epoch, s, d.Rows, want)
				}
				if want := int64(7)*1_000_003 + int64(epoch*13+s*2+j); *d.DropoutSeed != want {
					t.Fatalf("train batch %d: dropout seed %d, want %d", k, *d.DropoutSeed, want)
				}
				checkContents(d, trainEncs, trainLabels)
			}
		}
	}

	// Evaluation and test batches: every row once, by length.
	checkEval := func(ds []dumpedBatch, path string, limit, n int) {
		t.Helper()
		encs, labels := encode(path, limit)
		var rows []int
		for i, d := range ds {
			if len(d.Rows) != min(7, n-7*i) {
				t.Fatalf("%s batch %d has %d rows", d.Split, i, len(d.Rows))
			}
			checkContents(d, encs, labels)
			rows = append(rows, d.Rows...)
		}
		if !slices.IsSortedFunc(rows, func(a, b int) int { return encs[a].Len() - encs[b].Len() }) {
			t.Fatalf("%s rows are not in length order", ds[0].Split)
		}
		slices.Sort(rows)
		for i, r := range rows {
			if r != i {
				t.Fatalf("%s rows are not each example once: %v", ds[0].Split, rows)
			}
		}
	}
	checkEval(evalLines, eval, 0, 24)
	checkEval(testLines, test, 30, 30)

	// Train the same configuration, then replay the dump through a fresh
	// trainer: the losses, learning rates and evaluations must be the run's.
	if _, err := Train(context.Background(), cfg, Options{}); err != nil {
		t.Fatal(err)
	}
	var runSteps, runEvals []map[string]any
	metrics, err := os.ReadFile(filepath.Join(cfg.Out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(bytes.TrimSpace(metrics), []byte("\n")) {
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatal(err)
		}
		switch rec["type"] {
		case "start":
			if int(rec["total_steps"].(float64)) != h.TotalSteps || int(rec["epochs"].(float64)) != h.Epochs {
				t.Fatalf("the run plans %v steps in %v epochs; the dump %d in %d", rec["total_steps"], rec["epochs"], h.TotalSteps, h.Epochs)
			}
		case "step":
			runSteps = append(runSteps, rec)
		case "eval":
			runEvals = append(runEvals, rec)
		}
	}
	if len(runSteps) != 14 || len(runEvals) != 2 {
		t.Fatalf("the run logged %d steps and %d evaluations; want 14 and 2", len(runSteps), len(runEvals))
	}

	mcfg, err := model.LoadConfig(modelDir)
	if err != nil {
		t.Fatal(err)
	}
	w, err := model.LoadWeights(modelDir, mcfg)
	if err != nil {
		t.Fatal(err)
	}
	trainable.SetThreads(1)
	enc, err := trainable.New(mcfg, w.Tensors, 2, trainable.Options{Seed: cfg.Seed})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	start, err := enc.Weights()
	if err != nil {
		t.Fatal(err)
	}
	for name, init := range h.InitialWeights {
		if !slices.Equal(start[name].Data, init.Data) || !slices.Equal(start[name].Shape, init.Shape) {
			t.Fatalf("initial %s: not the run's", name)
		}
	}
	tr := trainable.NewTrainer(enc, trainable.OptimConfig{WeightDecay: h.WeightDecay, MaxGradNorm: h.MaxGradNorm})
	evalLoss := func() float64 {
		sum, n := 0.0, 0
		for _, d := range evalLines {
			logits, err := enc.Logits(d.batch(t))
			if err != nil {
				t.Fatal(err)
			}
			for i, l := range d.Labels {
				sum += crossEntropy(logits[2*i:2*i+2], int(l))
				n++
			}
		}
		return sum / float64(n)
	}
	evals := 0
	for i := 0; i < len(trainLines); {
		step := trainLines[i].Step
		lossSum, n := 0.0, 0.0
		for ; i < len(trainLines) && trainLines[i].Step == step; i++ {
			d := trainLines[i]
			trainable.Seed(*d.DropoutSeed)
			loss, err := tr.Backward(d.batch(t), nil, 0, d.Labels, float64(len(d.Rows))/float64(d.StepExamples))
			if err != nil {
				t.Fatal(err)
			}
			lossSum += loss * float64(len(d.Rows))
			n += float64(len(d.Rows))
		}
		lr := *trainLines[i-1].LR
		if _, err := tr.Step(lr); err != nil {
			t.Fatal(err)
		}
		rec := runSteps[step-1]
		if got := lossSum / n; got != rec["loss"].(float64) || lr != rec["lr"].(float64) {
			t.Fatalf("step %d: replayed loss %v at lr %v; the run logged %v at %v", step, got, lr, rec["loss"], rec["lr"])
		}
		if step%h.StepsPerEpoch == 0 { // evaluation at each epoch's end
			if got, run := evalLoss(), runEvals[evals]["loss"].(float64); got != run {
				t.Fatalf("evaluation after step %d: replayed loss %v, the run's %v", step, got, run)
			}
			evals++
		}
	}
}

// TestDumpBatchesMaxSteps: --max-steps ends the dump where it ends the run,
// part-way through an epoch, with the schedule over the shorter run.
func TestDumpBatchesMaxSteps(t *testing.T) {
	_, modelDir, train, _ := tinyFiles(t)
	cfg := Config{Model: modelDir, Train: train, EvalSplit: 0.25, MaxLength: 24, BatchSize: 4, MaxSteps: 17, LR: 1e-3, WarmupRatio: 0.1}
	var buf bytes.Buffer
	if _, err := DumpBatches(cfg, &buf, "", 0); err != nil {
		t.Fatal(err)
	}
	h, lines := readBatches(t, buf.Bytes())
	// 48 training examples (16 held out): 12 steps an epoch, 2 epochs for 17 steps.
	if h.TrainExamples != 48 || h.EvalExamples != 16 || h.StepsPerEpoch != 12 || h.TotalSteps != 17 || h.Epochs != 2 ||
		h.WarmupSteps != 2 || h.TrainBatches != 17 || h.EvalBatches != 1 || h.EvalSplit != 0.25 || h.TestBatches != 0 {
		t.Fatalf("header %+v", h)
	}
	last := lines[16]
	if last.Split != "train" || last.Step != 17 || *last.Epoch != 1 || *last.Micro != 4 {
		t.Fatalf("last train batch: %+v", last)
	}
	for i, d := range lines[:17] {
		if want := learningRate("linear", 1e-3, i, 17, 2); *d.LR != want {
			t.Fatalf("step %d: lr %v, want %v", i+1, *d.LR, want)
		}
	}
	if *lines[16].LR <= 0 || *lines[1].LR != 1e-3 {
		t.Fatalf("schedule: %v ... %v", *lines[1].LR, *lines[16].LR)
	}
}
