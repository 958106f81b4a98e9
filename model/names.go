package model

import (
	"fmt"
	"strconv"
	"strings"
)

// Param names one weight tensor of the encoder in the BertModel layout
// ("encoder.layer.0.attention.self.query.weight") and gives its shape.
type Param struct {
	Name  string
	Shape []int64
	// NoDecay marks biases and LayerNorm weights, which AdamW leaves out of
	// weight decay.
	NoDecay bool
}

// ClassifierPrefix is the prefix BertForSequenceClassification puts before
// every encoder tensor name.
const ClassifierPrefix = "bert."

// Names of the classification head, which lives outside the encoder.
const (
	ClassifierWeight = "classifier.weight"
	ClassifierBias   = "classifier.bias"
)

func linear(prefix string, out, in int) []Param {
	return []Param{
		{Name: prefix + ".weight", Shape: []int64{int64(out), int64(in)}},
		{Name: prefix + ".bias", Shape: []int64{int64(out)}, NoDecay: true},
	}
}

func layerNorm(prefix string, n int) []Param {
	return []Param{
		{Name: prefix + ".weight", Shape: []int64{int64(n)}, NoDecay: true},
		{Name: prefix + ".bias", Shape: []int64{int64(n)}, NoDecay: true},
	}
}

// Names of the tensors the embeddings' computation reads by name.
const (
	WordEmbeddings      = "embeddings.word_embeddings.weight"
	PositionEmbeddings  = "embeddings.position_embeddings.weight"
	TokenTypeEmbeddings = "embeddings.token_type_embeddings.weight"
	EmbeddingsLayerNorm = "embeddings.LayerNorm"
	// EmbeddingsProject is ELECTRA's Linear from embedding_size to
	// hidden_size (ElectraModel.embeddings_project).
	EmbeddingsProject = "embeddings_project"
)

// EmbeddingParams are the tensors of the embeddings block, which freezes
// together with layer 0: the word and position tables, the token-type
// table when the model type has one, the LayerNorm, and ELECTRA's
// projection when embedding_size differs from hidden_size.
func (c *Config) EmbeddingParams() []Param {
	e := int64(c.EmbeddingDim())
	ps := []Param{
		{Name: WordEmbeddings, Shape: []int64{int64(c.VocabSize), e}},
		{Name: PositionEmbeddings, Shape: []int64{int64(c.MaxPositions), e}},
	}
	if c.HasTokenTypes() {
		ps = append(ps, Param{Name: TokenTypeEmbeddings, Shape: []int64{int64(c.TypeVocabSize), e}})
	}
	ps = append(ps, layerNorm(EmbeddingsLayerNorm, int(e))...)
	if c.HasEmbeddingProjection() {
		ps = append(ps, linear(EmbeddingsProject, c.HiddenSize, int(e))...)
	}
	return ps
}

// LayerPrefix is the name prefix of encoder layer i.
func LayerPrefix(i int) string { return "encoder.layer." + strconv.Itoa(i) }

// LayerParams are the tensors of encoder layer i, in a fixed order.
func (c *Config) LayerParams(i int) []Param {
	p, h, f := LayerPrefix(i), c.HiddenSize, c.IntermediateSize
	var ps []Param
	ps = append(ps, linear(p+".attention.self.query", h, h)...)
	ps = append(ps, linear(p+".attention.self.key", h, h)...)
	ps = append(ps, linear(p+".attention.self.value", h, h)...)
	ps = append(ps, linear(p+".attention.output.dense", h, h)...)
	ps = append(ps, layerNorm(p+".attention.output.LayerNorm", h)...)
	ps = append(ps, linear(p+".intermediate.dense", f, h)...)
	ps = append(ps, linear(p+".output.dense", h, f)...)
	ps = append(ps, layerNorm(p+".output.LayerNorm", h)...)
	return ps
}

// PoolerParams are the tensors of the pooler (dense + tanh over [CLS]).
func (c *Config) PoolerParams() []Param {
	return linear("pooler.dense", c.HiddenSize, c.HiddenSize)
}

// Names of the hidden dense layer of the RoBERTa/ELECTRA and the DistilBERT
// heads (BERT's is the pooler's, pooler.dense).
const (
	HeadDense     = "classifier.dense"
	PreClassifier = "pre_classifier"
)

// ClassifierParams are the tensors of a classification head over n labels:
// BERT's classifier (its pooler is part of the encoder); for the other
// types their head's hidden dense layer too. The final projection is
// always "classifier" (RoBERTa's and ELECTRA's out_proj).
func (c *Config) ClassifierParams(n int) []Param {
	var ps []Param
	switch c.Head() {
	case HeadDenseTanh, HeadDenseGELU:
		ps = linear(HeadDense, c.HiddenSize, c.HiddenSize)
	case HeadReLU:
		ps = linear(PreClassifier, c.HiddenSize, c.HiddenSize)
	}
	return append(ps, linear("classifier", n, c.HiddenSize)...)
}

// EncoderParams are all encoder tensors: embeddings, layers, and BERT's
// pooler.
func (c *Config) EncoderParams() []Param {
	ps := c.EmbeddingParams()
	for i := 0; i < c.NumLayers; i++ {
		ps = append(ps, c.LayerParams(i)...)
	}
	if !c.HasPooler() {
		return ps
	}
	return append(ps, c.PoolerParams()...)
}

// RangeParams are the tensors that layers [r.Start, r.End) need: the layers'
// own, plus the embeddings when the range starts at 0.
func (c *Config) RangeParams(r Range) []Param {
	var ps []Param
	if r.Start == 0 {
		ps = c.EmbeddingParams()
	}
	for i := r.Start; i < r.End; i++ {
		ps = append(ps, c.LayerParams(i)...)
	}
	return ps
}

// Range is the half-open range of encoder layers [Start, End).
type Range struct{ Start, End int }

func (r Range) String() string { return fmt.Sprintf("%d:%d", r.Start, r.End) }

// Len is the number of layers in r.
func (r Range) Len() int { return r.End - r.Start }

// ParseRange parses "A:B" and checks it against a model with numLayers
// layers. "A:" means A to the last layer and ":B" means 0 to B.
func ParseRange(s string, numLayers int) (Range, error) {
	a, b, ok := strings.Cut(s, ":")
	if !ok {
		return Range{}, fmt.Errorf("layer range %q: want A:B, e.g. 0:%d", s, numLayers)
	}
	r := Range{Start: 0, End: numLayers}
	var err error
	if a != "" {
		if r.Start, err = strconv.Atoi(a); err != nil {
			return Range{}, fmt.Errorf("layer range %q: start %q is not an integer", s, a)
		}
	}
	if b != "" {
		if r.End, err = strconv.Atoi(b); err != nil {
			return Range{}, fmt.Errorf("layer range %q: end %q is not an integer", s, b)
		}
	}
	if err := r.Check(numLayers); err != nil {
		return Range{}, err
	}
	return r, nil
}

// Check reports whether r is a non-empty range inside a model of n layers.
func (r Range) Check(n int) error {
	if r.Start >= r.End && r.Start >= 0 && r.End <= n {
		return fmt.Errorf("layer range %s is empty: want A < B (A:B covers layers A to B-1)", r)
	}
	if r.Start < 0 || r.End > n || r.Start >= r.End {
		return fmt.Errorf("layer range %s is outside the model: it has layers 0..%d, so want 0 <= A < B <= %d", r, n-1, n)
	}
	return nil
}
