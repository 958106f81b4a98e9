// Package model describes BERT-family encoders as data: the Hugging Face
// config.json, the names and shapes of every weight tensor, layer ranges, and
// the safetensors and PyTorch files the weights live in.
//
// Model types other than BERT (DistilBERT, RoBERTa, XLM-RoBERTa, ELECTRA)
// are mapped onto BERT's layout when they are read: their layers are
// BertLayers under other names, so the trainer, the exporter and the cache
// see one layout, and only the embeddings and the head ask which type they
// run (types.go).
//
// It holds no native code, so the ONNX exporter, the libtorch trainer, the
// activation cache and their tests all agree on one description of a model
// without linking libtorch or ONNX Runtime.
package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/autofreeze/autofreeze/internal/atomicfile"
)

// ConfigFile is the name of a Hugging Face model's configuration file.
const ConfigFile = "config.json"

// ErrUnsupported is wrapped by errors about models autofreeze cannot run.
var ErrUnsupported = errors.New("unsupported model")

// Config is the part of a Hugging Face BERT config.json that determines the
// computation, plus the label maps of a classification checkpoint. For
// DistilBERT, whose config.json names the same things differently (dim,
// n_layers, ...), the fields hold those values; TypeVocabSize is 0.
type Config struct {
	ModelType             string   `json:"model_type"`
	Architectures         []string `json:"architectures,omitempty"`
	VocabSize             int      `json:"vocab_size"`
	HiddenSize            int      `json:"hidden_size"`
	NumLayers             int      `json:"num_hidden_layers"`
	NumHeads              int      `json:"num_attention_heads"`
	IntermediateSize      int      `json:"intermediate_size"`
	HiddenAct             string   `json:"hidden_act"`
	HiddenDropout         float64  `json:"hidden_dropout_prob"`
	AttentionDropout      float64  `json:"attention_probs_dropout_prob"`
	MaxPositions          int      `json:"max_position_embeddings"`
	TypeVocabSize         int      `json:"type_vocab_size"`
	LayerNormEps          float64  `json:"layer_norm_eps"`
	PadTokenID            int      `json:"pad_token_id"`
	PositionEmbeddingType string   `json:"position_embedding_type,omitempty"`
	// EmbeddingSize is ELECTRA's width of the embedding tables, projected
	// to HiddenSize when it differs (0: HiddenSize).
	EmbeddingSize int `json:"embedding_size,omitempty"`
	// ClassifierDropout, when set, is the head's dropout in place of
	// HiddenDropout (BERT, RoBERTa, ELECTRA).
	ClassifierDropout *float64 `json:"classifier_dropout,omitempty"`
	// SeqClassifDropout is DistilBERT's head dropout.
	SeqClassifDropout float64 `json:"seq_classif_dropout,omitempty"`
	// SinusoidalPositions is DistilBERT's option of fixed sinusoidal
	// position embeddings, which autofreeze does not implement.
	SinusoidalPositions bool `json:"sinusoidal_pos_embds,omitempty"`

	// Labels are the class names of a classification checkpoint, indexed by
	// class id (from id2label). Empty for a bare encoder.
	Labels []string `json:"-"`
	// Problem is the head's problem_type; "" (a bare encoder, or a file
	// without the field) reads as SingleLabel where a head is built.
	Problem Problem `json:"-"`

	// raw keeps every field of the file, so that writing a config back keeps
	// what this struct does not model.
	raw map[string]json.RawMessage
}

// Bounds on a config.json's sizes, checked before anything is allocated
// from them. They are far above any BERT-family checkpoint (BERT-large has
// 24 layers, hidden 1024, intermediate 4096, 512 positions; multilingual
// vocabularies have about 250k tokens) and far below what would exhaust
// memory by merely listing the tensors. LoadWeights also checks every size
// against the weight file's tensors.
const (
	MaxLayers             = 1024
	MaxHiddenSize         = 1 << 16
	MaxIntermediateSize   = 1 << 20
	MaxVocabSize          = 1 << 24
	MaxPositionEmbeddings = 1 << 20
	MaxTypeVocabSize      = 1 << 16
)

// supportedTypes are the model_type values whose computation Config covers.
// MiniLM checkpoints on the Hub declare "bert".
var supportedTypes = map[string]bool{
	TypeBERT: true, TypeMiniLM: true, TypeDistilBERT: true,
	TypeRoBERTa: true, TypeXLMRoBERTa: true, TypeELECTRA: true,
}

