package model

import (
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestHugeLayerCountRefusedBeforeAllocating: a config.json declaring a
// billion layers is refused by its bounds, naming the field, and a config
// whose sizes pass the bounds but not the weight file is refused by
// comparing with the file's tensors, before any per-layer list is built
// (LoadWeights used to list every declared layer's tensors first and ran
// out of memory).
func TestHugeLayerCountRefusedBeforeAllocating(t *testing.T) {
	for _, tc := range []struct {
		field string
		value int
	}{
		{"num_hidden_layers", 1000000000}, {"hidden_size", 1 << 30}, {"num_attention_heads", 1 << 30},
		{"intermediate_size", 1 << 40}, {"vocab_size", 1 << 40}, {"max_position_embeddings", 1 << 40},
		{"type_vocab_size", 1 << 30},
	} {
		_, err := ParseConfig("x/config.json", tinyJSON(t, map[string]any{tc.field: tc.value}))
		wantErr(t, err, nil, "x/config.json", tc.field, "at most")
	}

	dir := writeWeights(t, tinyTensors(t))
	// Past the bounds, with a config that skipped ParseConfig: refused
	// without allocating per declared layer.
	c := tinyConfig(t)
	c.NumLayers = 100000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := LoadWeights(dir, c)
	runtime.ReadMemStats(&after)
	wantErr(t, err, nil, SafetensorsFile, "num_hidden_layers 100000")
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Errorf("refusing %d layers allocated %d MB", c.NumLayers, alloc>>20)
	}

	// Within the bounds but beyond the file: named against the file.
	c = tinyConfig(t)
	c.NumLayers = MaxLayers
	_, err = LoadWeights(dir, c)
	wantErr(t, err, nil, SafetensorsFile, "num_hidden_layers 1024", "2 encoder layer(s), encoder.layer.0 to encoder.layer.1")

	// A real directory with such a config.json never gets to the weights.
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), tinyJSON(t, map[string]any{"num_hidden_layers": 1000000000}), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadConfig(dir)
	wantErr(t, err, nil, filepath.Join(dir, ConfigFile), "num_hidden_layers 1000000000")
}

// TestSafetensorsOverlappingOffsetsRefused: two tensors whose data_offsets
// share bytes (aliased or overlapping) make a corrupt file, as Hugging
// Face's loader says; the error names both tensors.
func TestSafetensorsOverlappingOffsetsRefused(t *testing.T) {
	for _, tc := range []struct{ name, header, other string }{
		{"aliased", `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, `"b"`},
		{"overlapping", `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, `"b"`},
		{"inside another", `{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, `"b"`},
		{"an integer tensor's bytes", `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"i":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}`, `"i"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readST(stFile(tc.header, make([]byte, 16)))
			wantCorrupt(t, err, "w.safetensors", "share bytes", `"a"`, tc.other)
		})
	}
	// Adjacent ranges, gaps and empty tensors are fine.
	ts, err := readST(stFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}`, make([]byte, 16)))
	if err != nil || len(ts) != 3 {
		t.Errorf("adjacent tensors: %v (%d tensors)", err, len(ts))
	}
}

// TestNonFiniteWeightsRefused: a NaN or infinite weight in any tensor the
// encoder uses is refused at load, naming the file and the tensor.
func TestNonFiniteWeightsRefused(t *testing.T) {
	for _, v := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		ts := tinyTensors(t)
		ts["encoder.layer.1.output.dense.weight"].Data[5] = v
		dir := writeWeights(t, ts)
		_, err := LoadWeights(dir, tinyConfig(t))
		wantCorrupt(t, err, filepath.Join(dir, SafetensorsFile), `"encoder.layer.1.output.dense.weight"`, "element 5")
	}
}
