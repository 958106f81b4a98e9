package run

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"

	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/text"
	"github.com/autofreeze/autofreeze/trainable"
)

// BatchesFormat names the format DumpBatches writes (its header's
// "format"); a reader that finds another value must refuse the file.
const BatchesFormat = "autofreeze-batches/1"

// BatchesHeader is the first line of a batches file: the settings a
// training run with the same Config uses, so that another trainer (the
// PyTorch baseline, scripts/pytorch_baseline.py) can train on exactly the
// same batches in the same order with the same schedule.
type BatchesHeader struct {
	Format string `json:"format"`
	Model  string `json:"model"`
	Train  string `json:"train"`
	Eval   string `json:"eval,omitempty"`
	// EvalSplit is the fraction held out of the training data when Eval
	// is empty.
	EvalSplit float64 `json:"eval_split,omitempty"`
	Test      string  `json:"test,omitempty"`
	TestLimit int     `json:"test_limit,omitempty"`

	MaxLength     int `json:"max_length"`
	BatchSize     int `json:"batch_size"`
	EvalBatchSize int `json:"eval_batch_size"`
	GradAccum     int `json:"grad_accum"`
	// Epochs is how many epochs the run visits (fewer than the
	// configured ones when MaxSteps ends it earlier).
	Epochs        int `json:"epochs"`
	MicroPerEpoch int `json:"micro_per_epoch"`
	StepsPerEpoch int `json:"steps_per_epoch"`
	TotalSteps    int `json:"total_steps"`
	WarmupSteps   int `json:"warmup_steps"`

	LR          float64 `json:"lr"`
	WarmupRatio float64 `json:"warmup_ratio"`
	Schedule    string  `json:"schedule"`
	// WeightDecay 0 means none; it never applies to biases and LayerNorm
	// weights.
	WeightDecay float64 `json:"weight_decay"`
	// MaxGradNorm 0 means no clipping.
	MaxGradNorm float64 `json:"max_grad_norm"`
	AdamBeta1   float64 `json:"adam_beta1"`
	AdamBeta2   float64 `json:"adam_beta2"`
	AdamEps     float64 `json:"adam_eps"`

	Seed    uint64 `json:"seed"`
	Threads int    `json:"threads"` // 0: all cores
	// EvalEvery evaluates every N optimizer steps (0: at the end of each
	// epoch); the run also evaluates after its last step. The best
	// checkpoint is the one with the lowest eval loss (the first one on
	// ties), and Patience > 0 stops after that many evaluations without
	// a lower one.
	EvalEvery int `json:"eval_every"`
	Patience  int `json:"patience"`

	Labels []string `json:"labels"`
	// The model's dropout probabilities (the classifier's is the hidden
	// one), and whether the run turns dropout off.
	HiddenDropout    float64 `json:"hidden_dropout_prob"`
	AttentionDropout float64 `json:"attention_probs_dropout_prob"`
	NoDropout        bool    `json:"no_dropout"`
	PadTokenID       int64   `json:"pad_token_id"`
	// InitialWeights are the tensors the run initialises because the
	// model directory lacks them (a new classification head), under
	// BertForSequenceClassification's names, as the run starts from them.
	InitialWeights map[string]InitialTensor `json:"initial_weights"`

	TrainExamples int `json:"train_examples"`
	EvalExamples  int `json:"eval_examples"`
	TestExamples  int `json:"test_examples"`
	// TrainTokens is the training examples' tokens (special tokens
	// included, padding not): one epoch's worth of real tokens.
	TrainTokens  int `json:"train_tokens"`
	TrainBatches int `json:"train_batches"`
	EvalBatches  int `json:"eval_batches"`
	TestBatches  int `json:"test_batches"`

	// Fields describes the batch lines.
	Fields string `json:"fields"`
}