// LoadConfig reads and validates DIR/config.json.
func LoadConfig(dir string) (*Config, error) {
	path := filepath.Join(dir, ConfigFile)
	data, err := os.ReadFile(path)
	if err != nil {
		st, derr := os.Stat(dir)
		switch {
		case errors.Is(derr, fs.ErrNotExist):
			return nil, fmt.Errorf("model directory %s does not exist: pass a Hugging Face model directory (with config.json and model.safetensors)", dir)
		case derr == nil && !st.IsDir():
			return nil, fmt.Errorf("%s is a file, not a model directory: pass a Hugging Face model directory (with config.json and model.safetensors)", dir)
		case derr == nil && errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("%s: no config.json: %s is not a Hugging Face model directory", path, dir)
		}
		return nil, err
	}
	return ParseConfig(path, data)
}

// ParseConfig parses a config.json held in data; name is used in errors.
func ParseConfig(name string, data []byte) (*Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, fmt.Errorf("%s: holds a JSON %s, want an object", name, typeErr.Value)
		}
		return nil, fmt.Errorf("%s: not valid JSON: %w", name, err)
	}
	c := Config{
		// Hugging Face's BertConfig defaults, for fields a file may omit.
		HiddenAct: "gelu", LayerNormEps: 1e-12, TypeVocabSize: 2,
		HiddenDropout: 0.1, AttentionDropout: 0.1, MaxPositions: 512,
		PositionEmbeddingType: "absolute",
	}
	var mt string
	if msg, ok := raw["model_type"]; ok {
		json.Unmarshal(msg, &mt) // a non-string is reported below
	}
	src := data
	switch mt {
	case TypeDistilBERT:
		// DistilBertConfig's defaults, and its own names for BERT's fields.
		c.TypeVocabSize, c.SeqClassifDropout = 0, 0.2
		var err error
		if src, err = translateKeys(raw, families[mt].jsonNames); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	case TypeRoBERTa, TypeXLMRoBERTa:
		c.PadTokenID = 1 // RobertaConfig's default
	case TypeELECTRA:
		c.EmbeddingSize = 128 // ElectraConfig's default
	}
	if err := json.Unmarshal(src, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if mt == TypeDistilBERT {
		c.TypeVocabSize, c.LayerNormEps, c.PositionEmbeddingType = 0, 1e-12, "absolute"
	}
	c.raw = raw
	if err := c.parseProblem(raw); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := c.parseLabels(raw); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &c, nil
}

// translateKeys returns raw as JSON with the keys of names (BERT's) set
// from the type's own keys (names' values): a file's "dim" becomes
// "hidden_size". BERT keys the type does not have are dropped, so that a
// stray one cannot override the type's own.
func translateKeys(raw map[string]json.RawMessage, names map[string]string) ([]byte, error) {
	out := make(map[string]json.RawMessage, len(raw))
	for k, v := range raw {
		out[k] = v
	}
	for bert, own := range names {
		delete(out, bert)
		if v, ok := raw[own]; ok && own != "" {
			out[bert] = v
		}
	}
	return json.Marshal(out)
}

// fieldName is the config.json key of a BERT field in c's model type.
func (c *Config) fieldName(bert string) string {
	if own, ok := c.family().jsonNames[bert]; ok && own != "" {
		return own
	}
	return bert
}

// Validate checks that the configuration describes an encoder autofreeze
// can run.
func (c *Config) Validate() error {
	if c.ModelType == "" {
		return fmt.Errorf("%w: config has no model_type (want %s)", ErrUnsupported, supportedTypeList)
	}
	if !supportedTypes[c.ModelType] {
		return fmt.Errorf("%w: model_type %q: autofreeze runs BERT-family encoders (model_type %s)", ErrUnsupported, c.ModelType, supportedTypeList)
	}
	if c.HiddenAct != "gelu" {
		return fmt.Errorf("%w: %s %q (only the exact erf \"gelu\" is implemented)", ErrUnsupported, c.fieldName("hidden_act"), c.HiddenAct)
	}
	if c.SinusoidalPositions {
		return fmt.Errorf("%w: sinusoidal_pos_embds true (only learned position embeddings are implemented)", ErrUnsupported)
	}
	if c.PositionEmbeddingType != "absolute" {
		return fmt.Errorf("%w: position_embedding_type %q (only \"absolute\")", ErrUnsupported, c.PositionEmbeddingType)
	}
	for _, f := range []struct {
		name  string
		v     int
		limit int
	}{
		{"vocab_size", c.VocabSize, MaxVocabSize}, {"hidden_size", c.HiddenSize, MaxHiddenSize},
		{"num_hidden_layers", c.NumLayers, MaxLayers}, {"num_attention_heads", c.NumHeads, MaxHiddenSize},
		{"intermediate_size", c.IntermediateSize, MaxIntermediateSize}, {"max_position_embeddings", c.MaxPositions, MaxPositionEmbeddings},
		{"type_vocab_size", c.TypeVocabSize, MaxTypeVocabSize}, {"embedding_size", c.EmbeddingDim(), MaxHiddenSize},
	} {
		if f.name == "type_vocab_size" && !c.HasTokenTypes() {
			continue
		}
		name := c.fieldName(f.name)
		if f.v <= 0 {
			return fmt.Errorf("%s must be a positive integer, got %d", name, f.v)
		}
		if f.v > f.limit {
			return fmt.Errorf("%s %d is larger than any BERT-family encoder (autofreeze accepts at most %d): fix config.json, or check that it belongs to these weights", name, f.v, f.limit)
		}
	}
	if c.HiddenSize%c.NumHeads != 0 {
		return fmt.Errorf("%s %d is not a multiple of %s %d", c.fieldName("hidden_size"), c.HiddenSize, c.fieldName("num_attention_heads"), c.NumHeads)
	}
	if c.PaddingPositions() {
		if c.PadTokenID < 0 || c.PadTokenID >= c.VocabSize {
			return fmt.Errorf("pad_token_id %d is not a token id (vocab_size %d): %s counts positions from it", c.PadTokenID, c.VocabSize, c.ModelType)
		}
		if c.MaxSequenceLength() < 1 {
			return fmt.Errorf("max_position_embeddings %d leaves no positions after pad_token_id %d (%s positions start at pad_token_id+1)", c.MaxPositions, c.PadTokenID, c.ModelType)
		}
	}
	if c.LayerNormEps <= 0 {
		return fmt.Errorf("layer_norm_eps must be positive, got %g", c.LayerNormEps)
	}
	return nil
}

