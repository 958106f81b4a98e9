package model

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadConfigRealModel(t *testing.T) {
	c, err := LoadConfig(modelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		ModelType: "bert", Architectures: []string{"BertModel"}, VocabSize: 30522, HiddenSize: 384,
		NumLayers: 6, NumHeads: 12, IntermediateSize: 1536, HiddenAct: "gelu", HiddenDropout: 0.1,
		AttentionDropout: 0.1, MaxPositions: 512, TypeVocabSize: 2, LayerNormEps: 1e-12,
		PositionEmbeddingType: "absolute",
	}
	got := *c
	got.raw = nil
	if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
		t.Errorf("got  %s\nwant %s", g, w)
	}
	if c.HeadDim() != 32 || len(c.Labels) != 0 {
		t.Errorf("HeadDim %d, Labels %v", c.HeadDim(), c.Labels)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// tinyJSON is a valid config with fields overridden by kv (a nil value
// deletes the field).
func tinyJSON(t *testing.T, kv map[string]any) []byte {
	t.Helper()
	m := map[string]any{}
	if err := json.Unmarshal(readFixture(t, "config.json"), &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range kv {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseConfigRefuses(t *testing.T) {
	for _, tc := range []struct {
		name        string
		kv          map[string]any
		unsupported bool
		want        string
	}{
		{"deberta-v2", map[string]any{"model_type": "deberta-v2"}, true, `model_type "deberta-v2"`},
		{"no model_type", map[string]any{"model_type": nil}, true, "no model_type"},
		{"gelu_new", map[string]any{"hidden_act": "gelu_new"}, true, `hidden_act "gelu_new"`},
		{"relative positions", map[string]any{"position_embedding_type": "relative_key"}, true, `"relative_key"`},
		{"zero layers", map[string]any{"num_hidden_layers": 0}, false, "num_hidden_layers must be a positive integer, got 0"},
		{"negative vocab", map[string]any{"vocab_size": -1}, false, "vocab_size must be a positive integer, got -1"},
		{"heads", map[string]any{"num_attention_heads": 3}, false, "hidden_size 8 is not a multiple of num_attention_heads 3"},
		{"eps", map[string]any{"layer_norm_eps": 0}, false, "layer_norm_eps must be positive"},
		{"string size", map[string]any{"hidden_size": "8"}, false, "hidden_size"},
		{"id2label key", map[string]any{"id2label": map[string]string{"0": "a", "2": "b"}}, false, `id2label: key "2"`},
		{"id2label type", map[string]any{"id2label": []string{"a"}}, false, "id2label"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig("x/config.json", tinyJSON(t, tc.kv))
			if tc.unsupported {
				wantErr(t, err, ErrUnsupported, "x/config.json", tc.want)
			} else {
				wantErr(t, err, nil, "x/config.json", tc.want)
			}
		})
	}
	for _, tc := range []struct{ data, want string }{
		{`{"model_type": "bert",`, "not valid JSON"},
		{``, "not valid JSON"},
		{`[1, 2]`, "holds a JSON array, want an object"},
		{`null`, "no model_type"},
	} {
		_, err := ParseConfig("x/config.json", []byte(tc.data))
		wantErr(t, err, nil, "x/config.json", tc.want)
	}
}

func TestLoadConfigDirectoryErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope")
	_, err := LoadConfig(missing)
	wantErr(t, err, nil, missing, "does not exist")

	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadConfig(file)
	wantErr(t, err, nil, file, "is a file, not a model directory")

	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = LoadConfig(empty)
	wantErr(t, err, nil, filepath.Join(empty, ConfigFile), "no config.json")

	bad := filepath.Join(dir, "bad")
	if err := os.Mkdir(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, ConfigFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadConfig(bad)
	wantErr(t, err, nil, filepath.Join(bad, ConfigFile), "not valid JSON")
}

func TestConfigDefaults(t *testing.T) {
	c, err := ParseConfig("c", tinyJSON(t, map[string]any{
		"hidden_act": nil, "layer_norm_eps": nil, "type_vocab_size": nil, "position_embedding_type": nil,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.HiddenAct != "gelu" || c.LayerNormEps != 1e-12 || c.TypeVocabSize != 2 || c.PositionEmbeddingType != "absolute" {
		t.Errorf("defaults: %+v", c)
	}
}

// TestConfigLabelsRoundTrip: id2label survives Marshal and ParseConfig, the
// fields Config does not model are kept, and a classifier's config says so.
func TestConfigLabelsRoundTrip(t *testing.T) {
	c, err := ParseConfig("c", tinyJSON(t, map[string]any{
		"id2label":     map[string]string{"1": "positive", "0": "negative", "2": "neutral"},
		"label2id":     map[string]int{"negative": 0, "positive": 1, "neutral": 2},
		"custom_field": "kept",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Labels, ",") != "negative,positive,neutral" {
		t.Fatalf("Labels = %q", c.Labels)
	}
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseConfig("marshalled", b)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(back.Labels, ",") != strings.Join(c.Labels, ",") {
		t.Errorf("Labels after round trip = %q", back.Labels)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["custom_field"] != "kept" || m["num_labels"] != float64(3) || m["problem_type"] != "single_label_classification" {
		t.Errorf("marshalled: %s", b)
	}
	if a, _ := m["architectures"].([]any); len(a) != 1 || a[0] != "BertForSequenceClassification" {
		t.Errorf("architectures = %v", m["architectures"])
	}
	if l2i, _ := m["label2id"].(map[string]any); l2i["neutral"] != float64(2) {
		t.Errorf("label2id = %v", m["label2id"])
	}

	// WithLabels replaces the labels and leaves c alone; Save and LoadConfig
	// round-trip through a file.
	d := c.WithLabels([]string{"no", "yes"})
	if len(c.Labels) != 3 {
		t.Errorf("WithLabels changed the original: %q", c.Labels)
	}
	dir := t.TempDir()
	if err := d.Save(dir); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(loaded.Labels, ",") != "no,yes" || loaded.HiddenSize != 8 {
		t.Errorf("loaded: labels %q, hidden %d", loaded.Labels, loaded.HiddenSize)
	}

	// A bare encoder's config keeps no label maps.
	bare, err := ParseConfig("c", tinyJSON(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	b, err = bare.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "id2label") || strings.Contains(string(b), "BertForSequenceClassification") {
		t.Errorf("bare config marshalled as a classifier: %s", b)
	}
}

func TestProblemTypeRoundTrip(t *testing.T) {
	base, err := ParseConfig("c", []byte(`{"model_type": "bert", "vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1,
		"num_attention_heads": 2, "intermediate_size": 16, "max_position_embeddings": 16, "type_vocab_size": 2}`))
	if err != nil {
		t.Fatal(err)
	}
	if base.HeadProblem() != SingleLabel {
		t.Errorf("a config without problem_type reads as %q", base.HeadProblem())
	}
	for _, p := range []Problem{SingleLabel, MultiLabel, Regression} {
		data, err := base.WithHead(p, []string{"a"}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseConfig("back", data)
		if err != nil || back.Problem != p {
			t.Errorf("%s read back as %q, %v", p, back.Problem, err)
		}
	}
	bad := `{"model_type": "bert", "vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
		"intermediate_size": 16, "max_position_embeddings": 16, "type_vocab_size": 2, "problem_type": "ranking"}`
	if _, err := ParseConfig("c.json", []byte(bad)); err == nil || err.Error() != `c.json: problem_type: problem "ranking": want single_label, multi_label or regression` {
		t.Errorf("unknown problem_type: got %v", err)
	}
}
