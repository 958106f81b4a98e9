package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/autofreeze/autofreeze/internal/tinymodel"
)

// evalFields reads `eval`'s "name value" lines.
func evalFields(t *testing.T, stdout string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, line := range strings.Split(stdout, "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				t.Fatalf("eval printed %q", line)
			}
			out[f[0]] = v
		}
	}
	return out
}

// TestTrainMultiLabel trains the tiny model on the toy multi-label task
// (labels in a JSON list) with AutoFreeze and the disk cache, and checks what a user sees: the eval metrics, the
// predictions and a config.json that Hugging Face reads as multi-label.
func TestTrainMultiLabel(t *testing.T) {
	f := newFixture(t)
	train, eval := filepath.Join(f.dir, "train.jsonl"), filepath.Join(f.dir, "eval.jsonl")
	if err := tinymodel.WriteTagsJSONL(train, 480, 1); err != nil {
		t.Fatal(err)
	}
	if err := tinymodel.WriteTagsJSONL(eval, 96, 2); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(f.dir, "run")
	args := []string{"--quiet", "train", "--model", f.model, "--train", train, "--eval", eval, "--out", out,
		"--problem", "multi_label", "--label-column", "labels", "--epochs", "12", "--batch-size", "16", "--lr", "2e-3",
		"--max-length", "24", "--threads", "1", "--freeze", "auto", "--freeze-intervals", "6", "--cache", "disk", "--engine", "torch"}
	if code, _, stderr := cmd(t, args...); code != 0 {
		t.Fatalf("train exited %d: %s", code, stderr)
	}
	best := filepath.Join(out, "checkpoints", "best")
	var cfg struct {
		Problem  string            `json:"problem_type"`
		Labels   int               `json:"num_labels"`
		ID2Label map[string]string `json:"id2label"`
	}
	data := must(os.ReadFile(filepath.Join(best, "config.json")))
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Problem != "multi_label_classification" || cfg.Labels != 2 || cfg.ID2Label["0"] != "negative" || cfg.ID2Label["1"] != "positive" {
		t.Errorf("config.json is not a 2-label multi-label classifier:\n%s", data)
	}
	state := string(must(os.ReadFile(filepath.Join(out, "checkpoints", "last", "trainer_state.json"))))
	if !strings.Contains(state, `"cache"`) {
		t.Errorf("the run used no cache; the test does not cover multi-label targets with cached states:\n%s", state)
	}

	code, stdout, stderr := cmd(t, "eval", "--model", best, "--data", eval, "--label-column", "labels")
	if code != 0 {
		t.Fatalf("eval exited %d: %s", code, stderr)
	}
	m := evalFields(t, stdout)
	// Each label is the presence of a word of its kind: a model that
	// learned gets nearly all right, while predicting both labels always
	// (each applies to two examples in three) scores micro-F1 0.8 and
	// exact match 1/3.
	if m["micro_f1"] < 0.95 || m["macro_f1"] < 0.95 || m["exact_match"] < 0.9 {
		t.Errorf("multi-label metrics show no learning:\n%s", stdout)
	}
	if _, ok := m["accuracy"]; ok {
		t.Errorf("eval printed a single-label accuracy for multi-label data:\n%s", stdout)
	}

	// The same evaluation data with one 0/1 column per label (the Jigsaw
	// layout) gives the same metrics.
	indicators := filepath.Join(f.dir, "eval-columns.csv")
	var b strings.Builder
	b.WriteString("text,positive,negative\n")
	sc := bufio.NewScanner(must(os.Open(eval)))
	for sc.Scan() {
		var ex struct {
			Text   string   `json:"text"`
			Labels []string `json:"labels"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ex); err != nil {
			t.Fatal(err)
		}
		bit := func(l string) int {
			if slices.Contains(ex.Labels, l) {
				return 1
			}
			return 0
		}
		fmt.Fprintf(&b, "%q,%d,%d\n", ex.Text, bit("positive"), bit("negative"))
	}
	if err := os.WriteFile(indicators, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout2, stderr := cmd(t, "eval", "--model", best, "--data", indicators, "--label-column", "positive,negative")
	if code != 0 || stdout2 != stdout {
		t.Errorf("eval on label columns (exit %d, %s):\n%s\nwant the metrics of the label lists:\n%s", code, stderr, stdout2, stdout)
	}
	code, _, stderr = cmd(t, append(args[:len(args):len(args)], "--problem", "single_label", "--label-column", "positive,negative", "--out", filepath.Join(f.dir, "bad"))...)
	if code == 0 || !strings.Contains(stderr, "add --problem multi_label") {
		t.Errorf("several label columns in a single-label run: exit %d, %s", code, stderr)
	}

	preds := filepath.Join(f.dir, "preds.jsonl")
	if code, _, stderr := cmd(t, "predict", "--model", best, "--data", eval, "--output", preds); code != 0 {
		t.Fatalf("predict exited %d: %s", code, stderr)
	}
	sc = bufio.NewScanner(must(os.Open(preds)))
	rows, both := 0, 0
	for sc.Scan() {
		var r struct {
			Labels        *[]string `json:"labels"`
			Probabilities []float64 `json:"probabilities"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.Labels == nil || len(r.Probabilities) != 2 {
			t.Fatalf("prediction %q: want a list of labels and 2 probabilities (%v)", sc.Text(), err)
		}
		rows++
		if slices.Contains(*r.Labels, "positive") && slices.Contains(*r.Labels, "negative") {
			both++
		}
	}
	if rows != 96 || both == 0 {
		t.Errorf("%d predictions, %d with both sentiments; want 96, about a third with both", rows, both)
	}
}

// TestTrainRegression trains the tiny model to score the toy reviews
// (positive minus negative words, from -2 to 2) and checks the metrics,
// the predictions and config.json.
func TestTrainRegression(t *testing.T) {
	f := newFixture(t)
	train, eval := filepath.Join(f.dir, "train.csv"), filepath.Join(f.dir, "eval.csv")
	if err := tinymodel.WriteScoresCSV(train, 480, 1); err != nil {
		t.Fatal(err)
	}
	if err := tinymodel.WriteScoresCSV(eval, 96, 2); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(f.dir, "run")
	args := []string{"--quiet", "train", "--model", f.model, "--train", train, "--eval", eval, "--out", out,
		"--problem", "regression", "--label-column", "score", "--epochs", "6", "--batch-size", "16", "--lr", "5e-3",
		"--max-length", "24", "--threads", "1"}
	if code, _, stderr := cmd(t, args...); code != 0 {
		t.Fatalf("train exited %d: %s", code, stderr)
	}
	best := filepath.Join(out, "checkpoints", "best")
	data := string(must(os.ReadFile(filepath.Join(best, "config.json"))))
	if !strings.Contains(data, `"problem_type": "regression"`) || !strings.Contains(data, `"num_labels": 1`) {
		t.Errorf("config.json is not a one-output regression head:\n%s", data)
	}
	code, stdout, stderr := cmd(t, "eval", "--model", best, "--data", eval, "--label-column", "score")
	if code != 0 {
		t.Fatalf("eval exited %d: %s", code, stderr)
	}
	m := evalFields(t, stdout)
	// The scores have variance 4/3; predicting their mean scores mse 1.33.
	if m["pearson"] < 0.9 || m["spearman"] < 0.9 || m["mse"] > 0.3 {
		t.Errorf("regression metrics show no learning:\n%s", stdout)
	}
	preds := filepath.Join(f.dir, "preds.jsonl")
	if code, _, stderr := cmd(t, "predict", "--model", best, "--data", eval, "--output", preds); code != 0 {
		t.Fatalf("predict exited %d: %s", code, stderr)
	}
	first, _, _ := strings.Cut(string(must(os.ReadFile(preds))), "\n")
	var p map[string]any
	if err := json.Unmarshal([]byte(first), &p); err != nil || p["score"] == nil || p["label"] != nil {
		t.Errorf("prediction %q: want an id and a score", first)
	}

	// A label that is not a number names its row.
	bad := filepath.Join(f.dir, "bad.csv")
	os.WriteFile(bad, []byte("text,score\ngood film.,1.5\ndull film.,low\n"), 0o644)
	code, _, stderr = cmd(t, append(args[:len(args):len(args)], "--train", bad, "--out", filepath.Join(f.dir, "bad"))...)
	if code == 0 || !strings.Contains(stderr, `bad.csv:3: score "low" is not a finite number`) {
		t.Errorf("a bad score: exit %d, %s", code, stderr)
	}
}
