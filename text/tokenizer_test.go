package text

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestEncodeExamples(t *testing.T) {
	tok := tinyTokenizer(t, Config{})
	tests := []struct {
		text string
		want string // tokens between [CLS] and [SEP]
	}{
		{"The movie was great!", "the movie was great !"},
		{"unbelievable", "un ##believ ##able"},
		{"unbelievablex", "[UNK]"},                 // one uncovered piece makes the whole word unknown
		{"Café NAÏVE", "cafe naive"},               // lowercase and strip accents
		{"cafe\u0301", "cafe"},                     // decomposed accent
		{"我好", "我 好"},                              // Chinese characters are words
		{"great,the.movie", "great , the . movie"}, // punctuation is isolated
		{"  the\t\nmovie\u00a0was\u3000great ", "the movie was great"},
		{"the\x00 mo\u200bvie\ufffd \x1b", "the movie"}, // controls and U+FFFD vanish, joining "mo" and "vie"
		{"abc bcc", "a ##b ##c b ##c ##c"},
		{"the [SEP] movie[MASK]", "the [SEP] movie [MASK]"}, // special tokens in text stay special
		{"the [sep]", "the [UNK] [UNK] [UNK]"},              // but only as written
		{"<br />", "< br / >"},
		{"", ""},
		{strings.Repeat("a", 101), "[UNK]"}, // over max_input_chars_per_word
	}
	for _, tt := range tests {
		e := tok.Encode(tt.text, 0)
		got := strings.Join(tok.Tokens(e.IDs), " ")
		want := strings.Join(strings.Fields("[CLS] "+tt.want+" [SEP]"), " ")
		if got != want {
			t.Errorf("Encode(%+q) = %s, want %s", tt.text, got, want)
		}
	}
}

func TestEncodeCased(t *testing.T) {
	vocab := append(slices.Clone(tinyVocab), "The", "Café")
	tests := []struct {
		cfg  Config
		text string
		want string
	}{
		{Config{Cased: true}, "The Café", "The Café"},                           // cased: strip_accents follows lowercase (off)
		{Config{Cased: true, StripAccents: new(true)}, "The Café", "The [UNK]"}, // "Cafe" is not in the vocabulary
		{Config{Cased: true, StripAccents: new(false)}, "The Café", "The Café"}, // explicit false
		{Config{StripAccents: new(false)}, "the café", "the [UNK]"},             // lowercase, keep accents
		{Config{NoChineseSplit: true}, "我好", "[UNK]"},                           // "我好" is one word
		{Config{KeepControlChars: true}, "the\x01movie", "[UNK]"},               // the control joins the words
		{Config{MaxInputCharsPerWord: 5}, "unbelievable movie", "[UNK] movie"},  // 12 characters > 5
		{Config{ContinuingSubwordPrefix: "@@"}, "unbelievable", "[UNK]"},        // no @@ pieces in the vocabulary
	}
	for _, tt := range tests {
		tok, err := NewTokenizer(vocab, tt.cfg)
		if err != nil {
			t.Fatal(err)
		}
		e := tok.Encode(tt.text, 0)
		got := strings.Join(tok.Tokens(e.IDs[1:len(e.IDs)-1]), " ")
		if got != tt.want {
			t.Errorf("%+v: Encode(%q) = %s, want %s", tt.cfg, tt.text, got, tt.want)
		}
	}
}

