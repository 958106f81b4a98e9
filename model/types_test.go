package model

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// typeFixtures are the model types with a tiny transformers-made model in
// testdata/<type> (scripts/make_model_fixtures.py), and the file holding
// its weights.
var typeFixtures = map[string]string{
	TypeDistilBERT: SafetensorsFile,
	TypeRoBERTa:    SafetensorsFile,
	TypeXLMRoBERTa: TorchBinFile,
	TypeELECTRA:    SafetensorsFile,
}

func loadTypeFixture(t *testing.T, typ string) (*Config, *Weights, map[string]*Tensor) {
	t.Helper()
	dir := filepath.Join("testdata", typ)
	cfg, err := LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	w, err := LoadWeights(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]*Tensor
	if typeFixtures[typ] == SafetensorsFile {
		raw, err = ReadSafetensors(filepath.Join(dir, SafetensorsFile))
	} else {
		raw, err = ReadTorchBin(filepath.Join(dir, TorchBinFile))
	}
	if err != nil {
		t.Fatal(err)
	}
	return cfg, w, raw
}

// Every tensor of a transformers *ForSequenceClassification file maps to
// exactly one parameter autofreeze's model of that type has, none is left
// over or missing, and HFName maps each back to the file's name.
func TestTypeFixturesMapOntoParams(t *testing.T) {
	for typ, file := range typeFixtures {
		t.Run(typ, func(t *testing.T) {
			cfg, w, raw := loadTypeFixture(t, typ)
			if cfg.ModelType != typ || len(cfg.Labels) != 3 {
				t.Fatalf("model_type %q with %d labels", cfg.ModelType, len(cfg.Labels))
			}
			if filepath.Base(w.Source) != file {
				t.Errorf("read %s, want %s", w.Source, file)
			}
			var want []string
			for _, p := range append(cfg.EncoderParams(), cfg.ClassifierParams(3)...) {
				want = append(want, p.Name)
			}
			sort.Strings(want)
			if got := sortedNames(w.Tensors); !reflect.DeepEqual(got, want) {
				t.Errorf("loaded tensors\n%v\nwant the model's parameters\n%v", got, want)
			}
			for name := range raw {
				if back := cfg.HFName(cfg.canonicalName(name)); back != name {
					t.Errorf("%q -> %q -> %q", name, cfg.canonicalName(name), back)
				}
			}
			named := cfg.CheckpointTensors(w.Tensors)
			if got, want := sortedNames(named), sortedNames(raw); !reflect.DeepEqual(got, want) {
				t.Errorf("CheckpointTensors names\n%v\nwant the file's\n%v", got, want)
			}
		})
	}
}

func TestTypeProperties(t *testing.T) {
	for _, tc := range []struct {
		typ                       string
		head                      Head
		types, pooler, project    bool
		paddingPositions, attnOut bool
		maxSeq                    int
	}{
		{TypeDistilBERT, HeadReLU, false, false, false, false, false, 40},
		{TypeRoBERTa, HeadDenseTanh, true, false, false, true, true, 40},
		{TypeXLMRoBERTa, HeadDenseTanh, true, false, false, true, true, 40},
		{TypeELECTRA, HeadDenseGELU, true, false, true, false, true, 40},
	} {
		cfg, _, _ := loadTypeFixture(t, tc.typ)
		got := []any{cfg.Head(), cfg.HasTokenTypes(), cfg.HasPooler(), cfg.HasEmbeddingProjection(), cfg.PaddingPositions(), cfg.AttentionOutputDropout(), cfg.MaxSequenceLength()}
		want := []any{tc.head, tc.types, tc.pooler, tc.project, tc.paddingPositions, tc.attnOut, tc.maxSeq}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: head, token types, pooler, projection, padding positions, attention output dropout, max length = %v, want %v", tc.typ, got, want)
		}
	}
	cfg, _, _ := loadTypeFixture(t, TypeDistilBERT)
	if cfg.HiddenSize != 32 || cfg.NumLayers != 3 || cfg.NumHeads != 4 || cfg.IntermediateSize != 64 ||
		cfg.TypeVocabSize != 0 || cfg.HeadDropout() != 0.2 || cfg.LayerNormEps != 1e-12 {
		t.Errorf("distilbert config read as %+v", cfg)
	}
	cfg, _, _ = loadTypeFixture(t, TypeELECTRA)
	if cfg.EmbeddingDim() != 16 || cfg.HiddenSize != 32 || cfg.HeadDropout() != 0.1 {
		t.Errorf("electra: embedding %d, hidden %d, head dropout %g", cfg.EmbeddingDim(), cfg.HiddenSize, cfg.HeadDropout())
	}
}

