package text

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"
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
	Normalizer    *normalizerJSON    `json:"normalizer"`
	PreTokenizer  *preTokenizerJSON  `json:"pre_tokenizer"`
	PostProcessor *postProcessorJSON `json:"post_processor"`
	Padding       *struct {
		PadToken string `json:"pad_token"`
	} `json:"padding"`
	Model struct {
		Type                    string          `json:"type"`
		Vocab                   json.RawMessage `json:"vocab"` // WordPiece, BPE: {token: id}; Unigram: [[piece, score], ...]
		UnkToken                string          `json:"unk_token"`
		ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
		MaxInputCharsPerWord    *int            `json:"max_input_chars_per_word"`
		// BPE
		Merges          json.RawMessage `json:"merges"` // ["a b", ...] or [["a", "b"], ...]
		Dropout         *float64        `json:"dropout"`
		EndOfWordSuffix *string         `json:"end_of_word_suffix"`
		FuseUnk         bool            `json:"fuse_unk"`
		ByteFallback    bool            `json:"byte_fallback"`
		IgnoreMerges    bool            `json:"ignore_merges"`
		// Unigram
		UnkID *int `json:"unk_id"`
	} `json:"model"`
}

// normalizerJSON holds the fields of every normalizer type read here.
type normalizerJSON struct {
	Type               string           `json:"type"`
	CleanText          *bool            `json:"clean_text"` // BertNormalizer
	HandleChineseChars *bool            `json:"handle_chinese_chars"`
	StripAccents       *bool            `json:"strip_accents"`
	Lowercase          *bool            `json:"lowercase"`
	Normalizers        []normalizerJSON `json:"normalizers"`          // Sequence
	Charsmap           *string          `json:"precompiled_charsmap"` // Precompiled, base64
	StripLeft          *bool            `json:"strip_left"`           // Strip
	StripRight         *bool            `json:"strip_right"`
	Pattern            *struct {        // Replace
		String *string `json:"String"`
		Regex  *string `json:"Regex"`
	} `json:"pattern"`
	Content *string `json:"content"`
}

