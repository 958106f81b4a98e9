package model

import (
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadWeightsRealModel(t *testing.T) {
	dir := modelDir(t)
	c, err := LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	w, err := LoadWeights(dir, c)
	if err != nil {
		t.Fatal(err)
	}
	if w.Source != filepath.Join(dir, SafetensorsFile) {
		t.Errorf("Source = %s", w.Source)
	}
	if !w.HasPooler() {
		t.Error("no pooler")
	}
	for i := 0; i < 6; i++ {
		for _, p := range c.LayerParams(i) {
			tensor := w.Tensors[p.Name]
			if tensor == nil || !equalShape(tensor.Shape, p.Shape) || int64(len(tensor.Data)) != NumElements(p.Shape) {
				t.Errorf("layer %d: %s = %+v, want shape %v", i, p.Name, tensor, p.Shape)
			}
		}
	}
	if len(c.LayerParams(0)) != 16 {
		t.Errorf("a layer has %d tensors, want 16", len(c.LayerParams(0)))
	}
	// 5 embedding + 6×16 layer + 2 pooler tensors; position_ids (I64) skipped.
	if len(w.Tensors) != 5+6*16+2 {
		t.Errorf("%d tensors", len(w.Tensors))
	}
	if _, ok := w.Tensors["embeddings.position_ids"]; ok {
		t.Error("position_ids was not skipped")
	}
	if w.Tensors[ClassifierWeight] != nil {
		t.Error("a bare encoder has a classifier")
	}
}

// writeWeights writes tensors as DIR/model.safetensors next to the tiny
// config and returns DIR.
func writeWeights(t *testing.T, tensors map[string]*Tensor) string {
	t.Helper()
	dir := t.TempDir()
	copyFile(t, fixture("config.json"), filepath.Join(dir, ConfigFile))
	if err := WriteSafetensors(filepath.Join(dir, SafetensorsFile), tensors, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

func tinyTensors(t *testing.T) map[string]*Tensor {
	t.Helper()
	ts, err := ReadSafetensors(fixture("bert_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestLoadWeightsTiny(t *testing.T) {
	c := tinyConfig(t)
	w, err := LoadWeights(writeWeights(t, tinyTensors(t)), c)
	if err != nil {
		t.Fatal(err)
	}
	sameTensors(t, w.Tensors, tinyTensors(t))
}

func TestLoadWeightsMissingTensor(t *testing.T) {
	ts := tinyTensors(t)
	delete(ts, "encoder.layer.1.attention.self.value.bias")
	dir := writeWeights(t, ts)
	_, err := LoadWeights(dir, tinyConfig(t))
	wantErr(t, err, ErrMissingTensor, filepath.Join(dir, SafetensorsFile), `"encoder.layer.1.attention.self.value.bias"`, "[8]")
}

func TestLoadWeightsMisshaped(t *testing.T) {
	ts := tinyTensors(t)
	ts["encoder.layer.0.intermediate.dense.weight"] = &Tensor{Shape: []int64{8, 16}, Data: make([]float32, 128)}
	dir := writeWeights(t, ts)
	_, err := LoadWeights(dir, tinyConfig(t))
	wantErr(t, err, nil, filepath.Join(dir, SafetensorsFile), `"encoder.layer.0.intermediate.dense.weight" has shape [8 16], but config.json implies [16 8]`)
}

func TestLoadWeightsPooler(t *testing.T) {
	c := tinyConfig(t)
	ts := tinyTensors(t)
	delete(ts, "pooler.dense.weight")
	delete(ts, "pooler.dense.bias")
	w, err := LoadWeights(writeWeights(t, ts), c)
	if err != nil {
		t.Fatalf("a checkpoint without pooler: %v", err)
	}
	if w.HasPooler() {
		t.Error("HasPooler")
	}
	ts = tinyTensors(t)
	delete(ts, "pooler.dense.bias")
	_, err = LoadWeights(writeWeights(t, ts), c)
	wantErr(t, err, ErrMissingTensor, SafetensorsFile, `"pooler.dense.bias"`)
}

// TestLoadWeightsClassificationLayout: "bert."-prefixed names map to the
// BertModel layout and classifier.* is kept, from either file format.
func TestLoadWeightsClassificationLayout(t *testing.T) {
	c := tinyConfig(t)
	ts, err := ReadSafetensors(fixture("bert_cls.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := LoadWeights(writeWeights(t, ts), c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range append(c.EncoderParams(), c.ClassifierParams(3)...) {
		if tensor := w.Tensors[p.Name]; tensor == nil || !equalShape(tensor.Shape, p.Shape) {
			t.Errorf("%s: %+v", p.Name, tensor)
		}
	}
	want := map[string]*Tensor{}
	for name, tensor := range ts {
		if name == ClassifierWeight || name == ClassifierBias {
			want[name] = tensor
		} else if strings.HasPrefix(name, "bert.") {
			want[strings.TrimPrefix(name, "bert.")] = tensor
		} else {
			t.Errorf("fixture tensor %q has neither prefix", name)
		}
	}
	sameTensors(t, w.Tensors, want)

	// A classifier whose width disagrees with hidden_size.
	ts[ClassifierWeight] = &Tensor{Shape: []int64{3, 7}, Data: make([]float32, 21)}
	dir := writeWeights(t, ts)
	_, err = LoadWeights(dir, c)
	wantErr(t, err, nil, filepath.Join(dir, SafetensorsFile), `"classifier.weight" has shape [3 7], want [num_labels, 8]`)
}

func TestLoadWeightsTwoLayouts(t *testing.T) {
	ts := tinyTensors(t)
	ts["bert.embeddings.LayerNorm.weight"] = ts["embeddings.LayerNorm.weight"]
	dir := writeWeights(t, ts)
	_, err := LoadWeights(dir, tinyConfig(t))
	wantCorrupt(t, err, filepath.Join(dir, SafetensorsFile), `"bert.embeddings.LayerNorm.weight" and "embeddings.LayerNorm.weight" are both`)
}

func TestLoadWeightsNoFile(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadWeights(dir, tinyConfig(t))
	wantErr(t, err, nil, dir, "no weights", SafetensorsFile, TorchBinFile)
}

// TestLoadWeightsPrefersSafetensors: with both files present the
// safetensors one is read.
func TestLoadWeightsPrefersSafetensors(t *testing.T) {
	dir := writeWeights(t, tinyTensors(t))
	copyFile(t, fixture("legacy.bin"), filepath.Join(dir, TorchBinFile))
	w, err := LoadWeights(dir, tinyConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(w.Source) != SafetensorsFile {
		t.Errorf("Source = %s", w.Source)
	}
}

func TestFingerprint(t *testing.T) {
	c := tinyConfig(t)
	ts := tinyTensors(t)
	params := c.RangeParams(Range{0, 1})
	a, err := Fingerprint(ts, params)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := Fingerprint(tinyTensors(t), params); b != a {
		t.Error("the same weights fingerprint differently")
	}
	if len(a) != 64 {
		t.Errorf("fingerprint %q", a)
	}

	// One value of one tensor, by one ulp.
	q := ts["encoder.layer.0.attention.self.query.weight"]
	q.Data[5] = math.Nextafter32(q.Data[5], 10)
	if b, _ := Fingerprint(ts, params); b == a {
		t.Error("changing a value did not change the fingerprint")
	}
	// A tensor outside the params does not count.
	q.Data[5] = tinyTensors(t)["encoder.layer.0.attention.self.query.weight"].Data[5]
	ts["encoder.layer.1.output.dense.bias"].Data[0]++
	if b, _ := Fingerprint(ts, params); b != a {
		t.Error("a tensor outside the range changed the fingerprint")
	}
	// Nor does the order of the tensors: the params' order does.
	rev := append([]Param(nil), params...)
	rev[0], rev[1] = rev[1], rev[0]
	if b, _ := Fingerprint(ts, rev); b == a {
		t.Error("the params' order did not change the fingerprint")
	}

	_, err = Fingerprint(ts, []Param{{Name: "nope"}})
	if !errors.Is(err, ErrMissingTensor) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("missing tensor: %v", err)
	}
}

func TestParamNames(t *testing.T) {
	c := tinyConfig(t)
	seen := map[string]bool{}
	for _, p := range c.EncoderParams() {
		if seen[p.Name] {
			t.Errorf("%s twice", p.Name)
		}
		seen[p.Name] = true
		if want := strings.HasSuffix(p.Name, ".bias") || strings.Contains(p.Name, "LayerNorm"); p.NoDecay != want {
			t.Errorf("%s: NoDecay %v", p.Name, p.NoDecay)
		}
	}
	if n := len(c.EncoderParams()); n != 5+2*16+2 {
		t.Errorf("%d encoder params", n)
	}
	if n := len(c.RangeParams(Range{1, 2})); n != 16 {
		t.Errorf("RangeParams(1:2): %d", n)
	}
	if n := len(c.RangeParams(Range{0, 2})); n != 5+2*16 {
		t.Errorf("RangeParams(0:2): %d", n)
	}
}