// A config written back keeps the type's own keys (DistilBERT's dim, not
// hidden_size), names the type's classification class, and reads back
// the same.
func TestTypeConfigRoundTrip(t *testing.T) {
	for typ := range typeFixtures {
		t.Run(typ, func(t *testing.T) {
			cfg, _, _ := loadTypeFixture(t, typ)
			data, err := cfg.WithLabels([]string{"neg", "pos"}).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			if a, _ := m["architectures"].([]any); len(a) != 1 || a[0] != cfg.Architecture() {
				t.Errorf("architectures %v, want [%s]", m["architectures"], cfg.Architecture())
			}
			if typ == TypeDistilBERT {
				for _, k := range []string{"hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "type_vocab_size", "layer_norm_eps", "hidden_act"} {
					if _, ok := m[k]; ok {
						t.Errorf("distilbert config.json has BERT's key %q", k)
					}
				}
				if m["dim"] != 32.0 || m["n_layers"] != 3.0 || m["hidden_dim"] != 64.0 {
					t.Errorf("distilbert config.json: dim %v, n_layers %v, hidden_dim %v", m["dim"], m["n_layers"], m["hidden_dim"])
				}
			}
			back, err := ParseConfig("back", data)
			if err != nil {
				t.Fatal(err)
			}
			if back.Problem != SingleLabel {
				t.Errorf("problem_type read back as %q", back.Problem)
			}
			a, b := *cfg, *back
			a.raw, b.raw, a.Labels, b.Labels, a.Architectures, b.Architectures = nil, nil, nil, nil, nil, nil
			a.Problem, b.Problem = "", ""
			if !reflect.DeepEqual(a, b) {
				t.Errorf("read back as\n%+v\nwant\n%+v", b, a)
			}
		})
	}
}

func TestTypeConfigRefuses(t *testing.T) {
	read := func(name string) map[string]any {
		data, err := os.ReadFile(filepath.Join("testdata", name, ConfigFile))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, tc := range []struct {
		typ, key    string
		v           any
		unsupported bool
		want        string
	}{
		{TypeDistilBERT, "sinusoidal_pos_embds", true, true, "sinusoidal_pos_embds"},
		{TypeDistilBERT, "activation", "relu", true, `activation "relu"`},
		{TypeDistilBERT, "dim", 30, false, "dim 30 is not a multiple of n_heads 4"},
		{TypeDistilBERT, "n_layers", 0, false, "n_layers must be a positive integer"},
		{TypeRoBERTa, "pad_token_id", 120, false, "pad_token_id 120 is not a token id"},
		{TypeRoBERTa, "max_position_embeddings", 2, false, "leaves no positions"},
		{TypeELECTRA, "embedding_size", -1, false, "embedding_size must be a positive integer"},
	} {
		m := read(tc.typ)
		m[tc.key] = tc.v
		data, _ := json.Marshal(m)
		_, err := ParseConfig("x/config.json", data)
		if tc.unsupported != errors.Is(err, ErrUnsupported) || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s with %s=%v: got %v, want an error with %q (unsupported %v)", tc.typ, tc.key, tc.v, err, tc.want, tc.unsupported)
		}
	}
}

// A DistilBERT file without one of its tensors is refused with both names:
// ours and the one the file should hold.
func TestTypeMissingTensorNamesFile(t *testing.T) {
	cfg, _, raw := loadTypeFixture(t, TypeDistilBERT)
	delete(raw, "distilbert.transformer.layer.1.attention.q_lin.weight")
	dir := t.TempDir()
	if err := WriteSafetensors(filepath.Join(dir, SafetensorsFile), raw, nil); err != nil {
		t.Fatal(err)
	}
	_, err := LoadWeights(dir, cfg)
	wantErr(t, err, ErrMissingTensor, SafetensorsFile, `"encoder.layer.1.attention.self.query.weight"`,
		"distilbert.transformer.layer.1.attention.q_lin.weight in a DistilBertForSequenceClassification file")
}