// preTokenizerJSON holds the fields of every pre-tokenizer type read here.
type preTokenizerJSON struct {
	Type           string             `json:"type"`
	AddPrefixSpace *bool              `json:"add_prefix_space"` // ByteLevel, Metaspace (legacy)
	UseRegex       *bool              `json:"use_regex"`        // ByteLevel
	Replacement    *string            `json:"replacement"`      // Metaspace
	PrependScheme  *string            `json:"prepend_scheme"`
	Split          *bool              `json:"split"`
	Pretokenizers  []preTokenizerJSON `json:"pretokenizers"` // Sequence
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
		return fmt.Errorf("%s: %s %q is not supported: autofreeze tokenizes BERT-family models only (%s); use a BERT, DistilBERT, MiniLM, ELECTRA, RoBERTa or XLM-RoBERTa checkpoint", path, what, got, want)
	}
	switch tj.Model.Type {
	case "BPE", "Unigram":
		return parseSubwordJSON(path, &tj)
	}
	if tj.Model.Type != "WordPiece" && !(tj.Model.Type == "" && tj.Model.ContinuingSubwordPrefix != nil) {
		return nil, unsupported("model type", tj.Model.Type, "WordPiece, BPE or Unigram")
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
	var vocab map[string]int32
	if len(tj.Model.Vocab) > 0 {
		if err := json.Unmarshal(tj.Model.Vocab, &vocab); err != nil {
			return nil, fmt.Errorf("%s: model.vocab of a WordPiece model must be an object {token: id}: %v", path, err)
		}
	}
	if len(vocab) == 0 {
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
	var lay layout
	if cfg.ClsToken, cfg.SepToken, lay, err = tj.PostProcessor.clsSep(); err != nil || lay != bertLayout {
		if err == nil {
			err = errors.New("a RoBERTa-style <s> A </s></s> B </s> layout goes with a BPE or Unigram model")
		}
		return nil, fmt.Errorf("%s: post_processor: %v; autofreeze builds [CLS] A [SEP] B [SEP] inputs only", path, err)
	}

	var added []addedToken
	for _, a := range tj.AddedTokens {
		if a.SingleWord || a.Lstrip || a.Rstrip {
			return nil, fmt.Errorf("%s: added token %q uses single_word, lstrip or rstrip, which autofreeze does not support", path, a.Content)
		}
		added = append(added, addedToken{content: a.Content, id: a.ID, normalized: a.Normalized})
	}
	t, err := build(path, vocab, cfg, added, false)
	if err != nil {
		return nil, err
	}
	return t, t.checkIDs(path, tj.PostProcessor)
}

// clsSep returns the tokens of the post-processor and where it puts them,
// and checks its shape: BERT's [CLS] A [SEP] B [SEP] or RoBERTa's
// <s> A </s></s> B </s>.
func (p *postProcessorJSON) clsSep() (cls, sep string, lay layout, err error) {
	switch p.Type {
	case "BertProcessing", "RobertaProcessing":
		var c, s [2]any
		bad := fmt.Errorf(`%s wants "cls" and "sep" as [token, id]`, p.Type)
		if json.Unmarshal(p.Cls, &c) != nil || json.Unmarshal(p.Sep, &s) != nil {
			return "", "", lay, bad
		}
		cls, _ = c[0].(string)
		sep, _ = s[0].(string)
		if cls == "" || sep == "" {
			return "", "", lay, bad
		}
		if p.Type == "RobertaProcessing" {
			return cls, sep, layout{doubleSep: true}, nil // every type id 0
		}
		return cls, sep, bertLayout, nil
	case "TemplateProcessing":
		shape := func(tmpl []templatePiece) (string, []string) {
			var got, specials []string
			for _, pc := range tmpl {
				switch {
				case pc.SpecialToken != nil:
					got = append(got, fmt.Sprintf("S%d", pc.SpecialToken.TypeID))
					specials = append(specials, pc.SpecialToken.ID)
				case pc.Sequence != nil:
					got = append(got, fmt.Sprintf("%s%d", pc.Sequence.ID, pc.Sequence.TypeID))
				}
			}
			return strings.Join(got, " "), specials
		}
		single, s1 := shape(p.Single)
		pair, s2 := shape(p.Pair)
		same := func(toks []string) bool {
			for _, t := range toks[2:] {
				if t != toks[1] {
					return false
				}
			}
			return true
		}
		if single == "S0 A0 S0" && same(s1) {
			for _, typeB := range []int64{0, 1} {
				for _, double := range []bool{false, true} {
					want := fmt.Sprintf("S0 A0 S0 B%d S%d", typeB, typeB)
					if double {
						want = fmt.Sprintf("S0 A0 S0 S%d B%d S%d", typeB, typeB, typeB)
					}
					if pair == want && same(s2) && s2[0] == s1[0] && s2[1] == s1[1] {
						return s1[0], s1[1], layout{doubleSep: double, typeB: typeB}, nil
					}
				}
			}
		}
		return "", "", lay, errors.New("the template is neither [CLS]:0 $A:0 [SEP]:0 / [CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1 nor <s> $A </s> / <s> $A </s> </s> $B </s>")
	}
	return "", "", lay, fmt.Errorf("type %q is not supported (want BertProcessing, RobertaProcessing or TemplateProcessing)", p.Type)
}

// checkIDs checks that the post-processor's ids are the vocabulary's.
func (t *Tokenizer) checkIDs(path string, p *postProcessorJSON) error {
	want := map[string]int64{t.Token(t.special.CLS): t.special.CLS, t.Token(t.special.SEP): t.special.SEP}
	var ids map[string]int64
	switch p.Type {
	case "BertProcessing", "RobertaProcessing":
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

// parseSubwordJSON reads the BPE (RoBERTa) and Unigram (XLM-RoBERTa) families.
func parseSubwordJSON(path string, tj *tokenizerJSON) (*Tokenizer, error) {
	field := func(name string, err error) error {
		return fmt.Errorf("%s: %s: %v", path, name, err)
	}
	p := &pipeline{kind: tj.Model.Type}
	var err error
	if p.steps, err = parseNormalizer(tj.Normalizer); err != nil {
		return nil, field("normalizer", err)
	}
	if p.pre, err = parsePreTokenizer(tj.PreTokenizer); err != nil {
		return nil, field("pre_tokenizer", err)
	}
	var vocab map[string]int32
	var unkToken string
	switch tj.Model.Type {
	case "BPE":
		var b *bpe
		if b, vocab, err = parseBPE(tj); err != nil {
			return nil, field("model", err)
		}
		p.model, unkToken = b, tj.Model.UnkToken
	case "Unigram":
		var u *unigram
		var pieces []string
		if u, pieces, err = parseUnigram(tj); err != nil {
			return nil, field("model", err)
		}
		vocab = make(map[string]int32, len(pieces))
		for i, pc := range pieces {
			vocab[pc] = int32(i)
		}
		p.model, unkToken = u, pieces[u.unk]
	}
	if tj.PostProcessor == nil {
		return nil, field("post_processor", errors.New("null is not supported: want RobertaProcessing or a <s> $A </s> template"))
	}
	cfg := Config{UnkToken: unkToken, PadToken: "<pad>", MaskToken: "<mask>"}
	if cfg.UnkToken == "" {
		cfg.UnkToken = "<unk>"
	}
	if tj.Padding != nil && tj.Padding.PadToken != "" {
		cfg.PadToken = tj.Padding.PadToken
	}
	var lay layout
	if cfg.ClsToken, cfg.SepToken, lay, err = tj.PostProcessor.clsSep(); err != nil {
		return nil, field("post_processor", err)
	}
	var added []addedToken
	for i, a := range tj.AddedTokens {
		if a.SingleWord {
			return nil, field(fmt.Sprintf("added_tokens[%d]", i), fmt.Errorf("%q uses single_word, which autofreeze does not support", a.Content))
		}
		content := a.Content
		if a.Normalized { // HF matches a normalized token by its normalized form
			n, _ := p.normalize(nil, nil, content)
			content = string(n)
		}
		added = append(added, addedToken{content: content, id: a.ID, normalized: a.Normalized, lstrip: a.Lstrip, rstrip: a.Rstrip})
	}
	t, err := newTokenizer(path, p, vocab, cfg, added, false)
	if err != nil {
		return nil, err
	}
	t.layout = lay
	if err := t.checkIDs(path, tj.PostProcessor); err != nil {
		return nil, err
	}
	t.hash = t.subwordFingerprint(vocab, tj)
	return t, nil
}

func parseBPE(tj *tokenizerJSON) (*bpe, map[string]int32, error) {
	m := &tj.Model
	var vocab map[string]int32
	if err := json.Unmarshal(m.Vocab, &vocab); err != nil || len(vocab) == 0 {
		return nil, nil, errors.New("vocab must be a non-empty object {token: id}")
	}
	if m.Dropout != nil && *m.Dropout != 0 {
		return nil, nil, fmt.Errorf("dropout %v is not supported: BPE dropout makes the ids random; set it to null", *m.Dropout)
	}
	var merges [][2]string
	if len(m.Merges) > 0 && string(m.Merges) != "null" {
		if err := json.Unmarshal(m.Merges, &merges); err != nil {
			var lines []string
			if json.Unmarshal(m.Merges, &lines) != nil {
				return nil, nil, errors.New(`merges must be ["a b", ...] or [["a", "b"], ...]`)
			}
			merges = make([][2]string, len(lines))
			for i, l := range lines {
				parts := strings.Split(l, " ")
				if len(parts) != 2 {
					return nil, nil, fmt.Errorf("merges[%d] %q is not two tokens separated by one space", i, l)
				}
				merges[i] = [2]string{parts[0], parts[1]}
			}
		}
	}
	prefix, suffix := "", ""
	if m.ContinuingSubwordPrefix != nil {
		prefix = *m.ContinuingSubwordPrefix
	}
	if m.EndOfWordSuffix != nil {
		suffix = *m.EndOfWordSuffix
	}
	b, err := newBPE(vocab, merges, prefix, suffix)
	if err != nil {
		return nil, nil, err
	}
	if m.UnkToken != "" {
		id, ok := vocab[m.UnkToken]
		if !ok {
			return nil, nil, fmt.Errorf("unk_token %q is not in vocab", m.UnkToken)
		}
		b.unk = id
	}
	b.fuseUnk, b.byteFallback, b.ignoreMerges = m.FuseUnk, m.ByteFallback, m.IgnoreMerges
	return b, vocab, nil
}

func parseUnigram(tj *tokenizerJSON) (*unigram, []string, error) {
	m := &tj.Model
	var entries [][2]any
	if err := json.Unmarshal(m.Vocab, &entries); err != nil || len(entries) == 0 {
		return nil, nil, errors.New("vocab must be a non-empty list of [piece, score]")
	}
	pieces := make([]string, len(entries))
	scores := make([]float64, len(entries))
	for i, e := range entries {
		p, ok1 := e[0].(string)
		s, ok2 := e[1].(float64)
		if !ok1 || !ok2 {
			return nil, nil, fmt.Errorf("vocab[%d] is not [piece, score]", i)
		}
		pieces[i], scores[i] = p, s
	}
	if m.UnkID == nil {
		return nil, nil, errors.New("unk_id is null: autofreeze needs an unknown piece for characters no piece covers")
	}
	u, err := newUnigram(pieces, scores, *m.UnkID, m.ByteFallback)
	if err != nil {
		return nil, nil, err
	}
	return u, pieces, nil
}

// parseNormalizer reads the normalizers of the BPE and Unigram families.
// Hugging Face's NFC, NFKC and Lowercase are not among them: Go's Unicode
// tables are not Rust's, and the ids would differ on some characters.
func parseNormalizer(n *normalizerJSON) ([]normStep, error) {
	if n == nil {
		return nil, nil
	}
	switch n.Type {
	case "Sequence":
		var steps []normStep
		for i := range n.Normalizers {
			s, err := parseNormalizer(&n.Normalizers[i])
			if err != nil {
				return nil, fmt.Errorf("normalizers[%d]: %v", i, err)
			}
			steps = append(steps, s...)
		}
		return steps, nil
	case "Precompiled":
		if n.Charsmap == nil || *n.Charsmap == "" {
			return nil, nil // an empty charsmap changes nothing
		}
		raw, err := base64.StdEncoding.DecodeString(*n.Charsmap)
		if err != nil {
			return nil, fmt.Errorf("precompiled_charsmap is not base64: %v", err)
		}
		pc, err := parsePrecompiled(raw)
		if err != nil {
			return nil, fmt.Errorf("precompiled_charsmap: %v", err)
		}
		return []normStep{pc}, nil
	case "Strip":
		return []normStep{stripStep{left: n.StripLeft != nil && *n.StripLeft, right: n.StripRight != nil && *n.StripRight}}, nil
	case "Replace":
		if n.Pattern == nil || n.Content == nil {
			return nil, errors.New(`Replace wants "pattern" and "content"`)
		}
		switch {
		case n.Pattern.String != nil:
			if *n.Pattern.String == "" {
				return nil, errors.New("Replace with an empty pattern is not supported")
			}
			return []normStep{replaceStep{literal: *n.Pattern.String, content: *n.Content}}, nil
		case n.Pattern.Regex != nil:
			re, err := portableRegex(*n.Pattern.Regex)
			if err != nil {
				return nil, err
			}
			return []normStep{replaceStep{re: re, content: *n.Content}}, nil
		}
		return nil, errors.New(`Replace wants "pattern": {"String": ...} or {"Regex": ...}`)
	}
	return nil, fmt.Errorf("type %q is not supported (want Sequence, Precompiled, Strip or Replace)", n.Type)
}

// portableRegex compiles a Replace pattern that means the same in Go's RE2
// as in Oniguruma: literal characters, groups, alternation and counted
// repetition only (" {2,}", as XLM-RoBERTa's has). Classes and escapes
// (\s, \w, [..], .) differ between the two on non-ASCII text.
func portableRegex(expr string) (*regexp.Regexp, error) {
	if strings.ContainsAny(expr, `\[].^$`) {
		return nil, fmt.Errorf("Replace pattern %q is not supported: only literal characters, groups, | and repetition are", expr)
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("Replace pattern %q: %v", expr, err)
	}
	if re.MatchString("") {
		return nil, fmt.Errorf("Replace pattern %q matches the empty string, which is not supported", expr)
	}
	return re, nil
}

// parsePreTokenizer reads ByteLevel, Metaspace, and WhitespaceSplit followed by Metaspace.
func parsePreTokenizer(p *preTokenizerJSON) (preTokenizer, error) {
	if p == nil {
		return nil, errors.New("null is not supported (want ByteLevel or Metaspace)")
	}
	switch p.Type {
	case "ByteLevel":
		return &byteLevel{addPrefixSpace: p.AddPrefixSpace == nil || *p.AddPrefixSpace, useRegex: p.UseRegex == nil || *p.UseRegex}, nil
	case "Metaspace":
		return parseMetaspace(p)
	case "Sequence":
		if len(p.Pretokenizers) == 2 && p.Pretokenizers[0].Type == "WhitespaceSplit" && p.Pretokenizers[1].Type == "Metaspace" {
			m, err := parseMetaspace(&p.Pretokenizers[1])
			if err != nil {
				return nil, fmt.Errorf("pretokenizers[1]: %v", err)
			}
			m.whitespaceSplit = true
			return m, nil
		}
		if len(p.Pretokenizers) == 1 {
			return parsePreTokenizer(&p.Pretokenizers[0])
		}
		return nil, errors.New("a Sequence other than [WhitespaceSplit, Metaspace] is not supported")
	}
	return nil, fmt.Errorf("type %q is not supported (want ByteLevel or Metaspace)", p.Type)
}

func parseMetaspace(p *preTokenizerJSON) (*metaspace, error) {
	m := &metaspace{replacement: "▁", split: p.Split == nil || *p.Split}
	if p.Replacement != nil {
		if utf8.RuneCountInString(*p.Replacement) != 1 {
			return nil, fmt.Errorf("replacement %q is not one character", *p.Replacement)
		}
		m.replacement = *p.Replacement
	}
	if p.PrependScheme != nil {
		switch *p.PrependScheme {
		case "always":
			m.prepend = prependAlways
		case "first":
			m.prepend = prependFirst
		case "never":
			m.prepend = prependNever
		default:
			return nil, fmt.Errorf("prepend_scheme %q is not always, first or never", *p.PrependScheme)
		}
	}
	if p.AddPrefixSpace != nil && !*p.AddPrefixSpace {
		if p.PrependScheme != nil && m.prepend != prependNever {
			return nil, errors.New("add_prefix_space false contradicts prepend_scheme")
		}
		m.prepend = prependNever
	}
	return m, nil
}
