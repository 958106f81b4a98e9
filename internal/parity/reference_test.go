// Package parity checks autofreeze's forward passes against references that
// nobody here wrote. It is a test-only package: it may import both the
// libtorch side (trainable) and the ONNX Runtime side, which the product
// packages never mix.
package parity

import (
	"bufio"
	"math"
	"os"
	"strings"
	"sync"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/autofreeze/autofreeze/internal/testenv"
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/text"
	"github.com/autofreeze/autofreeze/trainable"
)

// maxLen is short enough that the longest sentence is truncated.
const maxLen = 64

func sentences(t *testing.T) []string {
	f, err := os.Open("testdata/sentences.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if s := strings.TrimRight(sc.Text(), "\r"); s != "" {
			out = append(out, s)
		}
	}
	if len(out) < 20 {
		t.Fatalf("want at least 20 sentences, have %d", len(out))
	}
	return out
}

// batch tokenizes the test sentences into one padded batch.
func batch(t *testing.T, dir string) text.Batch {
	tok, err := text.LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	var encs []text.Encoding
	truncated := false
	for _, s := range sentences(t) {
		e := tok.Encode(s, maxLen)
		encs = append(encs, e)
		truncated = truncated || len(tok.Pieces(s))+2 > maxLen
	}
	if !truncated {
		t.Fatalf("no sentence is longer than %d tokens; the test must cover truncation", maxLen)
	}
	return tok.Pad(encs)
}

var ortOnce sync.Once

func initORT(t *testing.T) {
	lib := testenv.ORTLib(t)
	var err error
	ortOnce.Do(func() {
		ort.SetSharedLibraryPath(lib)
		err = ort.InitializeEnvironment()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// referenceHidden runs the official ONNX export on b.
func referenceHidden(t *testing.T, b text.Batch, hidden int) []float32 {
	initORT(t)
	shape := ort.NewShape(int64(b.Size), int64(b.SeqLen))
	ids, _ := ort.NewTensor(shape, b.IDs)
	mask, _ := ort.NewTensor(shape, b.Mask)
	types, _ := ort.NewTensor(shape, b.TypeIDs)
	out, err := ort.NewEmptyTensor[float32](ort.NewShape(int64(b.Size), int64(b.SeqLen), int64(hidden)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ids.Destroy(); mask.Destroy(); types.Destroy(); out.Destroy() }()
	sess, err := ort.NewAdvancedSession(testenv.ReferenceONNX(t),
		[]string{"input_ids", "attention_mask", "token_type_ids"}, []string{"last_hidden_state"},
		[]ort.Value{ids, mask, types}, []ort.Value{out}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Destroy()
	if err := sess.Run(); err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), out.GetData()...)
}

// maxDiffRealTokens is the largest |a-b| over positions the mask marks real.
func maxDiffRealTokens(a, b []float32, bt text.Batch, hidden int) float64 {
	worst := 0.0
	for i := 0; i < bt.Size*bt.SeqLen; i++ {
		if bt.Mask[i] == 0 {
			continue
		}
		for j := i * hidden; j < (i+1)*hidden; j++ {
			worst = math.Max(worst, math.Abs(float64(a[j]-b[j])))
		}
	}
	return worst
}

// miniLM loads all-MiniLM-L6-v2 from what make setup unpacked: its
// directory, config and weights.
func miniLM(t testing.TB) (string, *model.Config, *model.Weights) {
	t.Helper()
	dir := testenv.ModelDir(t)
	cfg, err := model.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	w, err := model.LoadWeights(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return dir, cfg, w
}

// newEncoder is the libtorch encoder of w, without a head, closed when the
// test ends.
func newEncoder(t testing.TB, cfg *model.Config, w *model.Weights) *trainable.Encoder {
	t.Helper()
	enc, err := trainable.New(cfg, w.Tensors, 0, trainable.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(enc.Close)
	return enc
}

// TestGotchMatchesOfficialONNX: our libtorch encoder and the official ONNX
// export of all-MiniLM-L6-v2 give the same last hidden state.
func TestGotchMatchesOfficialONNX(t *testing.T) {
	dir, cfg, w := miniLM(t)
	enc := newEncoder(t, cfg, w)
	b := batch(t, dir)
	got, err := enc.Hidden(b, model.Range{Start: 0, End: cfg.NumLayers}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := referenceHidden(t, b, cfg.HiddenSize)
	diff := maxDiffRealTokens(got, want, b, cfg.HiddenSize)
	t.Logf("%d sentences padded to %d tokens: max |gotch - official ONNX| over real tokens = %.3g", b.Size, b.SeqLen, diff)
	if diff > 1e-4 {
		t.Fatalf("max abs difference %.3g > 1e-4", diff)
	}
}
