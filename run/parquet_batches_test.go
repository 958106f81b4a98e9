package run

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/autofreeze/autofreeze/internal/tinymodel"
	"github.com/autofreeze/autofreeze/text"
)

// TestBatchesFromParquet: the tiny task's training, evaluation and test
// data written as JSON Lines and as Parquet (row groups of 10 rows, a
// dictionary-encoded label column) give the same batches file, line for
// line, but for the file names in its header.
func TestBatchesFromParquet(t *testing.T) {
	dir, modelDir, trainCSV, evalCSV := tinyFiles(t)
	testCSV := filepath.Join(dir, "test.csv")
	if err := tinymodel.WriteCSV(testCSV, 40, 7); err != nil {
		t.Fatal(err)
	}
	type row struct {
		Text  string `parquet:"text" json:"text"`
		Label string `parquet:"label,dict" json:"label"`
	}
	// convert writes the rows of a CSV file as JSONL and as Parquet.
	convert := func(csvPath string) (jsonl, pq string) {
		ds, err := text.LoadDataset(csvPath, text.DatasetOptions{RequireLabels: true})
		if err != nil {
			t.Fatal(err)
		}
		base := csvPath[:len(csvPath)-len(".csv")]
		jsonl, pq = base+".jsonl", base+".parquet"
		var lines bytes.Buffer
		f, err := os.Create(pq)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		w := parquet.NewGenericWriter[row](f)
		for i, ex := range ds.Examples {
			r := row{ex.Text, ex.Label}
			line, _ := json.Marshal(r)
			lines.Write(append(line, '\n'))
			if _, err := w.Write([]row{r}); err != nil {
				t.Fatal(err)
			}
			if (i+1)%10 == 0 {
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(jsonl, lines.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return jsonl, pq
	}
	trainJ, trainP := convert(trainCSV)
	evalJ, evalP := convert(evalCSV)
	testJ, testP := convert(testCSV)

	dump := func(train, eval, test string) (BatchesHeader, [][]byte) {
		cfg := Config{Model: modelDir, Train: train, Eval: eval, Out: filepath.Join(dir, "run"), Seed: 7,
			Epochs: 2, MaxLength: 24, BatchSize: 5, EvalBatchSize: 7, GradAccum: 2, LR: 5e-3, WarmupRatio: 0.2,
			WeightDecay: 0.01, MaxGradNorm: 1.0, LogEvery: 1, Threads: 1}
		var buf bytes.Buffer
		h, err := DumpBatches(cfg, &buf, test, 30)
		if err != nil {
			t.Fatalf("%s: %v", train, err)
		}
		lines := bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
		return *h, lines[1:]
	}
	hj, bj := dump(trainJ, evalJ, testJ)
	hp, bp := dump(trainP, evalP, testP)
	if hp.Train != trainP || hp.Eval != evalP || hp.Test != testP {
		t.Fatalf("the Parquet dump's header names %s, %s, %s", hp.Train, hp.Eval, hp.Test)
	}
	hp.Train, hp.Eval, hp.Test = hj.Train, hj.Eval, hj.Test
	jj, _ := json.Marshal(hj)
	jp, _ := json.Marshal(hp)
	if !bytes.Equal(jj, jp) {
		t.Fatalf("headers differ:\nJSONL   %s\nParquet %s", jj, jp)
	}
	if hj.TrainExamples != 64 || hj.EvalExamples != 24 || hj.TestExamples != 30 || len(bj) != hj.TrainBatches+hj.EvalBatches+hj.TestBatches {
		t.Fatalf("the JSONL dump is not the tiny task's: %d/%d/%d examples, %d batch lines", hj.TrainExamples, hj.EvalExamples, hj.TestExamples, len(bj))
	}
	if len(bp) != len(bj) {
		t.Fatalf("%d batch lines from Parquet, %d from JSONL", len(bp), len(bj))
	}
	for i := range bj {
		if !bytes.Equal(bj[i], bp[i]) {
			t.Fatalf("batch line %d differs:\nJSONL   %.200s\nParquet %.200s", i+2, bj[i], bp[i])
		}
	}
}