const batchFields = `one JSON object per batch after this header: split ("train", "eval" or "test"), ` +
	`rows (indexes into the split, after sampling), input_ids, token_type_ids, attention_mask ` +
	`([rows][longest row] int64, right-padded with pad_token_id, type 0, mask 0), labels (class ids ` +
	`into "labels"). Train batches come in training order, one per micro-batch: epoch (0-based), ` +
	`step (the optimizer step this micro-batch contributes to, 1-based, as metrics.jsonl counts), ` +
	`micro (0-based within the epoch), step_examples (the step's examples: each micro-batch's mean ` +
	`loss weighs len(rows)/step_examples), lr (the step's learning rate) and dropout_seed (what ` +
	`autofreeze seeds libtorch's generator with before the micro-batch). Eval batches are the ` +
	`held-out split sorted by length (stable), eval_batch_size at a time, as autofreeze evaluates; ` +
	`test batches likewise, the test file sampled as autofreeze eval --limit test_limit --seed seed does.`

// InitialTensor is one tensor of BatchesHeader.InitialWeights: float32
// values in row-major order.
type InitialTensor struct {
	Shape []int64   `json:"shape"`
	Data  []float32 `json:"data"`
}

// initialWeights builds the run's encoder as trainRun.prepare does and
// returns the tensors it initialised, under Hugging Face's names.
func initialWeights(c Config, mcfg *model.Config, numLabels int) (map[string]InitialTensor, error) {
	w, err := model.LoadWeights(c.Model, mcfg)
	if err != nil {
		return nil, badInput(err)
	}
	enc, err := trainable.New(mcfg, w.Tensors, numLabels, trainable.Options{Seed: c.Seed})
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	all, err := enc.Weights()
	if err != nil {
		return nil, err
	}
	out := map[string]InitialTensor{}
	for _, name := range enc.Initialised() {
		// Under the names of the model type's *ForSequenceClassification
		// ("bert.pooler.dense.weight", "classifier.out_proj.weight", ...).
		t := all[name]
		out[enc.Config().HFName(name)] = InitialTensor{Shape: t.Shape, Data: t.Data}
	}
	return out, nil
}

// batchLine is one batch of a batches file.
type batchLine struct {
	Split        string    `json:"split"`
	Epoch        *int      `json:"epoch,omitempty"`
	Step         int       `json:"step,omitempty"`
	Micro        *int      `json:"micro,omitempty"`
	StepExamples int       `json:"step_examples,omitempty"`
	LR           *float64  `json:"lr,omitempty"`
	DropoutSeed  *int64    `json:"dropout_seed,omitempty"`
	Rows         []int     `json:"rows"`
	InputIDs     [][]int64 `json:"input_ids"`
	TokenTypeIDs [][]int64 `json:"token_type_ids"`
	Mask         [][]int64 `json:"attention_mask"`
	Labels       []int64   `json:"labels"`
}

// runPlan is how many steps a run of n training examples takes (for
// trainRun.prepare and the batches file alike).
type runPlan struct {
	microPerEpoch, stepsPerEpoch, epochs, total, warmup int
}

func planRun(c Config, n int) runPlan {
	var p runPlan
	p.microPerEpoch = (n + c.BatchSize - 1) / c.BatchSize
	p.stepsPerEpoch = (p.microPerEpoch + c.GradAccum - 1) / c.GradAccum
	p.total = c.Epochs * p.stepsPerEpoch
	p.epochs = c.Epochs
	if c.MaxSteps > 0 {
		p.total = c.MaxSteps
		p.epochs = (p.total + p.stepsPerEpoch - 1) / p.stepsPerEpoch
	}
	p.warmup = int(math.Round(c.WarmupRatio * float64(p.total)))
	return p
}

// trainMicroBatch is one micro-batch of the training loop.
type trainMicroBatch struct {
	epoch, step, micro int // step is 1-based
	stepExamples       int
	lr                 float64
	dropoutSeed        int64
	rows               []int
}

