package model

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Weight file names, in the order LoadWeights tries them.
const (
	SafetensorsFile = "model.safetensors"
	TorchBinFile    = "pytorch_model.bin"
)

// Weights are a model's tensors under their BertModel-layout names
// ("embeddings...", "encoder.layer.N...", "pooler...") plus, for a
// classification checkpoint, "classifier.weight" and "classifier.bias".
type Weights struct {
	Tensors map[string]*Tensor
	// Source is the file the tensors were read from.
	Source string
}

// LoadWeights reads DIR/model.safetensors, or DIR/pytorch_model.bin when
// there is no safetensors file, maps the names of c's model type
// (BertForSequenceClassification's "bert.encoder...", DistilBERT's
// "distilbert.transformer.layer.N.attention.q_lin...", RoBERTa's and
// ELECTRA's "classifier.out_proj", old gamma/beta LayerNorm names) to
// autofreeze's layout (see Config.HFName for the way back), and checks
// every encoder tensor c needs against its shape. BERT's pooler may be
// absent (some checkpoints drop it); the caller initialises it, as it does
// a head the file lacks.
func LoadWeights(dir string, c *Config) (*Weights, error) {
	var (
		raw  map[string]*Tensor
		path string
		err  error
	)
	switch {
	case exists(filepath.Join(dir, SafetensorsFile)):
		path = filepath.Join(dir, SafetensorsFile)
		raw, err = ReadSafetensors(path)
	case exists(filepath.Join(dir, TorchBinFile)):
		path = filepath.Join(dir, TorchBinFile)
		raw, err = ReadTorchBin(path)
	default:
		return nil, fmt.Errorf("%s: no weights: want %s or %s", dir, SafetensorsFile, TorchBinFile)
	}
	if err != nil {
		return nil, err
	}
	w := &Weights{Tensors: make(map[string]*Tensor, len(raw)), Source: path}
	stored := make(map[string]string, len(raw))
	for name, t := range raw {
		cn := c.canonicalName(name)
		if prev, ok := stored[cn]; ok {
			a, b := min(prev, name), max(prev, name)
			return nil, fmt.Errorf("%s: %w: tensors %q and %q are both %q: the file mixes two layouts", path, ErrCorrupt, a, b, cn)
		}
		stored[cn] = name
		w.Tensors[cn] = t
	}
	if err := w.check(c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return w, nil
}

func exists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// ErrMissingTensor is wrapped when a weight file lacks a tensor the model
// needs.
var ErrMissingTensor = errors.New("missing tensor")

// check compares the weights with what c describes. The sizes of c are
// checked against the file before any per-layer list is built (a
// config.json claiming a billion layers must not allocate them), then every
// tensor the encoder uses is checked for shape and finite values.
func (w *Weights) check(c *Config) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("%s: %w", ConfigFile, err)
	}
	if have := w.layerCount(); have < c.NumLayers {
		held := "no encoder layers"
		if have > 0 {
			held = fmt.Sprintf("%d encoder layer(s), encoder.layer.0 to encoder.layer.%d", have, have-1)
		}
		return fmt.Errorf("config.json says num_hidden_layers %d, but the file holds %s: config.json does not belong to these weights; use the config.json that came with them",
			c.NumLayers, held)
	}
	for _, p := range c.EmbeddingParams() {
		if err := w.checkParam(c, p); err != nil {
			return err
		}
	}
	for i := 0; i < c.NumLayers; i++ {
		for _, p := range c.LayerParams(i) {
			if err := w.checkParam(c, p); err != nil {
				return err
			}
		}
	}
	if _, ok := w.Tensors[c.PoolerParams()[0].Name]; ok && c.HasPooler() {
		for _, p := range c.PoolerParams() {
			if err := w.checkParam(c, p); err != nil {
				return err
			}
		}
	}
	if cls, ok := w.Tensors[ClassifierWeight]; ok {
		if len(cls.Shape) != 2 || cls.Shape[0] < 1 || cls.Shape[1] != int64(c.HiddenSize) {
			return fmt.Errorf("tensor %q has shape %v, want [num_labels, %d]", ClassifierWeight, cls.Shape, c.HiddenSize)
		}
		for _, p := range c.ClassifierParams(int(cls.Shape[0])) {
			if err := w.checkParam(c, p); err != nil {
				return fmt.Errorf("classification head: %w", err)
			}
		}
	}
	return nil
}

// fileName is how a *ForSequenceClassification file of c's type names
// tensor name, for errors, when that differs from BERT's prefixing.
func fileName(c *Config, name string) string {
	hf := c.HFName(name)
	if hf == name || hf == c.family().prefix+name {
		return ""
	}
	return fmt.Sprintf("; %s in a %s file", hf, c.Architecture())
}

func (w *Weights) checkParam(c *Config, p Param) error {
	t, ok := w.Tensors[p.Name]
	if !ok {
		return fmt.Errorf("%w %q (shape %v%s): the file does not hold a complete %s model matching config.json", ErrMissingTensor, p.Name, p.Shape, fileName(c, p.Name), c.ModelType)
	}
	if !equalShape(t.Shape, p.Shape) {
		return fmt.Errorf("tensor %q has shape %v, but config.json implies %v", p.Name, t.Shape, p.Shape)
	}
	for i, v := range t.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%w: tensor %q holds %v at element %d: the weights are damaged or come from a run that diverged; use another checkpoint", ErrCorrupt, p.Name, v, i)
		}
	}
	return nil
}

// layerCount is one more than the largest N of the encoder.layer.N tensors
// (0 when there are none).
func (w *Weights) layerCount() int {
	n := 0
	for name := range w.Tensors {
		rest, ok := strings.CutPrefix(name, "encoder.layer.")
		if !ok {
			continue
		}
		idx, _, _ := strings.Cut(rest, ".")
		if i, err := strconv.Atoi(idx); err == nil && i >= 0 && i < MaxLayers {
			n = max(n, i+1)
		}
	}
	return n
}

func equalShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// HasPooler reports whether the weights include the pooler.
func (w *Weights) HasPooler() bool {
	_, ok := w.Tensors["pooler.dense.weight"]
	return ok
}

// Fingerprint is a sha256 over the names, shapes and values of the given
// parameters, in order: it identifies, for instance, the weights of a
// frozen prefix, whose activations a cache holds.
func Fingerprint(tensors map[string]*Tensor, params []Param) (string, error) {
	h := sha256.New()
	buf := make([]byte, 0, 1<<16)
	for _, p := range params {
		t, ok := tensors[p.Name]
		if !ok {
			return "", fmt.Errorf("%w %q", ErrMissingTensor, p.Name)
		}
		fmt.Fprintf(h, "%s %v\n", p.Name, t.Shape)
		for _, v := range t.Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			if len(buf) == cap(buf) {
				h.Write(buf)
				buf = buf[:0]
			}
		}
		h.Write(buf)
		buf = buf[:0]
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
