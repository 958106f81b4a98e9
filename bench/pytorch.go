package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/autofreeze/autofreeze/report"
)

// PyTorchModes are the baseline users run instead: Hugging Face
// transformers' BertForSequenceClassification trained by PyTorch
// (scripts/pytorch_baseline.py in its own pinned venv) on exactly the
// batches of our runs, which `autofreeze batches` writes.
var PyTorchModes = []string{"pytorch-fp32", "pytorch-bf16"}

// PyTorch says where the baseline lives; a zero value runs no baseline.
type PyTorch struct {
	Python string // the venv's python (scripts/pytorch_venv.sh prints it)
	Script string // scripts/pytorch_baseline.py
}

// pytorchResult is the part of pytorch_baseline.py's result JSON we read;
// `autofreeze probe` writes the same fields.
type pytorchResult struct {
	WallSeconds  float64 `json:"wall_seconds"`
	TrainSeconds float64 `json:"train_seconds"`
	Examples     int     `json:"examples"`
	PeakRSSMB    float64 `json:"peak_rss_mb"`
	Eval         []struct {
		Step        int     `json:"step"`
		Accuracy    float64 `json:"accuracy"`
		Loss        float64 `json:"loss"`
		WallSeconds float64 `json:"wall_seconds"`
		Best        bool    `json:"best"`
	} `json:"eval"`
	Test *struct {
		Accuracy float64 `json:"accuracy"`
		Examples int     `json:"examples"`
	} `json:"test"`
}

// RunPyTorch trains the baseline in precision (fp32 or bf16) with o.Seed:
// it writes the batches of our runs once per seed, then runs the script on
// them with the same evaluation cadence. Like RunMode it reuses a finished
// result.
func RunPyTorch(ctx context.Context, o Options, pt PyTorch, precision string) (*Result, error) {
	name := "pytorch-" + precision
	m := Mode{Name: name, About: "PyTorch " + precision + " + transformers full fine-tuning on the same batches (scripts/pytorch_baseline.py)",
		Args: []string{"--precision", precision}}
	dir := filepath.Join(o.Out, name)
	resultPath := filepath.Join(dir, "result.json")
	if res, err := readBaselineResult(resultPath, o, m, dir); err == nil {
		o.log().Info("bench: reusing the finished run", "mode", name, "seed", o.Seed, "dir", dir)
		return res, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	batches := filepath.Join(o.Out, "batches.jsonl")
	if _, err := os.Stat(batches); err != nil {
		args := o.trainArgs(filepath.Join(o.Out, "batches-run"))
		args[1] = "batches"
		args = append(args, "--test", o.Test, "--test-limit", strconv.Itoa(o.TestLimit), "--output", batches)
		if _, err := runChild(ctx, o, args, filepath.Join(o.Out, "batches.log")); err != nil {
			return nil, fmt.Errorf("writing the batches for the PyTorch baseline: %w", err)
		}
	}
	args := []string{pt.Script, "--batches", batches, "--precision", precision, "--seed", strconv.FormatUint(o.Seed, 10),
		"--eval-every", strconv.Itoa(o.EvalEvery), "--out", resultPath + ".partial"}
	o.log().Info("bench: training", "mode", name, "seed", o.Seed)
	if _, err := runProgram(ctx, o, pt.Python, args, filepath.Join(o.Out, name+".log")); err != nil {
		return nil, fmt.Errorf("mode %s: %w", name, err)
	}
	if err := os.Rename(resultPath+".partial", resultPath); err != nil {
		return nil, err
	}
	return readBaselineResult(resultPath, o, m, dir)
}

// readBaselineResult turns a baseline's result JSON (the PyTorch script's,
// or `autofreeze probe`'s, which has the same fields) into a Result whose
// evaluations are on the same clock as ours (wall seconds since training
// began, evaluations included).
func readBaselineResult(path string, o Options, m Mode, dir string) (*Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var pr pytorchResult
	if err := json.Unmarshal(data, &pr); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	res := &Result{Mode: m, Seed: o.Seed, RunDir: dir, WallSeconds: pr.WallSeconds, TrainSeconds: pr.WallSeconds,
		PeakRSSBytes: int64(pr.PeakRSSMB * (1 << 20)), Run: &report.Run{Dir: dir, Name: m.Name}}
	if pr.TrainSeconds > 0 {
		res.ExamplesPerSec = float64(pr.Examples) / pr.TrainSeconds
	}
	for _, e := range pr.Eval {
		res.Run.Evals = append(res.Run.Evals, report.Point{Type: "eval", Step: e.Step, Elapsed: e.WallSeconds, Accuracy: e.Accuracy, Loss: e.Loss, Best: e.Best})
		if e.Best {
			res.BestEvalAcc = e.Accuracy
		}
	}
	if pr.Test != nil {
		res.TestAccuracy, res.TestExamples = pr.Test.Accuracy, pr.Test.Examples
	}
	return res, nil
}
