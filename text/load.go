package text

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// LoadTokenizer reads a BERT-family tokenizer from a model directory: its
// tokenizer.json when there is one, else its vocab.txt with the settings of
// tokenizer_config.json (HF's defaults when that is missing too).
func LoadTokenizer(dir string) (*Tokenizer, error) {
	path := filepath.Join(dir, "tokenizer.json")
	data, err := os.ReadFile(path)
	if err == nil {
		return parseTokenizerJSON(path, data)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	vocabPath := filepath.Join(dir, "vocab.txt")
	vocab, err := os.ReadFile(vocabPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no tokenizer.json or vocab.txt in %s: point to the directory of a Hugging Face BERT-family model (run `make setup` for the default one)", dir)
	}
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "tokenizer_config.json")
	cfgData, err := os.ReadFile(cfgPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return parseVocabTxt(vocabPath, vocab, cfgPath, cfgData)
}

// tokenizerJSON is the part of HF's tokenizer.json that matters here.
type tokenizerJSON struct {
	AddedTokens []struct {
		ID         int64  `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		Lstrip     bool   `json:"lstrip"`
		Rstrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
	} `json:"added_tokens"`
	Normalizer *struct {
		Type               string `json:"type"`
		CleanText          *bool  `json:"clean_text"`
		HandleChineseChars *bool  `json:"handle_chinese_chars"`
		StripAccents       *bool  `json:"strip_accents"`
		Lowercase          *bool  `json:"lowercase"`
	} `json:"normalizer"`
	PreTokenizer *struct {
		Type string `json:"type"`
	} `json:"pre_tokenizer"`
	PostProcessor *postProcessorJSON `json:"post_processor"`
	Padding       *struct {
		PadToken string `json:"pad_token"`
	} `json:"padding"`
	Model struct {
		Type                    string           `json:"type"`
		Vocab                   map[string]int32 `json:"vocab"`
		UnkToken                string           `json:"unk_token"`
		ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
		MaxInputCharsPerWord    *int             `json:"max_input_chars_per_word"`
	} `json:"model"`
}

type postProcessorJSON struct {
	Type   string          `json:"type"`
	Sep    json.RawMessage `json:"sep"` // BertProcessing: ["[SEP]", 102]
	Cls    json.RawMessage `json:"cls"`
	Single []templatePiece `json:"single"` // TemplateProcessing
	Pair   []templatePiece `json:"pair"`
}

type templatePiece struct {
	SpecialToken *struct {
		ID     string `json:"id"`
		TypeID int    `json:"type_id"`
	} `json:"SpecialToken"`
	Sequence *struct {
		ID     string `json:"id"`
		TypeID int    `json:"type_id"`
	} `json:"Sequence"`
}

func parseTokenizerJSON(path string, data []byte) (*Tokenizer, error) {
	var tj tokenizerJSON
	if err := json.Unmarshal(data, &tj); err != nil {
		return nil, jsonError(path, data, err, "re-download the model (`make setup`)")
	}
	unsupported := func(what, got, want string) error {
		return fmt.Errorf("%s: %s %q is not supported: autofreeze tokenizes BERT-family models only (%s); use a BERT, DistilBERT, MiniLM or ELECTRA checkpoint", path, what, got, want)
	}
	if tj.Model.Type != "WordPiece" && !(tj.Model.Type == "" && tj.Model.ContinuingSubwordPrefix != nil) {
		return nil, unsupported("model type", tj.Model.Type, "WordPiece")
	}
	if tj.Normalizer == nil {
		return nil, unsupported("normalizer", "null", "BertNormalizer")
	}
	if tj.Normalizer.Type != "BertNormalizer" {
		return nil, unsupported("normalizer type", tj.Normalizer.Type, "BertNormalizer")
	}
	if tj.PreTokenizer == nil || tj.PreTokenizer.Type != "BertPreTokenizer" {
		got := "null"
		if tj.PreTokenizer != nil {
			got = tj.PreTokenizer.Type
		}
		return nil, unsupported("pre_tokenizer type", got, "BertPreTokenizer")
	}
	if len(tj.Model.Vocab) == 0 {
		return nil, fmt.Errorf("%s: model.vocab is empty or missing; re-download the model (`make setup`)", path)
	}

	var cfg Config
	n := tj.Normalizer
	cfg.Cased = n.Lowercase != nil && !*n.Lowercase
	cfg.StripAccents = n.StripAccents
	cfg.KeepControlChars = n.CleanText != nil && !*n.CleanText
	cfg.NoChineseSplit = n.HandleChineseChars != nil && !*n.HandleChineseChars
	if p := tj.Model.ContinuingSubwordPrefix; p != nil {
		if *p == "" {
			return nil, fmt.Errorf("%s: an empty continuing_subword_prefix is not supported", path)
		}
		cfg.ContinuingSubwordPrefix = *p
	}
	if m := tj.Model.MaxInputCharsPerWord; m != nil {
		if *m <= 0 {
			return nil, fmt.Errorf("%s: max_input_chars_per_word is %d; it must be positive", path, *m)
		}
		cfg.MaxInputCharsPerWord = *m
	}
	cfg.UnkToken = tj.Model.UnkToken
	if tj.Padding != nil {
		cfg.PadToken = tj.Padding.PadToken
	}
	if tj.PostProcessor == nil {
		return nil, unsupported("post_processor", "null", "BertProcessing or a [CLS] $A [SEP] $B [SEP] template")
	}
	var err error
	if cfg.ClsToken, cfg.SepToken, err = tj.PostProcessor.clsSep(); err != nil {
		return nil, fmt.Errorf("%s: post_processor: %v; autofreeze builds [CLS] A [SEP] B [SEP] inputs only", path, err)
	}

	var added []addedToken
	for _, a := range tj.AddedTokens {
		if a.SingleWord || a.Lstrip || a.Rstrip {
			return nil, fmt.Errorf("%s: added token %q uses single_word, lstrip or rstrip, which autofreeze does not support", path, a.Content)
		}
		added = append(added, addedToken{content: a.Content, id: a.ID, normalized: a.Normalized})
	}
	t, err := build(path, tj.Model.Vocab, cfg, added, false)
	if err != nil {
		return nil, err
	}
	return t, t.checkIDs(path, tj.PostProcessor)
}

// clsSep returns the tokens of a BERT post-processor and checks its shape.
func (p *postProcessorJSON) clsSep() (cls, sep string, err error) {
	switch p.Type {
	case "BertProcessing":
		var c, s [2]any
		if json.Unmarshal(p.Cls, &c) != nil || json.Unmarshal(p.Sep, &s) != nil {
			return "", "", errors.New(`BertProcessing wants "cls" and "sep" as [token, id]`)
		}
		cls, _ = c[0].(string)
		sep, _ = s[0].(string)
		if cls == "" || sep == "" {
			return "", "", errors.New(`BertProcessing wants "cls" and "sep" as [token, id]`)
		}
		return cls, sep, nil
	case "TemplateProcessing":
		shape := func(tmpl []templatePiece, want string) (string, string, bool) {
			var got []string
			var specials []string
			for _, pc := range tmpl {
				switch {
				case pc.SpecialToken != nil:
					got = append(got, fmt.Sprintf("S%d", pc.SpecialToken.TypeID))
					specials = append(specials, pc.SpecialToken.ID)
				case pc.Sequence != nil:
					got = append(got, fmt.Sprintf("%s%d", pc.Sequence.ID, pc.Sequence.TypeID))
				}
			}
			if strings.Join(got, " ") != want {
				return "", "", false
			}
			for _, s := range specials[2:] {
				if s != specials[1] {
					return "", "", false
				}
			}
			return specials[0], specials[1], true
		}
		c1, s1, ok1 := shape(p.Single, "S0 A0 S0")
		c2, s2, ok2 := shape(p.Pair, "S0 A0 S0 B1 S1")
		if !ok1 || !ok2 || c1 != c2 || s1 != s2 {
			return "", "", errors.New("the template is not [CLS]:0 $A:0 [SEP]:0 / [CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1")
		}
		return c1, s1, nil
	}
	return "", "", fmt.Errorf("type %q is not supported (want BertProcessing or TemplateProcessing)", p.Type)
}

// checkIDs checks that the post-processor's ids are the vocabulary's.
func (t *Tokenizer) checkIDs(path string, p *postProcessorJSON) error {
	want := map[string]int64{t.Token(t.special.CLS): t.special.CLS, t.Token(t.special.SEP): t.special.SEP}
	var ids map[string]int64
	switch p.Type {
	case "BertProcessing":
		ids = map[string]int64{}
		for _, raw := range []json.RawMessage{p.Cls, p.Sep} {
			var pair [2]any
			_ = json.Unmarshal(raw, &pair)
			tok, _ := pair[0].(string)
			id, _ := pair[1].(float64)
			ids[tok] = int64(id)
		}
	default:
		return nil // TemplateProcessing names tokens; their ids come from the vocabulary
	}
	for tok, id := range ids {
		if w, ok := want[tok]; ok && w != id {
			return fmt.Errorf("%s: post_processor gives %s the id %d but the vocabulary has %d", path, tok, id, w)
		}
	}
	return nil
}

// tokenizerConfig is the part of transformers' tokenizer_config.json read
// for a vocab.txt.
type tokenizerConfig struct {
	DoLowerCase          *bool           `json:"do_lower_case"`
	StripAccents         *bool           `json:"strip_accents"`
	TokenizeChineseChars *bool           `json:"tokenize_chinese_chars"`
	UnkToken             json.RawMessage `json:"unk_token"`
	ClsToken             json.RawMessage `json:"cls_token"`
	SepToken             json.RawMessage `json:"sep_token"`
	PadToken             json.RawMessage `json:"pad_token"`
	MaskToken            json.RawMessage `json:"mask_token"`
}

func parseVocabTxt(vocabPath string, vocab []byte, cfgPath string, cfgData []byte) (*Tokenizer, error) {
	var cfg Config
	if cfgData != nil {
		var tc tokenizerConfig
		if err := json.Unmarshal(cfgData, &tc); err != nil {
			return nil, jsonError(cfgPath, cfgData, err, "fix or remove it")
		}
		cfg.Cased = tc.DoLowerCase != nil && !*tc.DoLowerCase
		cfg.StripAccents = tc.StripAccents
		cfg.NoChineseSplit = tc.TokenizeChineseChars != nil && !*tc.TokenizeChineseChars
		for _, f := range []struct {
			raw json.RawMessage
			dst *string
		}{{tc.UnkToken, &cfg.UnkToken}, {tc.ClsToken, &cfg.ClsToken}, {tc.SepToken, &cfg.SepToken}, {tc.PadToken, &cfg.PadToken}, {tc.MaskToken, &cfg.MaskToken}} {
			tok, err := specialTokenName(f.raw)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", cfgPath, err)
			}
			*f.dst = tok
		}
	}
	if !bytes.HasSuffix(vocab, []byte("\n")) {
		vocab = append(vocab, '\n')
	}
	lines := strings.Split(string(vocab[:len(vocab)-1]), "\n")
	m := make(map[string]int32, len(lines))
	for id, line := range lines {
		m[strings.TrimSuffix(line, "\r")] = int32(id) // a repeated token keeps its last id, as HF's loaders do
	}
	return build(vocabPath, m, cfg, nil, true)
}

// specialTokenName reads a special token given as a string or, in newer
// transformers, as an AddedToken object {"content": ...}.
func specialTokenName(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var obj struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil || obj.Content == "" {
		return "", fmt.Errorf("a special token is %s; want a string or {\"content\": ...}", raw)
	}
	return obj.Content, nil
}

// jsonError names the file, line and column of a JSON error.
func jsonError(path string, data []byte, err error, fix string) error {
	var offset int64 = -1
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		offset = syn.Offset
	case errors.As(err, &typ):
		offset = typ.Offset
	}
	if offset < 0 || offset > int64(len(data)) {
		return fmt.Errorf("%s: invalid JSON: %v; %s", path, err, fix)
	}
	offset = max(offset-1, 0) // the offending byte: Offset counts the bytes read, that one included
	line := 1 + bytes.Count(data[:offset], []byte("\n"))
	col := int(offset) - bytes.LastIndexByte(data[:offset], '\n')
	return fmt.Errorf("%s:%d:%d: invalid JSON (byte offset %d): %v; %s", path, line, col, offset, err, fix)
}
