package model

import (
	"strconv"
	"strings"
)

// Model types autofreeze runs, as config.json's model_type names them.
// All are post-LayerNorm BERT-style encoders; they differ in the
// embeddings, the classification head and the names of their tensors.
const (
	TypeBERT       = "bert"
	TypeMiniLM     = "minilm"
	TypeDistilBERT = "distilbert"
	TypeRoBERTa    = "roberta"
	TypeXLMRoBERTa = "xlm-roberta"
	TypeELECTRA    = "electra"
)

// Head is the computation of a classification head on the first token's
// last hidden state x.
type Head int

const (
	// HeadPooler is BERT's: classifier(dropout(tanh(pooler.dense(x)))).
	HeadPooler Head = iota
	// HeadDenseTanh is RoBERTa's:
	// classifier(dropout(tanh(classifier.dense(dropout(x))))).
	HeadDenseTanh
	// HeadDenseGELU is ELECTRA's: HeadDenseTanh with GELU for tanh.
	HeadDenseGELU
	// HeadReLU is DistilBERT's:
	// classifier(dropout(relu(pre_classifier(x)))).
	HeadReLU
)

// family is what a model type changes in the computation and the names.
type family struct {
	// architecture is the transformers class of a classification
	// checkpoint; prefix the attribute it keeps the encoder under.
	architecture, prefix string
	head                 Head
	// tokenTypes: the embeddings add a token-type embedding.
	tokenTypes bool
	// paddingPositions: position ids count real tokens from
	// pad_token_id+1 (fairseq's make_positions), not 0..seq-1.
	paddingPositions bool
	// attentionOutputDropout: dropout after the attention output
	// projection (DistilBERT has none).
	attentionOutputDropout bool
	// jsonNames maps the BERT config.json keys Config reads to this type's
	// own ("" where the type has no such key).
	jsonNames map[string]string
}

var families = map[string]*family{
	TypeBERT:   {architecture: "BertForSequenceClassification", prefix: "bert.", head: HeadPooler, tokenTypes: true, attentionOutputDropout: true},
	TypeMiniLM: {architecture: "BertForSequenceClassification", prefix: "bert.", head: HeadPooler, tokenTypes: true, attentionOutputDropout: true},
	TypeDistilBERT: {architecture: "DistilBertForSequenceClassification", prefix: "distilbert.", head: HeadReLU,
		jsonNames: map[string]string{
			"hidden_size": "dim", "num_hidden_layers": "n_layers", "num_attention_heads": "n_heads",
			"intermediate_size": "hidden_dim", "hidden_act": "activation", "hidden_dropout_prob": "dropout",
			"attention_probs_dropout_prob": "attention_dropout",
			"type_vocab_size":              "", "layer_norm_eps": "", "position_embedding_type": "",
		}},
	TypeRoBERTa:    {architecture: "RobertaForSequenceClassification", prefix: "roberta.", head: HeadDenseTanh, tokenTypes: true, paddingPositions: true, attentionOutputDropout: true},
	TypeXLMRoBERTa: {architecture: "XLMRobertaForSequenceClassification", prefix: "roberta.", head: HeadDenseTanh, tokenTypes: true, paddingPositions: true, attentionOutputDropout: true},
	TypeELECTRA:    {architecture: "ElectraForSequenceClassification", prefix: "electra.", head: HeadDenseGELU, tokenTypes: true, attentionOutputDropout: true},
}

// supportedTypeList is for error messages.
const supportedTypeList = `"bert" (BERT, MiniLM), "distilbert", "roberta", "xlm-roberta" or "electra"`

func (c *Config) family() *family {
	if f, ok := families[c.ModelType]; ok {
		return f
	}
	return families[TypeBERT]
}

// Head is the kind of classification head the model type puts on the
// encoder.
func (c *Config) Head() Head { return c.family().head }

// Architecture is the transformers class of a classification checkpoint
// of c's model type ("BertForSequenceClassification", ...).
func (c *Config) Architecture() string { return c.family().architecture }

// HasTokenTypes reports whether the embeddings add a token-type embedding
// (DistilBERT has none; RoBERTa's has one row, type 0).
func (c *Config) HasTokenTypes() bool { return c.family().tokenTypes }

// HasPooler reports whether the encoder has BERT's pooler. RoBERTa- and
// ELECTRA-style classifiers use their own head instead; a pooler their
// checkpoints may hold is not used.
func (c *Config) HasPooler() bool { return c.family().head == HeadPooler }

// PaddingPositions reports whether position ids are RoBERTa's: each real
// token (id != pad_token_id) gets pad_token_id + its 1-based index among
// the real tokens of its row, padding gets pad_token_id. Otherwise position
// ids are 0..seq-1.
func (c *Config) PaddingPositions() bool { return c.family().paddingPositions }

// AttentionOutputDropout reports whether training applies dropout after
// each layer's attention output projection (all but DistilBERT).
func (c *Config) AttentionOutputDropout() bool { return c.family().attentionOutputDropout }

