package text

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func xlmrCharsmap(t testing.TB) *precompiled {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "xlmr_unigram", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tj struct {
		Normalizer struct {
			Normalizers []struct {
				Charsmap string `json:"precompiled_charsmap"`
			} `json:"normalizers"`
		} `json:"normalizer"`
	}
	if err := json.Unmarshal(data, &tj); err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(tj.Normalizer.Normalizers[0].Charsmap)
	if err != nil {
		t.Fatal(err)
	}
	p, err := parsePrecompiled(raw)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPrecompiledEveryCodePoint compares the Precompiled normalizer (the
// charsmap, and the grapheme clusters it is applied to) with tokenizers'
// on c, c + U+0301 (Extend) and c + U+093E (SpacingMark) for every code
// point c, block by block (testdata/hf_precompiled_blocks.txt).
func TestPrecompiledEveryCodePoint(t *testing.T) {
	t.Parallel()
	p := xlmrCharsmap(t)
	data, err := os.ReadFile(filepath.Join("testdata", "hf_precompiled_blocks.txt"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, bad := 0, 0
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		var suffix, block rune
		var want string
		if _, err := fmtSscanf(line, "%x %x %s", &suffix, &block, &want); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		blocks++
		h := sha256.New()
		var out []byte
		for r := block << 12; r < (block+1)<<12; r++ {
			if r >= 0xd800 && r <= 0xdfff {
				continue
			}
			in := utf8.AppendRune(nil, r)
			if suffix != 0 {
				in = utf8.AppendRune(in, suffix)
			}
			out = append(p.appendNormalized(out[:0], in), 0xff)
			h.Write(out)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			bad++
			if bad <= 10 {
				t.Errorf("code points U+%04X..U+%04X followed by U+%04X normalize differently from tokenizers", block<<12, (block+1)<<12-1, suffix)
			}
		}
	}
	if blocks != 3*0x110 {
		t.Errorf("%d blocks, want %d", blocks, 3*0x110)
	}
	if bad > 0 {
		t.Errorf("%d of %d blocks differ", bad, blocks)
	}
}

func TestPrecompiledCases(t *testing.T) {
	p := xlmrCharsmap(t)
	tests := []struct{ in, want string }{
		{"ＡＢＣ１２３", "ABC123"},
		{"ﬁne", "fine"},
		{"e\u0301", "é"},
		{"plain text", "plain text"},
		{"①", "1"},
	}
	for _, tt := range tests {
		if got := string(p.appendNormalized(nil, []byte(tt.in))); got != tt.want {
			t.Errorf("%q: %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParsePrecompiledRejects(t *testing.T) {
	for name, b := range map[string][]byte{
		"short":          {1, 0},
		"trie too large": {0xff, 0, 0, 0, 1, 2, 3, 4},
		"not whole":      {3, 0, 0, 0, 1, 2, 3},
		"invalid UTF-8":  {0, 0, 0, 0, 0xff},
	} {
		if _, err := parsePrecompiled(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestGraphemeLen(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"ab", 1},
		{"\r\n", 2},
		{"\n\r", 1},
		{"e\u0301x", 3},
		{"क\u093ex", 6},
		{"🇺🇸🇩🇪", 8},
		{"👩\u200d❤", 10},
		{"한국", 3},
		{"\u1100\u1161\u11a8x", 9},
		{"\u0600a", 3},
	}
	for _, tt := range tests {
		if got := graphemeLen([]byte(tt.in)); got != tt.want {
			t.Errorf("%q: %d, want %d", tt.in, got, tt.want)
		}
	}
}
