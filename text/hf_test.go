package text

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// The reference ids come from Hugging Face's tokenizers (the PyPI package),
// written by scripts/make_token_fixture.py.

type hfCase struct {
	Text      string  `json:"text"`
	Pair      *string `json:"pair"`
	MaxLength int     `json:"max_length"`
	IDs       []int64 `json:"ids"`
	TypeIDs   []int64 `json:"type_ids"`
	Mask      []int64 `json:"attention_mask"`
}

type hfFixture struct {
	Version string   `json:"tokenizers_version"`
	SHA256  string   `json:"tokenizer_json_sha256"`
	Cases   []hfCase `json:"cases"`
}

func readFixture(t *testing.T) hfFixture {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "tokens_minilm.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f hfFixture
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestFixtureIsCurrent checks that the fixture encodes today's sentences.txt
// and pairs.tsv; rerun scripts/make_token_fixture.py after editing them.
func TestFixtureIsCurrent(t *testing.T) {
	f := readFixture(t)
	var want []string
	for _, s := range readLines(t, "sentences.txt") {
		want = append(want, s+"\x00")
	}
	for _, p := range readLines(t, "pairs.tsv") {
		a, b, _ := strings.Cut(p, "\t")
		want = append(want, a+"\x00"+b)
	}
	var got []string
	for _, c := range f.Cases {
		key := c.Text + "\x00"
		if c.Pair != nil {
			key += *c.Pair
		}
		if len(got) == 0 || got[len(got)-1] != key {
			got = append(got, key)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("testdata/tokens_minilm.json does not encode sentences.txt and pairs.tsv: run scripts/make_token_fixture.py")
	}
	if len(readLines(t, "sentences.txt")) < 30 {
		t.Errorf("want at least 30 sentences")
	}
}

func TestMatchesHuggingFace(t *testing.T) {
	dir := modelDir(t)
	f := readFixture(t)
	data, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != f.SHA256 {
		t.Fatalf("%s is not the tokenizer.json the fixture was made from; rerun `make setup` or scripts/make_token_fixture.py", dir)
	}
	fromJSON, err := LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	vocabOnly := writeFiles(t, nil)
	for _, name := range []string{"vocab.txt", "tokenizer_config.json"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(vocabOnly, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fromVocab, err := LoadTokenizer(vocabOnly)
	if err != nil {
		t.Fatal(err)
	}
	if fromJSON.Hash() != fromVocab.Hash() {
		t.Errorf("tokenizer.json and vocab.txt hash differently: %s, %s", fromJSON.Hash(), fromVocab.Hash())
	}

	for name, tok := range map[string]*Tokenizer{"tokenizer.json": fromJSON, "vocab.txt": fromVocab} {
		t.Run(name, func(t *testing.T) {
			for i, c := range f.Cases {
				var got Encoding
				if c.Pair != nil {
					got = tok.EncodePair(c.Text, *c.Pair, c.MaxLength)
				} else {
					got = tok.Encode(c.Text, c.MaxLength)
				}
				if !slices.Equal(got.IDs, c.IDs) || !slices.Equal(got.TypeIDs, c.TypeIDs) || !slices.Equal(got.Mask, c.Mask) {
					t.Errorf("case %d (max_length %d) %q:\n got %v\nwant %v\n got types %v\nwant types %v",
						i, c.MaxLength, c.Text, tok.Tokens(got.IDs), tok.Tokens(c.IDs), got.TypeIDs, c.TypeIDs)
				}
			}
		})
	}
}

// TestNormalizerEveryCodePoint compares the normalizer and the pre-tokenizer
// with HF's on every code point (testdata/hf_normalizer_minilm.txt). When it
// fails after a Go or x/text upgrade, move the listed runes into the tables
// of unicode_hf.go.
func TestNormalizerEveryCodePoint(t *testing.T) {
	t.Parallel()
	type behaviour struct {
		out    string
		pieces int
	}
	want := make(map[rune]behaviour)
	file, err := os.Open(filepath.Join("testdata", "hf_normalizer_minilm.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	hex := func(s string) rune {
		v, err := strconv.ParseUint(s, 16, 32)
		if err != nil {
			t.Fatalf("bad hex %q", s)
		}
		return rune(v)
	}
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		first, last, step := hex(f[0]), hex(f[1]), hex(f[2])
		pieces, _ := strconv.Atoi(f[3])
		for r := first; r <= last; r += step {
			var out string
			switch f[4] {
			case "same":
				out = string(r)
			case "drop":
			case "space":
				out = " "
			case "pad":
				out = " " + string(r) + " "
			case "delta":
				d, _ := strconv.Atoi(f[5])
				out = string(r + rune(d))
			case "hangul": // the Unicode Standard's algorithm, not x/text's
				s := r - 0xAC00
				out = string([]rune{0x1100 + s/588, 0x1161 + s%588/28})
				if s%28 != 0 {
					out += string(0x11A7 + s%28)
				}
			case "seq":
				for _, h := range f[5:] {
					out += string(hex(h))
				}
			default:
				t.Fatalf("unknown kind in %q", line)
			}
			want[r] = behaviour{out, pieces}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}

	n := normalizer{cleanText: true, chineseChars: true, stripAccents: true, lowercase: true}
	var bad []string
	var out, tmp []byte
	var spans []int32
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		w, ok := want[r]
		if !ok {
			w = behaviour{string(r), 1}
		}
		out, tmp = n.normalize(out[:0], tmp, string(r))
		spans = splitWords([]byte("a"+string(r)+"a"), spans[:0])
		if string(out) != w.out || len(spans)/2 != w.pieces {
			bad = append(bad, fmt.Sprintf("U+%04X: got %+q in %d words, want %+q in %d", r, out, len(spans)/2, w.out, w.pieces))
		}
	}
	if len(bad) > 0 {
		t.Errorf("%d code points differ from HF:\n%s", len(bad), strings.Join(bad[:min(len(bad), 40)], "\n"))
	}
}