// HeadDim is the size of one attention head.
func (c *Config) HeadDim() int { return c.HiddenSize / c.NumHeads }

func (c *Config) parseLabels(raw map[string]json.RawMessage) error {
	msg, ok := raw["id2label"]
	if !ok {
		return nil
	}
	var m map[string]string
	if err := json.Unmarshal(msg, &m); err != nil {
		return fmt.Errorf("id2label: %w", err)
	}
	labels := make([]string, len(m))
	seen := make([]bool, len(m))
	for k, v := range m {
		id, err := strconv.Atoi(k)
		if err != nil || id < 0 || id >= len(m) || seen[id] {
			return fmt.Errorf("id2label: key %q is not one of the ids 0..%d", k, len(m)-1)
		}
		labels[id], seen[id] = v, true
	}
	c.Labels = labels
	return nil
}

// parseProblem reads problem_type; a missing or null field means the
// default, SingleLabel.
func (c *Config) parseProblem(raw map[string]json.RawMessage) error {
	msg, ok := raw["problem_type"]
	if !ok || string(msg) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(msg, &s); err != nil {
		return fmt.Errorf("problem_type: want a string such as %q: %w", SingleLabel, err)
	}
	p, err := ParseProblem(s)
	if err != nil {
		return fmt.Errorf("problem_type: %w", err)
	}
	c.Problem = p
	return nil
}

// WithLabels returns a copy of c for a single-label classifier over labels.
func (c *Config) WithLabels(labels []string) *Config {
	return c.WithHead(SingleLabel, labels)
}

// WithHead returns a copy of c for a head trained for problem over labels
// (the class names; a regression's one output name).
func (c *Config) WithHead(problem Problem, labels []string) *Config {
	out := *c
	out.Labels = append([]string(nil), labels...)
	out.Problem = problem
	return &out
}

// HeadProblem is the problem the head is trained for (SingleLabel unless
// config.json says otherwise).
func (c *Config) HeadProblem() Problem {
	if c.Problem == "" {
		return SingleLabel
	}
	return c.Problem
}

// Marshal renders c as config.json: the fields of the file it was read from,
// updated with c's values, the label maps and the classification
// architecture when c has labels.
func (c *Config) Marshal() ([]byte, error) {
	out := map[string]any{}
	for k, v := range c.raw {
		out[k] = v
	}
	known, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(known, &fields); err != nil {
		return nil, err
	}
	names := c.family().jsonNames
	for k, v := range fields {
		if own, ok := names[k]; ok {
			if own == "" {
				continue // DistilBERT has no such key
			}
			k = own
		}
		out[k] = v
	}
	delete(out, "id2label")
	delete(out, "label2id")
	if len(c.Labels) > 0 {
		id2label := map[string]string{}
		label2id := map[string]int{}
		for i, l := range c.Labels {
			id2label[strconv.Itoa(i)] = l
			label2id[l] = i
		}
		out["id2label"], out["label2id"] = id2label, label2id
		out["architectures"] = []string{c.Architecture()}
		out["num_labels"] = len(c.Labels)
		out["problem_type"] = string(c.HeadProblem())
	}
	// encoding/json writes map keys sorted, so the file is deterministic.
	return json.MarshalIndent(out, "", "  ")
}

// Save writes c to DIR/config.json.
func (c *Config) Save(dir string) error {
	data, err := c.Marshal()
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, ConfigFile), append(data, '\n'))
}
