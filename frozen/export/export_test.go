package export_test

import (
	"errors"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/autofreeze/autofreeze/frozen/export"
	"github.com/autofreeze/autofreeze/frozen/internal/testenv"
	"github.com/autofreeze/autofreeze/frozen/onnxpb"
	"github.com/autofreeze/autofreeze/model"
)

func TestExportBadOptions(t *testing.T) {
	cfg := testenv.TinyConfig(t)
	w := testenv.RandomWeights(cfg, 1)
	for _, tc := range []struct {
		name string
		opts export.ExportOptions
		want string
	}{
		{"end past the model", export.ExportOptions{Range: model.Range{Start: 1, End: 4}}, "outside the model"},
		{"negative start", export.ExportOptions{Range: model.Range{Start: -1, End: 2}}, "outside the model"},
		{"empty range", export.ExportOptions{Range: model.Range{Start: 2, End: 2}}, "2:2"},
		{"opset too old", export.ExportOptions{Opset: 13}, "opset 13 is too old"},
		{"opset too new", export.ExportOptions{Opset: 99}, "newer than the exporter supports"},
		{"bad dtype", export.ExportOptions{DType: "bf16"}, `dtype "bf16"`},
		{"bad io dtype", export.ExportOptions{IODType: "int8"}, `dtype "int8"`},
		{"int8 without fused", export.ExportOptions{Int8: true}, "int8 weights need the fused form"},
		{"int8 with fp16", export.ExportOptions{Int8: true, Fused: true, DType: export.FP16}, "int8 weights need the fused form"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := export.Export(cfg, w, tc.opts)
			if err == nil || !errors.Is(err, export.ErrOptions) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrOptions containing %q", err, tc.want)
			}
		})
	}
}

func TestExportMissingTensor(t *testing.T) {
	cfg := testenv.TinyConfig(t)
	w := testenv.RandomWeights(cfg, 1)
	delete(w, "encoder.layer.2.output.dense.weight")
	if _, err := export.Export(cfg, w, export.ExportOptions{Range: model.Range{Start: 0, End: 2}}); err != nil {
		t.Fatalf("layers 0:2 do not need layer 2: %v", err)
	}
	_, err := export.Export(cfg, w, export.ExportOptions{Range: model.Range{Start: 1, End: 3}})
	if !errors.Is(err, model.ErrMissingTensor) || !strings.Contains(err.Error(), "encoder.layer.2.output.dense.weight") {
		t.Fatalf("err = %v, want ErrMissingTensor naming the tensor", err)
	}
	if _, err := export.Export(nil, w, export.ExportOptions{}); err == nil {
		t.Fatal("nil config: no error")
	}
}

func TestExportMetadataAndIO(t *testing.T) {
	cfg := testenv.TinyConfig(t)
	w := testenv.RandomWeights(cfg, 1)
	for _, tc := range []struct {
		r          model.Range
		opts       export.ExportOptions
		wantInputs []string
		ioType     onnxpb.TensorProto_DataType
	}{
		{model.Range{Start: 0, End: 2}, export.ExportOptions{}, []string{export.InputIDs, export.TokenTypeIDs, export.AttentionMask}, onnxpb.TensorProto_FLOAT},
		{model.Range{Start: 1, End: 3}, export.ExportOptions{Fused: true}, []string{export.HiddenStates, export.AttentionMask}, onnxpb.TensorProto_FLOAT},
		{model.Range{Start: 1, End: 3}, export.ExportOptions{DType: export.FP16}, []string{export.HiddenStates, export.AttentionMask}, onnxpb.TensorProto_FLOAT16},
		{model.Range{Start: 2, End: 3}, export.ExportOptions{IODType: export.FP16}, []string{export.HiddenStates, export.AttentionMask}, onnxpb.TensorProto_FLOAT16},
	} {
		opts := tc.opts
		opts.Range = tc.r
		m, err := export.Export(cfg, w, opts)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, in := range m.Graph.Input {
			names = append(names, in.GetName())
		}
		if strings.Join(names, ",") != strings.Join(tc.wantInputs, ",") {
			t.Errorf("%s: inputs %v, want %v", tc.r, names, tc.wantInputs)
		}
		out := m.Graph.Output
		if len(out) != 1 || out[0].GetName() != export.Output ||
			onnxpb.TensorProto_DataType(out[0].GetType().GetTensorType().GetElemType()) != tc.ioType {
			t.Errorf("%s: outputs %v", tc.r, out)
		}
		meta := export.Metadata(m)
		fp, _ := model.Fingerprint(w, cfg.RangeParams(tc.r))
		want := map[string]string{
			export.MetaFingerprint: fp, export.MetaLayers: tc.r.String(),
			export.MetaExporterVersion: export.ExporterVersion, export.MetaHiddenSize: "8",
		}
		for k, v := range want {
			if meta[k] != v {
				t.Errorf("%s: metadata %s = %q, want %q", tc.r, k, meta[k], v)
			}
		}
		if got := m.OpsetImport[0].GetVersion(); got != export.DefaultOpset {
			t.Errorf("opset %d", got)
		}
		if opts.Fused != (len(m.OpsetImport) == 2) {
			t.Errorf("fused=%v but opsets %v", opts.Fused, m.OpsetImport)
		}
	}
}