// trainOrder lists the micro-batches a one-process run of c over n
// training examples trains on, in order: what trainRun.loop and
// trainRun.step do (the same epoch permutations, steps of BatchSize ×
// GradAccum rows, micro-batches of BatchSize, learning rates and dropout
// seeds), until the run's last step.
func trainOrder(c Config, n int) []trainMicroBatch {
	p := planRun(c, n)
	global := c.BatchSize * c.GradAccum
	var out []trainMicroBatch
	step := 0
	for epoch := 0; epoch < p.epochs && step < p.total; epoch++ {
		order := text.EpochOrder(n, c.Seed, epoch)
		for s := 0; s < p.stepsPerEpoch && step < p.total; s++ {
			stepRows := order[s*global : min((s+1)*global, len(order))]
			lr := learningRate(c.Schedule, c.LR, step, p.total, p.warmup)
			for j := 0; j*c.BatchSize < len(stepRows); j++ {
				micro := s*c.GradAccum + j
				out = append(out, trainMicroBatch{
					epoch: epoch, step: step + 1, micro: micro, stepExamples: len(stepRows), lr: lr,
					// trainRun.microSeed at rank 0
					dropoutSeed: int64(c.Seed)*1_000_003 + int64(epoch*p.microPerEpoch+micro),
					rows:        stepRows[j*c.BatchSize : min((j+1)*c.BatchSize, len(stepRows))],
				})
			}
			step++
		}
	}
	return out
}

// lengthBatches groups a split's rows as evaluate does: sorted by length,
// size at a time.
func lengthBatches(s *split, size int) [][]int {
	order := s.lengthOrder()
	var out [][]int
	for start := 0; start < len(order); start += size {
		out = append(out, order[start:min(start+size, len(order))])
	}
	return out
}