func TestEncodeTruncation(t *testing.T) {
	tok := tinyTokenizer(t, Config{})
	words := func(n int) string { return strings.TrimSpace(strings.Repeat("the ", n)) }
	tests := []struct {
		a      int // words in A
		b      int // words in B; -1 for a single text
		maxLen int
		wantA  int
		wantB  int
	}{
		{a: 10, b: -1, maxLen: 0, wantA: 10},
		{a: 10, b: -1, maxLen: 12, wantA: 10},
		{a: 10, b: -1, maxLen: 8, wantA: 6},
		{a: 10, b: -1, maxLen: 1, wantA: 0}, // the special tokens stay
		// longest_first with a budget of maxLen-3, the cases of HF's own test (budget 7):
		{a: 0, b: 8, maxLen: 10, wantA: 0, wantB: 7},
		{a: 2, b: 8, maxLen: 10, wantA: 2, wantB: 5},
		{a: 4, b: 4, maxLen: 10, wantA: 3, wantB: 4},
		{a: 4, b: 8, maxLen: 10, wantA: 3, wantB: 4},
		{a: 8, b: 4, maxLen: 10, wantA: 4, wantB: 3},
		{a: 8, b: 2, maxLen: 10, wantA: 5, wantB: 2},
		{a: 8, b: 8, maxLen: 10, wantA: 3, wantB: 4},
		{a: 2, b: 2, maxLen: 10, wantA: 2, wantB: 2},
		{a: 5, b: 5, maxLen: 3, wantA: 0, wantB: 0},
	}
	for _, tt := range tests {
		var e Encoding
		wantLen := tt.wantA + 2
		if tt.b < 0 {
			e = tok.Encode(words(tt.a), tt.maxLen)
		} else {
			e = tok.EncodePair(words(tt.a), words(tt.b), tt.maxLen)
			wantLen += tt.wantB + 1
		}
		if e.Len() != wantLen || len(e.TypeIDs) != wantLen || len(e.Mask) != wantLen {
			t.Errorf("%+v: got %d tokens, want %d", tt, e.Len(), wantLen)
			continue
		}
		if tt.b >= 0 {
			ones := 0
			for _, ty := range e.TypeIDs {
				ones += int(ty)
			}
			if ones != tt.wantB+1 || e.IDs[tt.wantA+1] != tok.Special().SEP {
				t.Errorf("%+v: got ids %v types %v", tt, e.IDs, e.TypeIDs)
			}
		}
	}
}

func TestEncodePairLayout(t *testing.T) {
	tok := tinyTokenizer(t, Config{})
	e := tok.EncodePair("the movie", "great!", 0)
	wantIDs := []int64{2, 5, 6, 3, 8, 9, 3}
	wantTypes := []int64{0, 0, 0, 0, 1, 1, 1}
	if !slices.Equal(e.IDs, wantIDs) || !slices.Equal(e.TypeIDs, wantTypes) || !slices.Equal(e.Mask, []int64{1, 1, 1, 1, 1, 1, 1}) {
		t.Errorf("got %v %v %v", e.IDs, e.TypeIDs, e.Mask)
	}
}

func TestPad(t *testing.T) {
	tok := tinyTokenizer(t, Config{})
	b := tok.Pad([]Encoding{
		tok.Encode("the movie", 0),        // 4 tokens
		tok.EncodePair("the", "great", 0), // 5 tokens
		tok.Encode("", 0),                 // 2 tokens
	})
	if b.Size != 3 || b.SeqLen != 5 || !slices.Equal(b.Lengths, []int{4, 5, 2}) {
		t.Fatalf("got size %d seqlen %d lengths %v", b.Size, b.SeqLen, b.Lengths)
	}
	wantIDs := []int64{
		2, 5, 6, 3, 0,
		2, 5, 3, 8, 3,
		2, 3, 0, 0, 0,
	}
	wantTypes := []int64{
		0, 0, 0, 0, 0,
		0, 0, 0, 1, 1,
		0, 0, 0, 0, 0,
	}
	wantMask := []int64{
		1, 1, 1, 1, 0,
		1, 1, 1, 1, 1,
		1, 1, 0, 0, 0,
	}
	if !slices.Equal(b.IDs, wantIDs) || !slices.Equal(b.TypeIDs, wantTypes) || !slices.Equal(b.Mask, wantMask) {
		t.Errorf("got\n%v\n%v\n%v", b.IDs, b.TypeIDs, b.Mask)
	}
	if empty := tok.Pad(nil); empty.Size != 0 || empty.SeqLen != 0 || len(empty.IDs) != 0 {
		t.Errorf("Pad(nil) = %+v", empty)
	}
}