// The plain form must use standard operators only.
func TestPlainUsesStandardOps(t *testing.T) {
	cfg := testenv.TinyConfig(t)
	m, err := export.Export(cfg, testenv.RandomWeights(cfg, 1), export.ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range m.Graph.Node {
		if n.GetDomain() != "" {
			t.Errorf("node %s is %s.%s", n.GetName(), n.GetDomain(), n.GetOpType())
		}
	}
}

// Every range, form, precision and opset of the tiny model passes the onnx
// package's checker with full_check (shape inference included).
func TestCheckerTiny(t *testing.T) {
	cfg := testenv.TinyConfig(t)
	w := testenv.RandomWeights(cfg, 1)
	dir := t.TempDir()
	var files []string
	for _, r := range []model.Range{{Start: 0, End: 1}, {Start: 0, End: 3}, {Start: 1, End: 3}, {Start: 2, End: 3}} {
		for _, opts := range []export.ExportOptions{
			{}, {Fused: true}, {DType: export.FP16}, {IODType: export.FP16}, {Fused: true, DType: export.FP16},
			{Opset: export.MaxOpset}, {Opset: 18, Fused: true},
		} {
			opts.Range = r
			m, err := export.Export(cfg, w, opts)
			if err != nil {
				t.Fatal(err)
			}
			name := testenv.Name(r, opts.Fused, "_"+string(opts.DType)+"_"+string(opts.IODType)+"_"+itoa(opts.Opset)+".onnx")
			p := filepath.Join(dir, name)
			if err := export.WriteModel(p, m); err != nil {
				t.Fatal(err)
			}
			files = append(files, p)
		}
	}
	testenv.CheckONNX(t, files...)
}

func itoa(n int) string {
	if n == 0 {
		return "default"
	}
	return strconv.Itoa(n)
}

// The real model: every prefix [0,K) and some middle ranges, plain and fused.
func TestCheckerMiniLM(t *testing.T) {
	if testing.Short() {
		t.Skip("writes about 700 MB of ONNX files")
	}
	cfg, w := testenv.MiniLM(t)
	dir := t.TempDir()
	var ranges []model.Range
	for k := 1; k <= cfg.NumLayers; k++ {
		ranges = append(ranges, model.Range{Start: 0, End: k})
	}
	ranges = append(ranges, model.Range{Start: 2, End: 4}, model.Range{Start: 3, End: 6}, model.Range{Start: 5, End: 6})
	var files []string
	for _, r := range ranges {
		for _, fused := range []bool{false, true} {
			m, err := export.Export(cfg, w, export.ExportOptions{Range: r, Fused: fused})
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, testenv.Name(r, fused, ".onnx"))
			if err := export.WriteModel(p, m); err != nil {
				t.Fatal(err)
			}
			files = append(files, p)
		}
	}
	testenv.CheckONNX(t, files...)
}

// QuantizeColumns keeps every value in [-127, 127], transposes, and
// reconstructs each weight within half its column's step.
func TestQuantizeColumns(t *testing.T) {
	const out, in = 3, 4
	w := []float32{ // [out, in]
		0.5, -1, 0.25, 0,
		0, 0, 0, 0, // an all-zero row gets scale 1
		100, -3, 7, -100,
	}
	q, scales := export.QuantizeColumns(w, out, in)
	if len(q) != out*in || len(scales) != out {
		t.Fatalf("got %d values, %d scales", len(q), len(scales))
	}
	if scales[0] != float32(1.0/127) || scales[1] != 1 || scales[2] != float32(100.0/127) {
		t.Errorf("scales %v, want max|row|/127 (1 for zeros)", scales)
	}
	for j := 0; j < out; j++ {
		for i := 0; i < in; i++ {
			v := q[i*out+j] // transposed: [in, out]
			if v < -127 {
				t.Errorf("q[%d,%d] = %d is below -127", i, j, v)
			}
			if d := math.Abs(float64(float32(v)*scales[j] - w[j*in+i])); d > float64(scales[j])/2+1e-7 {
				t.Errorf("W[%d,%d] = %g comes back as %g", j, i, w[j*in+i], float32(v)*scales[j])
			}
		}
	}
	if q[0*out+2] != 127 || q[3*out+2] != -127 {
		t.Errorf("the extremes of row 2 quantize to %d and %d, want ±127", q[0*out+2], q[3*out+2])
	}
}
