package cli

import (
	"bytes"
	"os"
	"path/filepath"
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
	unsupported := filepath.Join(f.dir, "roberta")
	os.MkdirAll(unsupported, 0o755)
	write("roberta/config.json", `{"model_type": "roberta", "hidden_size": 8}`)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing model dir", []string{"train", "--model", filepath.Join(f.dir, "nope"), "--train", f.train, "--out", filepath.Join(f.dir, "r1")}, ExitUsage, "does not exist"},
		{"unsupported model type", []string{"train", "--model", unsupported, "--train", f.train, "--out", filepath.Join(f.dir, "r2")}, ExitUsage, `model_type "roberta"`},
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
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Contains(tc.name, "launcher environment") {
				t.Setenv("WORLD_SIZE", "2") // a launcher that set only part of torchrun's contract
			}
			args := append([]string{"--quiet"}, tc.args...)
			if tc.args[0] == "train" {
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
