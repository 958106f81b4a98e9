package frozen_test

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/autofreeze/autofreeze/frozen"
	"github.com/autofreeze/autofreeze/frozen/export"
	"github.com/autofreeze/autofreeze/frozen/internal/testenv"
	"github.com/autofreeze/autofreeze/model"
)

// initORT loads ONNX Runtime for the test, or skips it.
func initORT(t testing.TB) {
	t.Helper()
	if err := frozen.InitRuntime(testenv.ORTLib(t)); err != nil {
		t.Fatal(err)
	}
}

// exportFile exports opts from cfg/w into dir and returns the file's path.
func exportFile(t testing.TB, dir string, cfg *model.Config, w map[string]*model.Tensor, opts export.ExportOptions) string {
	t.Helper()
	m, err := export.Export(cfg, w, opts)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, testenv.Name(opts.Range, opts.Fused, "_"+string(opts.DType)+string(opts.IODType)+".onnx"))
	if err := export.WriteModel(p, m); err != nil {
		t.Fatal(err)
	}
	return p
}

func newRunner(t testing.TB, path string, opts frozen.RunnerOptions) *frozen.Runner {
	t.Helper()
	r, err := frozen.NewRunner(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// sentences are a padded batch of real text, tokenised with
// all-MiniLM-L6-v2's vocabulary (vocab.txt): [CLS] words [SEP], and one
// sentence pair with token type 1 on its second part.
var sentences = [][]int64{
	{101, 1996, 3185, 2001, 2307, 1998, 1045, 3866, 2296, 3371, 1997, 2009, 1012, 102},                                     // the movie was great and i loved every minute of it .
	{101, 1037, 6659, 2143, 1012, 102},                                                                                     // a terrible film .
	{101, 2023, 2003, 2028, 1997, 1996, 2190, 4616, 1045, 2031, 2464, 1999, 2086, 1010, 5621, 3048, 1998, 3376, 1012, 102}, // this is one of the best performances ...
	{101, 2919, 3772, 1010, 4788, 2466, 1010, 2053, 3114, 2000, 3422, 2023, 2012, 2035, 1012, 102},                         // bad acting , worse story , ...
	{101, 1037, 6659, 2143, 1012, 102, 2919, 3772, 1012, 102},                                                              // a terrible film . [SEP] bad acting .
}

// pairStart is where sentence 4's second segment (token type 1) begins.
const pairStart = 6

// paddedBatch pads sentences to the longest with [PAD] = 0.
func paddedBatch() frozen.Batch {
	seq := 0
	for _, s := range sentences {
		seq = max(seq, len(s))
	}
	b := frozen.Batch{Size: len(sentences), SeqLen: seq}
	for i, s := range sentences {
		for j := 0; j < seq; j++ {
			var id, typ, m int64
			if j < len(s) {
				id, m = s[j], 1
				if i == 4 && j >= pairStart {
					typ = 1
				}
			}
			b.InputIDs = append(b.InputIDs, id)
			b.TokenTypeIDs = append(b.TokenTypeIDs, typ)
			b.Mask = append(b.Mask, m)
		}
	}
	return b
}

// maxDiff is the largest |a-b| over the tokens whose mask is 1 (all tokens
// when mask is nil).
func maxDiff(t testing.TB, a, b []float32, mask []int64, hidden int) float64 {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("lengths %d and %d", len(a), len(b))
	}
	var d float64
	for i := range a {
		if mask != nil && mask[i/hidden] == 0 {
			continue
		}
		if math.IsNaN(float64(a[i])) || math.IsNaN(float64(b[i])) {
			t.Fatalf("NaN at %d", i)
		}
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}
