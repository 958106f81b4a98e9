package text

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The RoBERTa and XLM-R fixtures (tokenizer.json files trained as those
// models' are, and the ids Hugging Face's tokenizers 0.23.3 gives them) come
// from scripts/make_tokenizer_fixtures.py.

type subwordCase struct {
	Text      string  `json:"text"`
	Pair      *string `json:"pair"`
	MaxLength int     `json:"max_length"`
	IDs       []int64 `json:"ids"`
	TypeIDs   []int64 `json:"type_ids"` // absent: all 0
}

type subwordFixture struct {
	Version string        `json:"tokenizers_version"`
	SHA256  string        `json:"tokenizer_json_sha256"`
	Cases   []subwordCase `json:"cases"`
}

func readSubwordFixture(t *testing.T, name, tokenizerJSON string) subwordFixture {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var f subwordFixture
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	tj, err := os.ReadFile(filepath.Join("testdata", tokenizerJSON))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(tj); hex.EncodeToString(sum[:]) != f.SHA256 {
		t.Fatalf("testdata/%s is not the file testdata/%s was made from: rerun scripts/make_tokenizer_fixtures.py", tokenizerJSON, name)
	}
	return f
}

// checkCases encodes every case and compares ids, type ids and the mask
// with Hugging Face's; it returns how many distinct texts it checked.
func checkCases(t *testing.T, tok *Tokenizer, cases []subwordCase) int {
	t.Helper()
	texts := map[string]bool{}
	bad := 0
	for i, c := range cases {
		var got Encoding
		if c.Pair != nil {
			got = tok.EncodePair(c.Text, *c.Pair, c.MaxLength)
			texts[*c.Pair] = true
		} else {
			got = tok.Encode(c.Text, c.MaxLength)
		}
		texts[c.Text] = true
		wantTypes := c.TypeIDs
		if wantTypes == nil {
			wantTypes = make([]int64, len(c.IDs))
		}
		ones := make([]int64, len(c.IDs))
		for k := range ones {
			ones[k] = 1
		}
		if !slices.Equal(got.IDs, c.IDs) || !slices.Equal(got.TypeIDs, wantTypes) || !slices.Equal(got.Mask, ones) {
			bad++
			if bad <= 10 {
				pair := ""
				if c.Pair != nil {
					pair = " + " + *c.Pair
				}
				t.Errorf("case %d (max_length %d) %q%s:\n got %q\nwant %q\n got ids %v\nwant ids %v\n got types %v",
					i, c.MaxLength, c.Text, pair, tok.Tokens(got.IDs), tok.Tokens(c.IDs), got.IDs, c.IDs, got.TypeIDs)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d cases differ from Hugging Face", bad, len(cases))
	}
	return len(texts)
}

func loadTestdata(t *testing.T, sub string) *Tokenizer {
	t.Helper()
	tok, err := LoadTokenizer(filepath.Join("testdata", sub))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestRoBERTaMatchesHuggingFace(t *testing.T) {
	f := readSubwordFixture(t, "tokens_roberta.json", "roberta_bpe/tokenizer.json")
	tok := loadTestdata(t, "roberta_bpe")
	if n := checkCases(t, tok, f.Cases); n < 100 {
		t.Errorf("only %d distinct texts; want at least 100", n)
	}
}

func TestRoBERTaLayout(t *testing.T) {
	tok := loadTestdata(t, "roberta_bpe")
	s := tok.Special()
	if s != (SpecialIDs{CLS: 0, PAD: 1, SEP: 2, UNK: 3, Mask: 4}) {
		t.Errorf("special ids %+v, want <s> 0, <pad> 1, </s> 2, <unk> 3, <mask> 4", s)
	}
	if !strings.HasPrefix(tok.String(), "BPE tokenizer from ") {
		t.Errorf("String() = %q", tok)
	}
	a, b := tok.Pieces("Hello"), tok.Pieces("world")
	e := tok.EncodePair("Hello", "world", 0)
	want := slices.Concat([]int64{0}, a, []int64{2, 2}, b, []int64{2})
	if !slices.Equal(e.IDs, want) || slices.Max(e.TypeIDs) != 0 {
		t.Errorf("pair %v types %v, want %v with all type ids 0", e.IDs, e.TypeIDs, want)
	}
	// Truncation counts the four special tokens of a pair.
	if e := tok.EncodePair("one two three four", "five six seven eight", 8); e.Len() != 8 {
		t.Errorf("truncated pair has %d tokens, want 8", e.Len())
	}
	// <mask> takes the spaces before it (lstrip), not after.
	if got, want := tok.Pieces("a   <mask> b"), slices.Concat(tok.Pieces("a"), []int64{4}, tok.Pieces(" b")); !slices.Equal(got, want) {
		t.Errorf("lstrip: %v, want %v", got, want)
	}
}

// TestByteLevelEveryCodePoint compares the GPT-2 regex's character classes
// with Oniguruma's, as tokenizers uses it, on every code point.
func TestByteLevelEveryCodePoint(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("testdata", "hf_bytelevel_classes.txt"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]charClass{"L": classLetter, "N": classNumber, "S": classSpace, "O": classOther}
	seen, bad := 0, 0
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		var first, last rune
		var k string
		if _, err := fmtSscanf(line, "%x %x %s", &first, &last, &k); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		for r := first; r <= last; r++ {
			if r >= 0xd800 && r <= 0xdfff {
				continue
			}
			seen++
			if got := classOf(r); got != names[k] {
				bad++
				if bad <= 20 {
					t.Errorf("U+%04X: class %d, tokenizers says %s", r, got, k)
				}
			}
		}
	}
	if seen != 0x110000-0x800 {
		t.Errorf("the file covers %d code points, want every one", seen)
	}
	if bad > 0 {
		t.Errorf("%d code points differ", bad)
	}
}

func TestBPEMerges(t *testing.T) {
	vocab := map[string]int32{"a": 0, "b": 1, "c": 2, "ab": 3, "bc": 4, "abc": 5, "<unk>": 6}
	tests := []struct {
		merges [][2]string
		word   string
		want   []int64
	}{
		{nil, "abc", []int64{0, 1, 2}},
		{[][2]string{{"a", "b"}, {"b", "c"}}, "abc", []int64{3, 2}}, // lower rank first
		{[][2]string{{"b", "c"}, {"a", "b"}}, "abc", []int64{0, 4}},
		{[][2]string{{"a", "b"}, {"ab", "c"}}, "abc", []int64{5}},
		{[][2]string{{"a", "b"}}, "ababa", []int64{3, 3, 0}}, // leftmost first
		{[][2]string{{"a", "b"}}, "axb", []int64{0, 6, 1}},   // unknown character
		{[][2]string{{"a", "b"}}, "axyb", []int64{0, 6, 6, 1}},
	}
	for _, tt := range tests {
		b, err := newBPE(vocab, tt.merges, "", "")
		if err != nil {
			t.Fatal(err)
		}
		b.unk = 6
		if got := b.appendIDs(nil, []byte(tt.word), new(scratch)); !slices.Equal(got, tt.want) {
			t.Errorf("%v on %q: %v, want %v", tt.merges, tt.word, got, tt.want)
		}
	}
	if _, err := newBPE(vocab, [][2]string{{"c", "a"}}, "", ""); err == nil || !strings.Contains(err.Error(), `"ca"`) {
		t.Errorf("a merge whose result is not in the vocabulary: %v", err)
	}
}

func TestGPT2Split(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Hello world", []string{"Hello", " world"}},
		{"it's I'm 'x", []string{"it", "'s", " I", "'m", " '", "x"}},
		{"a   b", []string{"a", "  ", " b"}},
		{"a\n\nb", []string{"a", "\n", "\n", "b"}},
		{"end   ", []string{"end", "   "}},
		{"x1234 !!?", []string{"x", "1234", " !!?"}},
		{"日本語 テキスト", []string{"日本語", " テキスト"}},
	}
	for _, tt := range tests {
		var got []string
		for s := []byte(tt.in); len(s) > 0; {
			k := gpt2Match(s)
			got = append(got, string(s[:k]))
			s = s[k:]
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%q: %q, want %q", tt.in, got, tt.want)
		}
	}
}