// DumpBatches writes, as JSON Lines, the batches a training run with cfg
// trains and evaluates on: a header (BatchesHeader), every training
// micro-batch in the order the run takes them, the held-out batches as its
// evaluations run them, and, when test is not empty, the batches of that
// labelled file sampled to testLimit examples (0: all) with cfg.Seed, as
// `autofreeze eval --limit testLimit --seed SEED` evaluates it. The data,
// tokenizer and sampling are the training run's (loadTrainEval), and the
// header carries the weights the run initialises (the new classification
// head). It returns the header it wrote.
func DumpBatches(cfg Config, w io.Writer, test string, testLimit int) (*BatchesHeader, error) {
	// The batches are the same at any precision, and a dump writes no run
	// directory.
	cfg.Precision = ""
	c := cfg.WithDefaults()
	if c.Out == "" {
		c.Out = "-"
	}
	if err := c.Validate(); err != nil {
		return nil, badInput(err)
	}
	if testLimit < 0 {
		return nil, badInput(fmt.Errorf("test limit %d: must not be negative", testLimit))
	}
	if c.problem() != model.SingleLabel {
		return nil, badInput(fmt.Errorf("problem %s: the batches file carries class ids, so it is written for single_label runs only", c.Problem))
	}
	mcfg, err := model.LoadConfig(c.Model)
	if err != nil {
		return nil, badInput(err)
	}
	tok, err := text.LoadTokenizer(c.Model)
	if err != nil {
		return nil, badInput(err)
	}
	if err := c.checkModel(mcfg, tok); err != nil {
		return nil, badInput(err)
	}
	train, eval, labels, err := loadTrainEval(c, tok)
	if err != nil {
		return nil, badInput(err)
	}
	if eval.len() == 0 {
		return nil, badInput(fmt.Errorf("no evaluation examples: give --eval or a larger --eval-split"))
	}
	var testSplit *split
	if test != "" {
		ds, err := text.LoadDataset(test, c.datasetOptions(true))
		if err != nil {
			return nil, badInput(err)
		}
		if testSplit, err = newSplit(sample(ds, testLimit, c.Seed), tok, &labels, model.SingleLabel, c.MaxLength); err != nil {
			return nil, badInput(err)
		}
	}

	init, err := initialWeights(c, mcfg, labels.Len())
	if err != nil {
		return nil, err
	}
	p := planRun(c, train.len())
	micro := trainOrder(c, train.len())
	evalBatches := lengthBatches(eval, c.EvalBatchSize)
	var testBatches [][]int
	if testSplit != nil {
		testBatches = lengthBatches(testSplit, c.EvalBatchSize)
	}
	tokens := 0
	for _, e := range train.encs {
		tokens += e.Len()
	}
	h := &BatchesHeader{
		Format: BatchesFormat, Model: c.Model, Train: c.Train, Eval: c.Eval, Test: test, TestLimit: testLimit,
		MaxLength: c.MaxLength, BatchSize: c.BatchSize, EvalBatchSize: c.EvalBatchSize, GradAccum: c.GradAccum,
		Epochs: p.epochs, MicroPerEpoch: p.microPerEpoch, StepsPerEpoch: p.stepsPerEpoch,
		TotalSteps: p.total, WarmupSteps: p.warmup,
		LR: c.LR, WarmupRatio: c.WarmupRatio, Schedule: c.Schedule,
		WeightDecay: max(c.WeightDecay, 0), MaxGradNorm: max(c.MaxGradNorm, 0),
		// trainable.OptimConfig's defaults, which a run always uses.
		AdamBeta1: 0.9, AdamBeta2: 0.999, AdamEps: 1e-8,
		Seed: c.Seed, Threads: c.Threads, EvalEvery: c.EvalEvery, Patience: c.Patience,
		Labels: labels.Names(), HiddenDropout: mcfg.HiddenDropout, AttentionDropout: mcfg.AttentionDropout,
		NoDropout: c.NoDropout, PadTokenID: tok.Special().PAD, InitialWeights: init,
		TrainExamples: train.len(), EvalExamples: eval.len(), TrainTokens: tokens,
		TrainBatches: len(micro), EvalBatches: len(evalBatches), TestBatches: len(testBatches),
		Fields: batchFields,
	}
	if c.Eval == "" {
		h.EvalSplit = c.EvalSplit
	}
	if testSplit != nil {
		h.TestExamples = testSplit.len()
	}

	bw := bufio.NewWriterSize(w, 1<<20)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(h); err != nil {
		return nil, err
	}
	for _, m := range micro {
		line := batchLine{Split: "train", Epoch: &m.epoch, Step: m.step, Micro: &m.micro,
			StepExamples: m.stepExamples, LR: &m.lr, DropoutSeed: &m.dropoutSeed}
		if err := writeBatch(enc, line, train, tok, m.rows); err != nil {
			return nil, err
		}
	}
	for _, rows := range evalBatches {
		if err := writeBatch(enc, batchLine{Split: "eval"}, eval, tok, rows); err != nil {
			return nil, err
		}
	}
	for _, rows := range testBatches {
		if err := writeBatch(enc, batchLine{Split: "test"}, testSplit, tok, rows); err != nil {
			return nil, err
		}
	}
	return h, bw.Flush()
}

// writeBatch pads rows of s as the training run does (split.batch) and
// writes them as line.
func writeBatch(enc *json.Encoder, line batchLine, s *split, tok *text.Tokenizer, rows []int) error {
	b, labels := s.batch(tok, rows)
	line.Rows, line.Labels = rows, labels
	line.InputIDs = matrix(b.IDs, b.Size, b.SeqLen)
	line.TokenTypeIDs = matrix(b.TypeIDs, b.Size, b.SeqLen)
	line.Mask = matrix(b.Mask, b.Size, b.SeqLen)
	return enc.Encode(line)
}

// matrix views a row-major slice as rows × cols.
func matrix(xs []int64, rows, cols int) [][]int64 {
	out := make([][]int64, rows)
	for i := range out {
		out[i] = xs[i*cols : (i+1)*cols]
	}
	return out
}
