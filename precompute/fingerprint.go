package precompute

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/autofreeze/autofreeze/cachefmt"
	"github.com/autofreeze/autofreeze/frozen/export"
	"github.com/autofreeze/autofreeze/model"
)

// Prefix is what the activations entering layer Layer are computed from:
// the one description of a cache's fingerprint, shared by training runs
// and `autofreeze cache build`, so that they agree on it.
type Prefix struct {
	Model   *model.Config
	Weights map[string]*model.Tensor // at least the parameters of layers [0, Layer)
	Layer   int
	// Tokenizer is the tokenizer's hash (text.Tokenizer.Hash).
	Tokenizer string
	MaxLength int
	// Dataset is DatasetHash of the examples the cache covers.
	Dataset string
	Dtype   cachefmt.Dtype
	// What runs the prefix (ExporterID).
	Engine            string
	Fused, Int8, BF16 bool
}

// Fingerprint identifies the cache of p's activations.
func Fingerprint(p Prefix) (cachefmt.Fingerprint, error) {
	weights, err := model.Fingerprint(p.Weights, p.Model.RangeParams(model.Range{Start: 0, End: p.Layer}))
	if err != nil {
		return cachefmt.Fingerprint{}, err
	}
	return cachefmt.Fingerprint{PrefixWeights: weights, Layer: p.Layer, Tokenizer: p.Tokenizer, MaxLength: p.MaxLength,
		Dataset: p.Dataset, Dtype: p.Dtype, Exporter: ExporterID(p.Engine, p.Fused, p.Int8, p.BF16)}, nil
}

// DatasetHash is the dataset field of a cache's fingerprint: the sha256 of
// the data file's bytes, followed, when the cache covers only some rows,
// by their example ids. With rows nil (every row, in file order) a training
// run and a `cache build` job over the same file agree on it.
func DatasetHash(path string, rows []int) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	if rows != nil {
		fmt.Fprintf(h, "\nrows:")
		for _, id := range rows {
			fmt.Fprintf(h, "%d,", id)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ExporterID is the exporter field of a cache's fingerprint: what computed
// the activations ("torch", in bf16 or not, or "onnx" with the exporter's
// version and graph form, and whether its projections are int8). Bump the
// versions when the numbers they produce change. ONNX Runtime runs the
// prefix in float32 whatever the run's precision (its CPU provider has no
// bfloat16 kernels), so bf16 changes only the torch engine's numbers.
func ExporterID(engine string, fused, int8, bf16 bool) string {
	if engine == "torch" {
		if bf16 {
			return "torch-1-bf16"
		}
		return "torch-1"
	}
	v := "onnx-" + export.ExporterVersion
	if fused {
		v += "-fused"
	}
	if int8 {
		v += "-int8"
	}
	return v
}