// EmbeddingDim is the width of the embedding tables: embedding_size for
// ELECTRA, else hidden_size.
func (c *Config) EmbeddingDim() int {
	if c.ModelType == TypeELECTRA && c.EmbeddingSize != 0 {
		return c.EmbeddingSize
	}
	return c.HiddenSize
}

// HasEmbeddingProjection reports whether the embeddings are projected to
// hidden_size (ELECTRA with embedding_size != hidden_size).
func (c *Config) HasEmbeddingProjection() bool { return c.EmbeddingDim() != c.HiddenSize }

// MaxSequenceLength is the longest input the position table covers:
// max_position_embeddings, less pad_token_id+1 for RoBERTa's positions
// (514 positions hold 512 tokens).
func (c *Config) MaxSequenceLength() int {
	if c.PaddingPositions() {
		return c.MaxPositions - c.PadTokenID - 1
	}
	return c.MaxPositions
}

// HeadDropout is the dropout probability of the classification head in
// training: seq_classif_dropout for DistilBERT, classifier_dropout when the
// config sets it, else hidden_dropout_prob.
func (c *Config) HeadDropout() float64 {
	switch {
	case c.ModelType == TypeDistilBERT:
		return c.SeqClassifDropout
	case c.ClassifierDropout != nil:
		return *c.ClassifierDropout
	}
	return c.HiddenDropout
}

// distilLayerNames maps DistilBERT's names inside transformer.layer.N to
// the BertLayer names of encoder.layer.N.
var distilLayerNames = [][2]string{
	{"attention.q_lin.", "attention.self.query."},
	{"attention.k_lin.", "attention.self.key."},
	{"attention.v_lin.", "attention.self.value."},
	{"attention.out_lin.", "attention.output.dense."},
	{"sa_layer_norm.", "attention.output.LayerNorm."},
	{"ffn.lin1.", "intermediate.dense."},
	{"ffn.lin2.", "output.dense."},
	{"output_layer_norm.", "output.LayerNorm."},
}

// canonicalName maps a tensor name of any layout Hugging Face has used for
// c's model type (the *ForSequenceClassification one, the bare model's, old
// gamma/beta LayerNorm names) to autofreeze's layout: BertModel's names for
// the embeddings and layers ("embeddings...", "encoder.layer.N..."), and
// for the head "classifier.weight"/"classifier.bias" (the final projection:
// out_proj for RoBERTa and ELECTRA) plus the type's hidden dense
// ("pooler.dense", "classifier.dense" or "pre_classifier"). Names it does
// not know pass through with the encoder prefix removed.
func (c *Config) canonicalName(name string) string {
	f := c.family()
	name = strings.TrimPrefix(name, f.prefix)
	if strings.Contains(name, "LayerNorm.") {
		name = strings.Replace(name, "LayerNorm.gamma", "LayerNorm.weight", 1)
		name = strings.Replace(name, "LayerNorm.beta", "LayerNorm.bias", 1)
	}
	switch f.head {
	case HeadDenseTanh, HeadDenseGELU:
		if rest, ok := strings.CutPrefix(name, "classifier.out_proj."); ok {
			return "classifier." + rest
		}
	case HeadReLU:
		if rest, ok := strings.CutPrefix(name, "transformer.layer."); ok {
			idx, sub, _ := strings.Cut(rest, ".")
			for _, m := range distilLayerNames {
				if tail, ok := strings.CutPrefix(sub, m[0]); ok {
					return LayerPrefix(atoi(idx)) + "." + m[1] + tail
				}
			}
			return "encoder.layer." + rest
		}
	}
	return name
}

// atoi parses a layer index, keeping anything unparsable as -1 so that
// the name cannot collide with a real layer's.
func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// HFName is the name transformers' *ForSequenceClassification of c's model
// type gives the tensor autofreeze calls name: the inverse of the mapping
// LoadWeights applies.
func (c *Config) HFName(name string) string {
	f := c.family()
	switch {
	case name == ClassifierWeight || name == ClassifierBias:
		if f.head == HeadDenseTanh || f.head == HeadDenseGELU {
			return "classifier.out_proj." + strings.TrimPrefix(name, "classifier.")
		}
		return name
	case strings.HasPrefix(name, "classifier.") || strings.HasPrefix(name, "pre_classifier."):
		return name
	}
	if f.head == HeadReLU {
		if rest, ok := strings.CutPrefix(name, "encoder.layer."); ok {
			idx, sub, _ := strings.Cut(rest, ".")
			for _, m := range distilLayerNames {
				if tail, ok := strings.CutPrefix(sub, m[1]); ok {
					return f.prefix + "transformer.layer." + idx + "." + m[0] + tail
				}
			}
		}
	}
	return f.prefix + name
}

// CheckpointTensors renames tensors (autofreeze's names, as
// trainable.Encoder.Weights returns them) to the names of c's
// *ForSequenceClassification, ready to write as model.safetensors.
func (c *Config) CheckpointTensors(tensors map[string]*Tensor) map[string]*Tensor {
	out := make(map[string]*Tensor, len(tensors))
	for name, t := range tensors {
		out[c.HFName(name)] = t
	}
	return out
}
