package export_test

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/autofreeze/autofreeze/frozen/export"
	"github.com/autofreeze/autofreeze/frozen/internal/testenv"
	"github.com/autofreeze/autofreeze/frozen/onnxpb"
	"github.com/autofreeze/autofreeze/model"
)

func tinyModel(t *testing.T, opts export.ExportOptions) *onnxpb.ModelProto {
	t.Helper()
	cfg := testenv.TinyConfig(t)
	m, err := export.Export(cfg, testenv.RandomWeights(cfg, 1), opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestWriteInlineAndInspect(t *testing.T) {
	m := tinyModel(t, export.ExportOptions{Range: model.Range{Start: 1, End: 3}})
	p := filepath.Join(t.TempDir(), "m.onnx")
	// A stale data file from an earlier, larger export must go.
	if err := os.WriteFile(p+export.ExternalDataSuffix, []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := export.WriteModel(p, m); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p + export.ExternalDataSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale data file still there: %v", err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	back := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, back); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(back, m) {
		t.Error("model read back differs")
	}
	info, err := export.Inspect(p)
	if err != nil {
		t.Fatal(err)
	}
	if info.IRVersion != 8 || info.Opsets[""] != 17 || len(info.Inputs) != 2 || info.Inputs[0].Name != export.HiddenStates ||
		len(info.Outputs) != 1 || info.Outputs[0].Name != export.Output || info.Metadata[export.MetaLayers] != "1:3" {
		t.Errorf("info = %+v", info)
	}
	in := info.Inputs[0]
	if in.ElemType != onnxpb.TensorProto_FLOAT || len(in.Dims) != 3 || in.Dims[0] != -1 || in.DimNames[1] != "seq" || in.Dims[2] != 8 {
		t.Errorf("input = %+v", in)
	}
}

// Over the inline limit, large initializers go to PATH.data at aligned
// offsets, and the model in memory is left as it was.
func TestWriteExternalData(t *testing.T) {
	m := tinyModel(t, export.ExportOptions{})
	before := proto.Clone(m)
	dir := t.TempDir()
	p := filepath.Join(dir, "m.onnx")
	limit := int64(proto.Size(m)) - 1 // just over: forces external data
	if err := export.WriteModelWith(p, m, export.WriteOptions{MaxInline: limit, MinExternal: 256}); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(before, m) {
		t.Fatal("WriteModelWith changed the model")
	}
	ext, err := os.ReadFile(p + export.ExternalDataSuffix)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) > limit {
		t.Errorf("model file is %d bytes, over the limit", len(data))
	}
	back := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, back); err != nil {
		t.Fatal(err)
	}
	orig := map[string]*onnxpb.TensorProto{}
	for _, t := range m.Graph.Initializer {
		orig[t.GetName()] = t
	}
	var moved int
	for _, tp := range back.Graph.Initializer {
		if tp.GetDataLocation() != onnxpb.TensorProto_EXTERNAL {
			if len(tp.RawData) >= 256 {
				t.Errorf("%s (%d bytes) stayed inline", tp.GetName(), len(tp.RawData))
			}
			continue
		}
		moved++
		kv := map[string]string{}
		for _, e := range tp.ExternalData {
			kv[e.GetKey()] = e.GetValue()
		}
		off, _ := strconv.ParseInt(kv["offset"], 10, 64)
		n, _ := strconv.ParseInt(kv["length"], 10, 64)
		if kv["location"] != "m.onnx.data" || off%4096 != 0 || off+n > int64(len(ext)) {
			t.Fatalf("%s: external data %v in a %d-byte file", tp.GetName(), kv, len(ext))
		}
		if !bytes.Equal(ext[off:off+n], orig[tp.GetName()].RawData) {
			t.Errorf("%s: external bytes differ", tp.GetName())
		}
	}
	if moved == 0 {
		t.Fatal("nothing moved to external data")
	}
	if _, err := export.Inspect(p); err != nil {
		t.Fatal(err)
	}
	testenv.CheckONNX(t, p)
}