func TestEncodeAllKeepsOrder(t *testing.T) {
	tok := tinyTokenizer(t, Config{})
	texts := []string{"the", "the movie", "the movie was", "great", "!"}
	var examples []Example
	for i := range 1000 {
		ex := Example{ID: i, Text: texts[i%len(texts)]}
		if i%7 == 0 {
			ex.TextPair, ex.HasPair = "movie", true
		}
		examples = append(examples, ex)
	}
	got := EncodeAll(tok, examples, 4)
	for i, ex := range examples {
		want := tok.Encode(ex.Text, 4)
		if ex.HasPair {
			want = tok.EncodePair(ex.Text, ex.TextPair, 4)
		}
		if !slices.Equal(got[i].IDs, want.IDs) || !slices.Equal(got[i].TypeIDs, want.TypeIDs) {
			t.Fatalf("example %d: got %v, want %v", i, got[i].IDs, want.IDs)
		}
	}
}

func TestHash(t *testing.T) {
	base := tinyTokenizer(t, Config{})
	if h := tinyTokenizer(t, Config{}).Hash(); h != base.Hash() || len(h) != 64 {
		t.Fatalf("hash not stable: %s vs %s", h, base.Hash())
	}
	for _, cfg := range []Config{{Cased: true}, {StripAccents: new(false)}, {NoChineseSplit: true}, {KeepControlChars: true}, {MaxInputCharsPerWord: 50}} {
		if tinyTokenizer(t, cfg).Hash() == base.Hash() {
			t.Errorf("%+v hashes like the default", cfg)
		}
	}
	other, err := NewTokenizer(append(slices.Clone(tinyVocab), "extra"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if other.Hash() == base.Hash() {
		t.Error("a different vocabulary hashes alike")
	}
}

// TestHashIsPinned pins the real model's fingerprint: a change invalidates
// every activation cache, so it must be deliberate (and bump hashVersion).
func TestHashIsPinned(t *testing.T) {
	tok, err := LoadTokenizer(modelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	const want = "e9a252bf4f7a281ea04af132196480d9acd4ff0fa9a29aa9b7059cbdac431550"
	if tok.Hash() != want {
		t.Errorf("Hash() = %s, want %s", tok.Hash(), want)
	}
}

func TestLoadTokenizerErrors(t *testing.T) {
	vocab := strings.Join(tinyVocab, "\n") + "\n"
	bertJSON := func(model, normalizer string) string {
		return `{"added_tokens": [], "normalizer": ` + normalizer + `, "pre_tokenizer": {"type": "BertPreTokenizer"},
 "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
 "model": ` + model + `}`
	}
	wordPieceModel := `{"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
  "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "the": 4}}`
	bertNormalizer := `{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true}`
	tests := []struct {
		name  string
		files map[string]string
		want  []string // substrings of the error
	}{
		{"empty directory", nil, []string{"no tokenizer.json or vocab.txt in", "make setup"}},
		{"broken JSON", map[string]string{"tokenizer.json": "{\n  \"model\": {\n    \"type\": WordPiece\n}"},
			[]string{"tokenizer.json:3:13: invalid JSON"}},
		{"WordLevel model", map[string]string{"tokenizer.json": bertJSON(`{"type": "WordLevel", "vocab": {"a": 0}}`, bertNormalizer)},
			[]string{"tokenizer.json", `model type "WordLevel" is not supported`}},
		{"BPE model with a BERT pipeline", map[string]string{"tokenizer.json": bertJSON(`{"type": "BPE", "vocab": {"a": 0}}`, bertNormalizer)},
			[]string{"tokenizer.json", "normalizer:", `"BertNormalizer" is not supported`}},
		{"other normalizer", map[string]string{"tokenizer.json": bertJSON(wordPieceModel, `{"type": "Sequence", "normalizers": []}`)},
			[]string{`normalizer type "Sequence" is not supported`}},
		{"no [PAD]", map[string]string{"tokenizer.json": bertJSON(strings.Replace(wordPieceModel, `"[PAD]": 0, `, "", 1), bertNormalizer)},
			[]string{"tokenizer.json: the vocabulary lacks the special token(s) [PAD]"}},
		{"vocab.txt without [UNK] and [SEP]", map[string]string{"vocab.txt": "[PAD]\n[CLS]\nthe\n"},
			[]string{"vocab.txt: the vocabulary lacks the special token(s) [SEP], [UNK]"}},
		{"broken tokenizer_config.json", map[string]string{"vocab.txt": vocab, "tokenizer_config.json": `{"do_lower_case": yes}`},
			[]string{"tokenizer_config.json:1:19: invalid JSON"}},
		{"wrong post-processor ids", map[string]string{"tokenizer.json": strings.Replace(bertJSON(wordPieceModel, bertNormalizer), `["[SEP]", 3]`, `["[SEP]", 9]`, 1)},
			[]string{"post_processor gives [SEP] the id 9 but the vocabulary has 3"}},
	}
	for _, tt := range tests {
		_, err := LoadTokenizer(writeFiles(t, tt.files))
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", tt.name, err, w)
			}
		}
	}

	// The same minimal files load when they are right.
	for name, files := range map[string]map[string]string{
		"tokenizer.json": {"tokenizer.json": bertJSON(wordPieceModel, bertNormalizer)},
		"vocab.txt":      {"vocab.txt": vocab, "tokenizer_config.json": `{"do_lower_case": true, "unk_token": {"content": "[UNK]"}}`},
	} {
		if _, err := LoadTokenizer(writeFiles(t, files)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestLoadTokenizerPrefersTokenizerJSON(t *testing.T) {
	dir := modelDir(t)
	tok, err := LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tok.String(), filepath.Join(dir, "tokenizer.json")) || tok.VocabSize() != 30522 {
		t.Errorf("got %s with %d tokens", tok, tok.VocabSize())
	}
	if s := tok.Special(); s != (SpecialIDs{CLS: 101, SEP: 102, PAD: 0, UNK: 100, Mask: 103}) {
		t.Errorf("special ids %+v", s)
	}
}

// FuzzParseTokenizerJSON checks that no tokenizer.json makes the loader panic.
func FuzzParseTokenizerJSON(f *testing.F) {
	f.Add([]byte(`{"normalizer": {"type": "BertNormalizer"}, "pre_tokenizer": {"type": "BertPreTokenizer"},
 "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
  "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "[SEP]", "type_id": 1}}]},
 "added_tokens": [{"id": 0, "content": "[PAD]", "normalized": true}],
 "model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "a": 4, "##b": 5}}}`))
	f.Add([]byte(`{"post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": [2, "[CLS]"]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := parseTokenizerJSON("tokenizer.json", data)
		if err == nil {
			tok.Encode("a ab [PAD] b", 8)
		}
	})
}

// FuzzEncode checks that no input panics and every encoding is well formed.
func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", "The movie was great!", "unbelievable [SEP] 我好", "cafe\u0301\x00\xff\xfe", "[CLS][CLS", strings.Repeat("ab", 80)} {
		f.Add(s, "the movie", 8, false)
	}
	tok, err := NewTokenizer(tinyVocab, Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, a, b string, maxLen int, pair bool) {
		maxLen = 3 + int(uint(maxLen)%600)
		var e Encoding
		if pair {
			e = tok.EncodePair(a, b, maxLen)
		} else {
			e = tok.Encode(a, maxLen)
		}
		if e.Len() > maxLen || e.Len() < 2 || len(e.TypeIDs) != e.Len() || len(e.Mask) != e.Len() {
			t.Fatalf("bad lengths %d %d %d for maxLen %d", e.Len(), len(e.TypeIDs), len(e.Mask), maxLen)
		}
		for i, id := range e.IDs {
			if id < 0 || id >= int64(tok.VocabSize()) || e.Mask[i] != 1 || e.TypeIDs[i] > 1 {
				t.Fatalf("bad token %d: id %d type %d mask %d", i, id, e.TypeIDs[i], e.Mask[i])
			}
		}
	})
}
