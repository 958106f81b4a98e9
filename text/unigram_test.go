package text

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var fmtSscanf = fmt.Sscanf

func TestXLMRobertaMatchesHuggingFace(t *testing.T) {
	f := readSubwordFixture(t, "tokens_xlmr.json", "xlmr_unigram/tokenizer.json")
	tok := loadTestdata(t, "xlmr_unigram")
	if n := checkCases(t, tok, f.Cases); n < 100 {
		t.Errorf("only %d distinct texts; want at least 100", n)
	}
}

// TestXLMRobertaLegacyLayout: xlm-roberta-base's published tokenizer.json
// (Replace with " ", WhitespaceSplit + Metaspace with add_prefix_space),
// made from the same file as the script does.
func TestXLMRobertaLegacyLayout(t *testing.T) {
	f := readSubwordFixture(t, "tokens_xlmr_legacy.json", "xlmr_unigram/tokenizer.json")
	data, err := os.ReadFile(filepath.Join("testdata", "xlmr_unigram", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	norm := d["normalizer"].(map[string]any)
	steps := norm["normalizers"].([]any)
	norm["normalizers"] = []any{steps[0], map[string]any{"type": "Replace", "pattern": map[string]any{"Regex": " {2,}"}, "content": " "}}
	d["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
		map[string]any{"type": "WhitespaceSplit"},
		map[string]any{"type": "Metaspace", "replacement": "▁", "add_prefix_space": true},
	}}
	legacy, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	dir := writeFiles(t, map[string]string{"tokenizer.json": string(legacy)})
	tok, err := LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := checkCases(t, tok, f.Cases); n < 100 {
		t.Errorf("only %d distinct texts; want at least 100", n)
	}
	if tok.Hash() == loadTestdata(t, "xlmr_unigram").Hash() {
		t.Error("the two layouts hash alike")
	}
}

func TestXLMRobertaLayout(t *testing.T) {
	tok := loadTestdata(t, "xlmr_unigram")
	s := tok.Special()
	if s != (SpecialIDs{CLS: 0, PAD: 1, SEP: 2, UNK: 3, Mask: int64(tok.VocabSize() - 1)}) {
		t.Errorf("special ids %+v, want <s> 0, <pad> 1, </s> 2, <unk> 3, <mask> last", s)
	}
	if tok.Token(s.Mask) != "<mask>" || !strings.HasPrefix(tok.String(), "Unigram tokenizer from ") {
		t.Errorf("mask %q, String() %q", tok.Token(s.Mask), tok)
	}
	e := tok.EncodePair("Bonjour", "le monde", 0)
	want := slices.Concat([]int64{0}, tok.Pieces("Bonjour"), []int64{2, 2}, tok.Pieces("le monde"), []int64{2})
	if !slices.Equal(e.IDs, want) || slices.Max(e.TypeIDs) != 0 {
		t.Errorf("pair %v types %v, want %v with all type ids 0", e.IDs, e.TypeIDs, want)
	}
	// A character no piece covers is <unk>, neighbours fused.
	if got := tok.Pieces("\U0001D11E\U0001D11E"); !slices.Contains(got, 3) || len(got) > 2 {
		t.Errorf("two unknown characters: %v (%q)", got, tok.Tokens(got))
	}
}

func TestUnigramViterbi(t *testing.T) {
	// HF's own example: abcd (10) beats ab+cd; x and y are unknown and fuse.
	pieces := []string{"<unk>", "a", "b", "c", "d", "cd", "ab", "abc", "abcd"}
	scores := []float64{0, 0, 0, 0, 0, 1, 2, 5, 10}
	u, err := newUnigram(pieces, scores, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	got := u.appendIDs(nil, []byte("abcdacdxx"), new(scratch))
	if want := []int64{8, 1, 5, 0}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if _, err := newUnigram(pieces, scores, 9, false); err == nil {
		t.Error("unk_id past the pieces was accepted")
	}
}

func TestMetaspace(t *testing.T) {
	rec := &recordModel{}
	tests := []struct {
		m     metaspace
		in    string
		first bool
		want  []string
	}{
		{metaspace{replacement: "▁", split: true}, "Hello  world", true, []string{"▁Hello", "▁", "▁world"}},
		{metaspace{replacement: "▁", split: false}, "a b", true, []string{"▁a▁b"}},
		{metaspace{replacement: "▁", split: true, prepend: prependNever}, "a b", true, []string{"a", "▁b"}},
		{metaspace{replacement: "▁", split: true, prepend: prependFirst}, "a b", false, []string{"a", "▁b"}},
		{metaspace{replacement: "▁", split: true, prepend: prependFirst}, "a b", true, []string{"▁a", "▁b"}},
		{metaspace{replacement: "▁", split: true, whitespaceSplit: true}, " a\tb ", true, []string{"▁a", "▁b"}},
	}
	for _, tt := range tests {
		rec.words = nil
		tt.m.appendWords(nil, []byte(tt.in), tt.first, new(scratch), rec)
		if !slices.Equal(rec.words, tt.want) {
			t.Errorf("%+v on %q: %q, want %q", tt.m, tt.in, rec.words, tt.want)
		}
	}
}

type recordModel struct{ words []string }

func (r *recordModel) appendIDs(dst []int64, word []byte, _ *scratch) []int64 {
	r.words = append(r.words, string(word))
	return dst
}

// TestSubwordLoadErrors: what the loader refuses names the file and the field.
func TestSubwordLoadErrors(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "roberta_bpe", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	roberta := string(data)
	xdata, err := os.ReadFile(filepath.Join("testdata", "xlmr_unigram", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	xlmr := string(xdata)
	tests := []struct {
		name, json string
		want       []string
	}{
		{"dropout", strings.Replace(roberta, `"dropout":null`, `"dropout":0.1`, 1), []string{"model:", "dropout 0.1"}},
		{"pre-tokenizer", strings.Replace(roberta, `"pre_tokenizer":{"type":"ByteLevel"`, `"pre_tokenizer":{"type":"Whitespace"`, 1), []string{"pre_tokenizer:", `"Whitespace" is not supported`}},
		{"normalizer", strings.Replace(roberta, `"normalizer":null`, `"normalizer":{"type":"NFKC"}`, 1), []string{"normalizer:", `"NFKC" is not supported`}},
		{"post-processor", strings.Replace(roberta, `"post_processor":{"type":"RobertaProcessing"`, `"post_processor":{"type":"ByteLevel"`, 1), []string{"post_processor:", `"ByteLevel" is not supported`}},
		{"single_word", strings.Replace(roberta, `"single_word":false`, `"single_word":true`, 1), []string{"added_tokens[0]", "single_word"}},
		{"merge", strings.Replace(roberta, `"merges":[`, `"merges":[["zz","qq"],`, 1), []string{"model:", "merge 0"}},
		{"unk_id", strings.Replace(xlmr, `"unk_id":3`, `"unk_id":null`, 1), []string{"model:", "unk_id is null"}},
		{"charsmap", strings.Replace(xlmr, `"precompiled_charsmap":"`, `"precompiled_charsmap":"!!`, 1), []string{"normalizer:", "base64"}},
		{"regex", strings.Replace(xlmr, `"Regex":" {2,}"`, `"Regex":"\\s+"`, 1), []string{"normalizer:", "normalizers[2]", `\s+`}},
		{"model type", strings.Replace(roberta, `"type":"BPE"`, `"type":"WordLevel"`, 1), []string{`model type "WordLevel" is not supported`}},
	}
	for _, tt := range tests {
		if tt.json == roberta || tt.json == xlmr {
			t.Errorf("%s: the test's replacement did not apply", tt.name)
			continue
		}
		_, err := LoadTokenizer(writeFiles(t, map[string]string{"tokenizer.json": tt.json}))
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		for _, w := range append([]string{"tokenizer.json"}, tt.want...) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", tt.name, err, w)
			}
		}
	}
}

// FuzzParseSubwordTokenizerJSON checks that no tokenizer.json makes the
// loader or the tokenizer it builds panic. Seeded from testdata's RoBERTa
// and XLM-R files, cut down to a few hundred tokens so that the fuzzer runs
// fast (the XLM-R one once without and once with its real charsmap), and a
// broken charsmap.
func FuzzParseSubwordTokenizerJSON(f *testing.F) {
	for _, sub := range []string{"roberta_bpe", "xlmr_unigram"} {
		data, err := os.ReadFile(filepath.Join("testdata", sub, "tokenizer.json"))
		if err != nil {
			f.Fatal(err)
		}
		var d map[string]any
		if err := json.Unmarshal(data, &d); err != nil {
			f.Fatal(err)
		}
		model := d["model"].(map[string]any)
		switch v := model["vocab"].(type) {
		case map[string]any: // BPE: the first 300 ids, and the merges among them
			for tok, id := range v {
				if id.(float64) >= 300 {
					delete(v, tok)
				}
			}
			var merges []any
			for _, m := range model["merges"].([]any) {
				pair := m.([]any)
				a, b := pair[0].(string), pair[1].(string)
				if v[a] != nil && v[b] != nil && v[a+b] != nil {
					merges = append(merges, m)
				}
			}
			model["merges"] = merges
		case []any:
			model["vocab"] = v[:300]
		}
		d["added_tokens"] = d["added_tokens"].([]any)[:4]
		small, _ := json.Marshal(d)
		f.Add(small)
		if norm, ok := d["normalizer"].(map[string]any); ok {
			norm["normalizers"] = norm["normalizers"].([]any)[1:]
			noCharsmap, _ := json.Marshal(d)
			f.Add(noCharsmap)
		}
	}
	f.Add([]byte(`{"normalizer":{"type":"Precompiled","precompiled_charsmap":"CAAAAP////8AAAAA"},"pre_tokenizer":{"type":"Metaspace"},
 "post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"</s>","type_id":0}}],
 "pair":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"</s>","type_id":0}},{"SpecialToken":{"id":"</s>","type_id":0}},{"Sequence":{"id":"B","type_id":0}},{"SpecialToken":{"id":"</s>","type_id":0}}]},
 "model":{"type":"Unigram","unk_id":3,"vocab":[["<s>",0],["<pad>",0],["</s>",0],["<unk>",0],["▁a",-1]]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := parseTokenizerJSON("tokenizer.json", data)
		if err != nil {
			if !strings.Contains(err.Error(), "tokenizer.json") {
				t.Errorf("error without the file name: %v", err)
			}
			return
		}
		for _, s := range []string{"", "Hello world <mask> ｶﾞ e\u0301 😀", "\xff\xfe broken"} {
			e := tok.EncodePair(s, s, 16)
			for _, id := range e.IDs {
				if id < 0 || id > tok.MaxID() {
					t.Fatalf("id %d outside 0..%d", id, tok.MaxID())
				}
			}
		}
	})
}