func TestWriteNoGraph(t *testing.T) {
	if err := export.WriteModel(filepath.Join(t.TempDir(), "x.onnx"), &onnxpb.ModelProto{}); err == nil {
		t.Fatal("no error")
	}
}

// Every truncation of a model file, and a few kinds of garbage, give an
// error that wraps ErrCorrupt and names the file; none panics.
func TestInspectCorrupt(t *testing.T) {
	m := tinyModel(t, export.ExportOptions{Range: model.Range{Start: 0, End: 1}})
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.onnx")
	check := func(what string, b []byte) {
		t.Helper()
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := export.Inspect(p)
		if !errors.Is(err, export.ErrCorrupt) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v, want ErrCorrupt naming the file", what, err)
		}
	}
	step := 1 + len(data)/500
	for n := 0; n < len(data); n += step {
		check("truncated to "+strconv.Itoa(n), data[:n])
	}
	check("text", []byte("this is not an ONNX model, just some text\n"))
	check("zeros", make([]byte, 1000))
	check("huge length", []byte{0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f})
	if _, err := export.Inspect(filepath.Join(dir, "missing.onnx")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func FuzzInspect(f *testing.F) {
	cfg, err := model.ParseConfig("c", []byte(`{"model_type":"bert","vocab_size":5,"hidden_size":4,"num_hidden_layers":1,
		"num_attention_heads":2,"intermediate_size":4,"max_position_embeddings":4}`))
	if err != nil {
		f.Fatal(err)
	}
	m, err := export.Export(cfg, testenv.RandomWeights(cfg, 1), export.ExportOptions{})
	if err != nil {
		f.Fatal(err)
	}
	data, _ := proto.Marshal(m)
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := export.ReadInfo(bytes.NewReader(b), int64(len(b)), "fuzz.onnx")
		if err == nil && len(info.Outputs) == 0 {
			t.Fatal("accepted a model with no outputs")
		}
	})
}

func TestFromDir(t *testing.T) {
	_, err := export.FromDir(filepath.Join(t.TempDir(), "no-such-model"), export.ExportOptions{})
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing dir: err = %v", err)
	}
	dir := testenv.MiniLMDir(t)
	_, err = export.FromDir(dir, export.ExportOptions{Range: model.Range{Start: 4, End: 7}})
	if !errors.Is(err, export.ErrOptions) || !strings.Contains(err.Error(), "outside the model") {
		t.Fatalf("range 4:7 of 6 layers: err = %v", err)
	}
	m, err := export.FromDir(dir, export.ExportOptions{Range: model.Range{Start: 5, End: 6}})
	if err != nil {
		t.Fatal(err)
	}
	if got := export.Metadata(m)[export.MetaLayers]; got != "5:6" {
		t.Errorf("layers %q", got)
	}
}

func TestFloat32ToHalf(t *testing.T) {
	// Every finite half converts back to itself.
	for h := 0; h < 1<<16; h++ {
		f := model.HalfToFloat32(uint16(h))
		if math.IsNaN(float64(f)) {
			if got := export.Float32ToHalf(f); got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
				t.Fatalf("NaN %#04x -> %#04x", h, got)
			}
			continue
		}
		if got := export.Float32ToHalf(f); got != uint16(h) {
			t.Fatalf("%#04x (%g) -> %#04x", h, f, got)
		}
	}
	for _, tc := range []struct {
		f    float32
		want uint16
	}{
		{1 + 1.0/2048, 0x3c00},             // tie, rounds to even (down)
		{1 + 3.0/2048, 0x3c02},             // tie, rounds to even (up)
		{65520, 0x7c00},                    // rounds past the largest half
		{65519, 0x7bff},                    // just below: the largest half
		{-1e10, 0xfc00},                    // -Inf
		{1e-9, 0},                          // underflow
		{float32(math.Ldexp(1, -25)), 0},   // tie between 0 and the smallest subnormal: even
		{float32(math.Ldexp(1.5, -25)), 1}, // above the tie
	} {
		if got := export.Float32ToHalf(tc.f); got != tc.want {
			t.Errorf("Float32ToHalf(%g) = %#04x, want %#04x", tc.f, got, tc.want)
		}
	}
}
