package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/autofreeze/autofreeze/internal/tinymodel"
)

// TestMain lets tests run the command line in a child process (to kill it):
// with AUTOFREEZE_TEST_MAIN set, the test binary is autofreeze.
func TestMain(m *testing.M) {
	if os.Getenv("AUTOFREEZE_TEST_MAIN") == "1" {
		os.Exit(Main(append([]string{"autofreeze"}, os.Args[1:]...)))
	}
	os.Exit(m.Run())
}

// cmd runs the command line in-process and returns exit code and output.
func cmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runApp(append([]string{"autofreeze"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// fixture writes the tiny model and toy train/eval data.
type fixture struct{ dir, model, train, eval string }

func newFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	f := fixture{dir: dir, model: filepath.Join(dir, "tiny-bert"), train: filepath.Join(dir, "train.csv"), eval: filepath.Join(dir, "eval.csv")}
	if err := tinymodel.WriteModel(f.model, 1); err != nil {
		t.Fatal(err)
	}
	if err := tinymodel.WriteCSV(f.train, 320, 1); err != nil {
		t.Fatal(err)
	}
	if err := tinymodel.WriteCSV(f.eval, 32, 2); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f fixture) trainArgs(out string, extra ...string) []string {
	args := []string{"--quiet", "train", "--model", f.model, "--train", f.train, "--eval", f.eval, "--out", out,
		"--epochs", "4", "--batch-size", "16", "--lr", "5e-3", "--max-length", "24", "--threads", "1", "--log-every", "4"}
	return append(args, extra...)
}

func TestTrainEvalPredict(t *testing.T) {
	f := newFixture(t)
	out := filepath.Join(f.dir, "run")
	code, stdout, stderr := cmd(t, f.trainArgs(out)...)
	if code != 0 {
		t.Fatalf("train exited %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "best model") || !strings.Contains(stdout, "best eval") {
		t.Errorf("train output lacks the summary: %q", stdout)
	}
	for _, p := range []string{"report.png", "config.yaml", "metrics.jsonl", "checkpoints/best/config.json", "checkpoints/best/model.safetensors",
		"checkpoints/best/vocab.txt", "checkpoints/last/trainer_state.json", "checkpoints/last/optimizer.safetensors"} {
		if _, err := os.Stat(filepath.Join(out, p)); err != nil {
			t.Errorf("run directory lacks %s", p)
		}
	}
	cfgJSON, _ := os.ReadFile(filepath.Join(out, "checkpoints/best/config.json"))
	if !bytes.Contains(cfgJSON, []byte(`"id2label"`)) || !bytes.Contains(cfgJSON, []byte(`"BertForSequenceClassification"`)) {
		t.Errorf("checkpoint config.json is not a Hugging Face classifier config:\n%s", cfgJSON)
	}

	code, stdout, stderr = cmd(t, "eval", "--model", filepath.Join(out, "checkpoints/best"), "--data", f.eval, "--output", filepath.Join(f.dir, "m.json"))
	if code != 0 {
		t.Fatalf("eval exited %d: %s", code, stderr)
	}
	var acc float64
	for _, line := range strings.Split(stdout, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "accuracy" {
			acc, _ = strconv.ParseFloat(f[1], 64)
		}
	}
	// The toy task has one sentiment word per review: a model that trained
	// at all gets it right.
	if acc < 0.9 {
		t.Errorf("eval accuracy %.3f on the toy task; training did not learn:\n%s", acc, stdout)
	}
	preds := filepath.Join(f.dir, "preds.jsonl")
	code, _, stderr = cmd(t, "predict", "--model", filepath.Join(out, "checkpoints/best"), "--data", f.eval, "--output", preds)
	if code != 0 {
		t.Fatalf("predict exited %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(string(must(os.ReadFile(preds)))), "\n")
	if len(lines) != 32 || !strings.Contains(lines[0], `"probabilities"`) || !strings.Contains(lines[0], `"label"`) {
		t.Fatalf("predictions: %d lines, first %q", len(lines), lines[0])
	}

	// A second train into the same directory must not overwrite it.
	code, _, stderr = cmd(t, f.trainArgs(out)...)
	if code != ExitUsage || !strings.Contains(stderr, "--resume") {
		t.Fatalf("training into an existing run: exit %d, %q", code, stderr)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestBadInput: each mistake a user can make gets a message naming the
// problem and a non-zero exit status, never a panic.
func TestBadInput(t *testing.T) {
	f := newFixture(t)
	write := func(name, content string) string {
		p := filepath.Join(f.dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	huge, foreign, broken, nanW := hugeLayersModel(t, f.dir), foreignTokenizerModel(t, f.dir), brokenWeightsModel(t, f.dir), nanWeightsModel(t, f.dir)
	texts := write("texts.txt", "a good movie\nsuperb\n")
	train := func(out string, extra ...string) []string {
		return append([]string{"train", "--model", f.model, "--train", f.train, "--eval", f.eval, "--out", filepath.Join(f.dir, out)}, extra...)
	}
	cacheBuild := func(m, out string, extra ...string) []string {
		return append([]string{"cache", "build", "--model", m, "--layers", "0:2", "--data", f.train, "--out", filepath.Join(f.dir, out), "--max-length", "24"}, extra...)
	}
	unsupported := filepath.Join(f.dir, "deberta")
	os.MkdirAll(unsupported, 0o755)
	write("deberta/config.json", `{"model_type": "deberta-v2", "hidden_size": 8}`)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing model dir", []string{"train", "--model", filepath.Join(f.dir, "nope"), "--train", f.train, "--out", filepath.Join(f.dir, "r1")}, ExitUsage, "does not exist"},
		{"unsupported model type", []string{"train", "--model", unsupported, "--train", f.train, "--out", filepath.Join(f.dir, "r2")}, ExitUsage, `model_type "deberta-v2"`},
		{"wrong column count", []string{"train", "--model", f.model, "--train", write("bad1.csv", "text,label\n\"good movie\",pos\n\"bad\",neg,extra\n"), "--out", filepath.Join(f.dir, "r3")}, ExitUsage, "bad1.csv:3"},
		{"broken quoting", []string{"train", "--model", f.model, "--train", write("bad2.csv", "text,label\n\"good movie,pos\n"), "--out", filepath.Join(f.dir, "r4")}, ExitUsage, "bad2.csv:2"},
		{"empty text", []string{"train", "--model", f.model, "--train", write("bad3.csv", "text,label\ngood,pos\n,neg\n"), "--out", filepath.Join(f.dir, "r5")}, ExitUsage, "bad3.csv:3"},
		{"missing label", []string{"train", "--model", f.model, "--train", write("bad4.jsonl", "{\"text\": \"good\", \"label\": \"pos\"}\n{\"text\": \"bad\"}\n"), "--out", filepath.Join(f.dir, "r6")}, ExitUsage, "bad4.jsonl:2"},
		{"invalid utf-8", []string{"train", "--model", f.model, "--train", write("bad5.csv", "text,label\ngood,pos\n\xff\xfe,neg\n"), "--out", filepath.Join(f.dir, "r7")}, ExitUsage, "bad5.csv:3"},
		{"label never seen in training", []string{"train", "--model", f.model, "--train", f.train, "--eval", write("bad6.csv", "text,label\ngood,pos\nmeh,neutral\n"), "--out", filepath.Join(f.dir, "r8")}, ExitUsage, "bad6.csv:3"},
		{"bad freeze mode", []string{"train", "--model", f.model, "--train", f.train, "--out", filepath.Join(f.dir, "r9"), "--freeze", "sometimes"}, ExitUsage, "freeze"},
		{"missing data file", []string{"train", "--model", f.model, "--train", filepath.Join(f.dir, "none.csv"), "--out", filepath.Join(f.dir, "r10")}, ExitUsage, "none.csv"},
		{"eval of a base model", []string{"eval", "--model", f.model, "--data", f.eval}, ExitUsage, "not a classification checkpoint"},
		{"unknown flag", []string{"train", "--modle", f.model}, ExitUsage, "modle"},
		{"efficiency mode without a profile", []string{"train", "--model", f.model, "--train", f.train, "--out", filepath.Join(f.dir, "r11"), "--mode", "efficiency"}, ExitUsage, "autofreeze plan profile"},
		{"unreadable profile", []string{"train", "--model", f.model, "--train", f.train, "--out", filepath.Join(f.dir, "r12"), "--mode", "efficiency", "--profile", write("p.json", `{"layers": 4}`)}, ExitUsage, "p.json"},
		{"profile of another global batch", []string{"train", "--model", f.model, "--train", f.train, "--out", filepath.Join(f.dir, "r15"), "--mode", "efficiency", "--profile",
			write("p32.json", `{"model": "tiny", "layers": 4, "examples": 320, "epochs": 1, "global_batch": 32, "threads": 1, "step_seconds": [4, 3, 2, 1], "grad_bytes": [4, 3, 2, 1], "cache_seconds_per_example": [0, 0, 0, 0]}`)}, ExitUsage, "global batch of 32, the run's is 16"},
		{"int8 with the torch engine", []string{"train", "--model", f.model, "--train", f.train, "--out", filepath.Join(f.dir, "r13"), "--int8", "--engine", "torch"}, ExitUsage, "int8"},
		{"launch without a command", []string{"launch", "--nproc-per-node", "2"}, ExitUsage, "give the command to run"},
		{"plan without inputs", []string{"plan"}, ExitUsage, "autofreeze plan profile"},
		{"train with a broken launcher environment", []string{"train", "--model", f.model, "--train", f.train, "--out", filepath.Join(f.dir, "r14")}, ExitUsage, "RANK is not set"},

		// Issue 14.1: a config.json declaring a billion layers is refused
		// before anything is allocated for them.
		{"huge layer count: train", []string{"train", "--model", huge, "--train", f.train, "--out", filepath.Join(f.dir, "h1")}, ExitUsage, "num_hidden_layers 1000000000"},
		{"huge layer count: encode", []string{"encode", "--model", huge, "--input", texts, "--output", filepath.Join(f.dir, "h.jsonl")}, ExitUsage, "num_hidden_layers 1000000000"},
		{"huge layer count: export", []string{"export", "--model", huge, "--output", filepath.Join(f.dir, "h.onnx")}, ExitUsage, "num_hidden_layers 1000000000"},
		{"huge layer count: cache build", cacheBuild(huge, "hc"), ExitUsage, "num_hidden_layers 1000000000"},
		// Issue 14.3: token ids past vocab_size are refused at load.
		{"token id beyond vocab_size: train", []string{"train", "--model", foreign, "--train", f.train, "--out", filepath.Join(f.dir, "v1")}, ExitUsage, `"superb" has id 100, but the model's config.json has vocab_size 40`},
		{"token id beyond vocab_size: encode", []string{"encode", "--model", foreign, "--input", texts, "--output", filepath.Join(f.dir, "v.jsonl"), "--max-length", "24"}, ExitUsage, "vocab_size 40"},
		{"token id beyond vocab_size: cache build", cacheBuild(foreign, "vc"), ExitUsage, "vocab_size 40"},
		// Issue 14.4: thread counts are bounded.
		{"threads 100000", train("t1", "--threads", "100000"), ExitUsage, "--threads 100000: want 0 (one per core) to 1024"},
		{"threads 100000: encode", []string{"encode", "--model", f.model, "--input", texts, "--output", filepath.Join(f.dir, "t.jsonl"), "--threads", "100000"}, ExitUsage, "--threads 100000"},
		{"threads 100000: cache build", cacheBuild(f.model, "tc", "--threads", "100000"), ExitUsage, "--threads 100000"},
		// Issue 14.5: NaN, infinite, negative and explicit zero settings.
		{"warmup-ratio NaN", train("n1", "--warmup-ratio", "NaN"), ExitUsage, "--warmup-ratio NaN"},
		{"lr NaN", train("n2", "--lr", "NaN"), ExitUsage, "--lr NaN"},
		{"lr Inf", train("n3", "--lr", "Inf"), ExitUsage, "--lr +Inf"},
		{"weight-decay -5", train("n4", "--weight-decay", "-5"), ExitUsage, "--weight-decay -5"},
		{"max-grad-norm NaN", train("n5", "--max-grad-norm", "NaN"), ExitUsage, "--max-grad-norm NaN"},
		{"freeze-intervals -5", train("n6", "--freeze-intervals", "-5"), ExitUsage, "--freeze-intervals -5"},
		{"threads -4", train("n7", "--threads", "-4"), ExitUsage, "--threads -4"},
		{"dist-timeout -5s", train("n8", "--dist-timeout", "-5s"), ExitUsage, "--dist-timeout -5s"},
		{"several bad settings at once", train("n9", "--lr", "NaN", "--epochs", "-1"), ExitUsage, "invalid settings:\n  --epochs -1"},
		{"explicit lr 0 is not the default", train("z1", "--lr", "0"), ExitUsage, "--lr 0: want a positive learning rate"},
		{"explicit max-length 0 is not the default", train("z2", "--max-length", "0"), ExitUsage, "--max-length 0"},
		{"explicit batch-size 0 is not the default", train("z3", "--batch-size", "0"), ExitUsage, "--batch-size 0"},
		{"explicit epochs 0 is not the default", train("z4", "--epochs", "0"), ExitUsage, "--epochs 0"},
		{"explicit seed 0 is not the default", train("z5", "--seed", "0"), ExitUsage, "--seed 0"},
		{"freeze 99 on a 4-layer model, before reading the weights", []string{"train", "--model", broken, "--train", f.train, "--out", filepath.Join(f.dir, "f99"), "--freeze", "99"}, ExitUsage, "freeze 99: " + broken + " has 4 layers, so --freeze N takes 0 to 3"},
		{"cache build max-length 0", cacheBuild(f.model, "c1", "--max-length", "0"), ExitUsage, "--max-length 0: want 2 to the 64 tokens the model's position table holds"},
		{"cache build max-length -3", cacheBuild(f.model, "c2", "--max-length", "-3"), ExitUsage, "--max-length -3"},
		{"cache build max-length 100000", cacheBuild(f.model, "c3", "--max-length", "100000"), ExitUsage, "--max-length 100000"},
		{"cache build batch-size 0", cacheBuild(f.model, "c4", "--batch-size", "0"), ExitUsage, "--batch-size 0: want at least 1"},
		{"encode max-length 100000", []string{"encode", "--model", f.model, "--input", texts, "--output", filepath.Join(f.dir, "m.jsonl"), "--max-length", "100000"}, ExitUsage, "--max-length 100000"},
		// Issue 14.12: NaN weights are refused, naming the tensor.
		{"NaN weight", []string{"train", "--model", nanW, "--train", f.train, "--out", filepath.Join(f.dir, "w1")}, ExitUsage, `"encoder.layer.2.attention.self.key.weight" holds NaN`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Contains(tc.name, "launcher environment") {
				t.Setenv("WORLD_SIZE", "2") // a launcher that set only part of torchrun's contract
			}
			args := append([]string{"--quiet"}, tc.args...)
			if tc.args[0] == "train" && !slices.Contains(tc.args, "--max-length") {
				args = append(args, "--max-length", "24")
			}
			code, _, stderr := cmd(t, args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d (want %d), stderr %q (want it to mention %q)", code, tc.code, stderr, tc.want)
			}
			if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine") {
				t.Fatalf("panicked: %s", stderr)
			}
		})
	}
}
