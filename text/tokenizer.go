package text

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"unicode"
)

// Config describes a BERT WordPiece tokenizer. Its zero value is
// bert-base-uncased's: lowercase, strip accents, clean the text, split
// Chinese characters, "##" continuation prefix, 100 characters per word.
type Config struct {
	// Cased keeps upper case; the zero value lowercases, as uncased models do.
	Cased bool
	// StripAccents nil follows lowercasing, as HF's "strip_accents": null does.
	StripAccents *bool
	// KeepControlChars turns off HF's clean_text.
	KeepControlChars bool
	// NoChineseSplit turns off HF's handle_chinese_chars.
	NoChineseSplit bool
	// ContinuingSubwordPrefix "" means "##".
	ContinuingSubwordPrefix string
	// MaxInputCharsPerWord 0 means 100; longer words become the unknown token.
	MaxInputCharsPerWord int
	// The special tokens; "" means "[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]".
	// The mask token may be missing from the vocabulary; the others may not.
	UnkToken, ClsToken, SepToken, PadToken, MaskToken string
}

// SpecialIDs are the ids of the special tokens. Mask is -1 when the
// vocabulary has no mask token.
type SpecialIDs struct {
	CLS, SEP, PAD, UNK, Mask int64
}

// addedToken is a token matched in the text before normalization and
// pre-tokenization (HF's added vocabulary): "[SEP]" in a text is one token.
type addedToken struct {
	content    string
	id         int64
	normalized bool // matched in the normalized text rather than the raw text
	lstrip     bool // takes the whitespace before it (RoBERTa's <mask>)
	rstrip     bool // takes the whitespace after it
}

// Tokenizer turns text into model input ids: BERT WordPiece, byte-level BPE
// (RoBERTa) or Unigram (XLM-RoBERTa). It is safe for concurrent use.
type Tokenizer struct {
	seg        segmenter
	tokens     []string     // id -> token, for Token and Hash
	raw        []addedToken // matched in the raw text, longest first
	normed     []addedToken // matched in the normalized text, longest first
	rawFirst   [256]bool    // first bytes of raw
	normFirst  [256]bool    // first bytes of normed
	special    SpecialIDs
	layout     layout
	source     string
	hash       string
	scratchers sync.Pool
}

// segmenter is what differs between the tokenizer families: the normalizer,
// the pre-tokenizer and the model, applied to text free of added tokens.
type segmenter interface {
	// normalize appends the normalized form of s to dst; tmp is scratch
	// space, returned for reuse. The result is valid UTF-8.
	normalize(dst, tmp []byte, s string) (out, scratch []byte)
	// appendWords pre-tokenizes normalized text and appends its ids. first
	// says that n starts at the beginning of the text (Metaspace's "first").
	appendWords(dst []int64, n []byte, first bool, sc *scratch) []int64
	// family names the model type for String: WordPiece, BPE or Unigram.
	family() string
}

// layout is where the post-processor puts the special tokens of a pair:
// BERT's [CLS] A [SEP] B [SEP] with B's type id 1, or RoBERTa's
// <s> A </s></s> B </s> with every type id 0.
type layout struct {
	doubleSep bool  // a second separator opens B
	typeB     int64 // the type id of B and the separators after A's
}

var bertLayout = layout{typeB: 1}

// pipeline is the segmenter of the BPE and Unigram families: a sequence of
// normalizers, a pre-tokenizer and a subword model, as tokenizer.json
// describes them.
type pipeline struct {
	steps []normStep
	pre   preTokenizer
	model subwordModel
	kind  string
}

type preTokenizer interface {
	appendWords(dst []int64, n []byte, first bool, sc *scratch, m subwordModel) []int64
}

type subwordModel interface {
	appendIDs(dst []int64, word []byte, sc *scratch) []int64
}

func (p *pipeline) normalize(dst, tmp []byte, s string) ([]byte, []byte) {
	tmp = appendValidUTF8(tmp[:0], s)
	for _, st := range p.steps {
		start := len(dst)
		dst = st.apply(dst, tmp)
		tmp = append(tmp[:0], dst[start:]...)
		dst = dst[:start]
	}
	return append(dst, tmp...), tmp
}

func (p *pipeline) appendWords(dst []int64, n []byte, first bool, sc *scratch) []int64 {
	return p.pre.appendWords(dst, n, first, sc, p.model)
}

func (p *pipeline) family() string { return p.kind }

// wordPieceSeg is BERT's pipeline: BertNormalizer, BertPreTokenizer, WordPiece.
type wordPieceSeg struct {
	norm   normalizer
	wp     *wordPiece
	prefix string
}

func (w *wordPieceSeg) normalize(dst, tmp []byte, s string) ([]byte, []byte) {
	return w.norm.normalize(dst, tmp, s)
}

func (w *wordPieceSeg) appendWords(dst []int64, n []byte, _ bool, sc *scratch) []int64 {
	sc.spans = splitWords(n, sc.spans[:0])
	for k := 0; k < len(sc.spans); k += 2 {
		dst = w.wp.appendIDs(dst, n[sc.spans[k]:sc.spans[k+1]])
	}
	return dst
}

func (w *wordPieceSeg) family() string { return "WordPiece" }

type scratch struct {
	norm, tmp []byte
	spans     []int32
	a, b      []int64
	word      []byte   // BPE: a pre-token in byte-level characters; Unigram: Metaspace's output
	syms      []bpeSym // BPE: the symbols of a word
	heap      bpeHeap  // BPE: the pending merges
	lattice   []unigramNode
}

// NewTokenizer builds a tokenizer from a vocabulary in id order (the lines of
// a vocab.txt). The special tokens are matched in raw text, as HF does.
func NewTokenizer(vocab []string, cfg Config) (*Tokenizer, error) {
	m := make(map[string]int32, len(vocab))
	for id, tok := range vocab {
		m[tok] = int32(id) // a repeated token keeps its last id, as HF's loaders do
	}
	return build("vocabulary", m, cfg, nil, true)
}

// build makes a WordPiece tokenizer. added are the tokenizer.json's added
// tokens; with addSpecial the special tokens are added too, as transformers
// does for a vocab.txt.
func build(source string, vocab map[string]int32, cfg Config, added []addedToken, addSpecial bool) (*Tokenizer, error) {
	cfg = cfg.withDefaults()
	seg := &wordPieceSeg{
		norm: normalizer{
			cleanText:    !cfg.KeepControlChars,
			chineseChars: !cfg.NoChineseSplit,
			stripAccents: !cfg.Cased,
			lowercase:    !cfg.Cased,
		},
		prefix: cfg.ContinuingSubwordPrefix,
	}
	if cfg.StripAccents != nil {
		seg.norm.stripAccents = *cfg.StripAccents
	}
	t, err := newTokenizer(source, seg, vocab, cfg, added, addSpecial)
	if err != nil {
		return nil, err
	}
	seg.wp = newWordPiece(vocab, cfg.ContinuingSubwordPrefix, cfg.MaxInputCharsPerWord, t.special.UNK)
	t.hash = t.fingerprint(vocab)
	return t, nil
}

// newTokenizer fills what every family shares: the id table, the special
// tokens and the added tokens.
func newTokenizer(source string, seg segmenter, vocab map[string]int32, cfg Config, added []addedToken, addSpecial bool) (*Tokenizer, error) {
	t := &Tokenizer{seg: seg, source: source, layout: bertLayout}
	if err := t.setTokens(vocab, added); err != nil {
		return nil, err
	}
	lookup := func(tok string) (int64, bool) {
		for _, a := range added {
			if a.content == tok {
				return a.id, true
			}
		}
		id, ok := vocab[tok]
		return int64(id), ok
	}
	if err := t.setSpecial(cfg, lookup); err != nil {
		return nil, err
	}
	if addSpecial {
		for _, tok := range []string{cfg.UnkToken, cfg.ClsToken, cfg.SepToken, cfg.PadToken, cfg.MaskToken} {
			if id, ok := lookup(tok); ok && !slices.ContainsFunc(added, func(a addedToken) bool { return a.content == tok }) {
				added = append(added, addedToken{content: tok, id: id})
			}
		}
	}
	t.setAdded(added)
	return t, nil
}

// setTokens fills the id -> token table. Ids may have gaps, but not so many
// that the table would dwarf the vocabulary (a corrupt file).
func (t *Tokenizer) setTokens(vocab map[string]int32, added []addedToken) error {
	if len(vocab) == 0 {
		return fmt.Errorf("%s: the vocabulary is empty", t.source)
	}
	limit := 2*(len(vocab)+len(added)) + 1024
	size := 0
	check := func(tok string, id int64) error {
		if id < 0 || id >= int64(limit) {
			return fmt.Errorf("%s: token %q has id %d, outside 0..%d for a vocabulary of %d tokens", t.source, tok, id, limit-1, len(vocab)+len(added))
		}
		size = max(size, int(id)+1)
		return nil
	}
	for tok, id := range vocab {
		if err := check(tok, int64(id)); err != nil {
			return err
		}
	}
	for _, a := range added {
		if err := check(a.content, a.id); err != nil {
			return err
		}
	}
	t.tokens = make([]string, size)
	for tok, id := range vocab {
		if t.tokens[id] == "" || tok < t.tokens[id] { // deterministic when two tokens share an id
			t.tokens[id] = tok
		}
	}
	for _, a := range added {
		if t.tokens[a.id] == "" {
			t.tokens[a.id] = a.content
		}
	}
	return nil
}

func (t *Tokenizer) setSpecial(cfg Config, lookup func(string) (int64, bool)) error {
	var missing []string
	need := func(tok string) int64 {
		id, ok := lookup(tok)
		if !ok {
			missing = append(missing, tok)
		}
		return id
	}
	t.special = SpecialIDs{
		CLS: need(cfg.ClsToken), SEP: need(cfg.SepToken),
		PAD: need(cfg.PadToken), UNK: need(cfg.UnkToken), Mask: -1,
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: the vocabulary lacks the special token(s) %s; a BERT-family tokenizer needs %s, %s, %s and %s",
			t.source, strings.Join(missing, ", "), cfg.ClsToken, cfg.SepToken, cfg.PadToken, cfg.UnkToken)
	}
	if id, ok := lookup(cfg.MaskToken); ok {
		t.special.Mask = id
	}
	return nil
}

// setAdded sorts the added tokens for findAdded.
func (t *Tokenizer) setAdded(added []addedToken) {
	for _, a := range added {
		if a.content == "" {
			continue
		}
		if a.normalized {
			t.normed = append(t.normed, a)
			t.normFirst[a.content[0]] = true
		} else {
			t.raw = append(t.raw, a)
			t.rawFirst[a.content[0]] = true
		}
	}
	longestFirst := func(x, y addedToken) int {
		if len(x.content) != len(y.content) {
			return len(y.content) - len(x.content)
		}
		return strings.Compare(x.content, y.content)
	}
	slices.SortFunc(t.raw, longestFirst)
	slices.SortFunc(t.normed, longestFirst)
}

func (c Config) withDefaults() Config {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.ContinuingSubwordPrefix, "##")
	def(&c.UnkToken, "[UNK]")
	def(&c.ClsToken, "[CLS]")
	def(&c.SepToken, "[SEP]")
	def(&c.PadToken, "[PAD]")
	def(&c.MaskToken, "[MASK]")
	if c.MaxInputCharsPerWord <= 0 {
		c.MaxInputCharsPerWord = 100
	}
	return c
}

// hashVersion names the tokenization algorithm. Change it whenever a change
// here can change the ids of some text: it invalidates activation caches.
const hashVersion = "autofreeze/text wordpiece v1"

// fingerprint hashes everything that decides the ids: the algorithm's
// version, the settings and the vocabulary in (id, token) order.
func (t *Tokenizer) fingerprint(vocab map[string]int32) string {
	h := sha256.New()
	w := t.seg.(*wordPieceSeg)
	fmt.Fprintf(h, "%s\nclean_text=%t chinese=%t strip_accents=%t lowercase=%t prefix=%q max_chars=%d\n",
		hashVersion, w.norm.cleanText, w.norm.chineseChars, w.norm.stripAccents, w.norm.lowercase, w.prefix, w.wp.maxChars)
	fmt.Fprintf(h, "cls=%d sep=%d pad=%d unk=%d mask=%d\n", t.special.CLS, t.special.SEP, t.special.PAD, t.special.UNK, t.special.Mask)
	for _, group := range [][]addedToken{t.raw, t.normed} {
		for _, a := range group {
			fmt.Fprintf(h, "added %d %q normalized=%t\n", a.id, a.content, a.normalized)
		}
	}
	type entry struct {
		id  int32
		tok string
	}
	entries := make([]entry, 0, len(vocab))
	for tok, id := range vocab {
		entries = append(entries, entry{id, tok})
	}
	slices.SortFunc(entries, func(x, y entry) int {
		if x.id != y.id {
			return int(x.id - y.id)
		}
		return strings.Compare(x.tok, y.tok)
	})
	for _, e := range entries {
		fmt.Fprintf(h, "%d %q\n", e.id, e.tok)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Hash is a hex SHA-256 fingerprint of the vocabulary, the settings and the
// algorithm's version: two tokenizers with the same hash give the same ids.
// A tokenizer.json and the vocab.txt of the same model hash alike.
func (t *Tokenizer) Hash() string { return t.hash }

// VocabSize is one more than the largest token id.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// MaxID is the largest id the tokenizer can produce (a vocabulary entry, an
// added or a special token).
func (t *Tokenizer) MaxID() int64 { return int64(len(t.tokens)) - 1 }

// CheckVocabSize checks that every id the tokenizer can produce has a row
// in a model's embedding of vocabSize rows (config.json's vocab_size): a
// tokenizer of another model would otherwise fail deep inside libtorch or
// ONNX Runtime on the first text that uses such a token.
func (t *Tokenizer) CheckVocabSize(vocabSize int) error {
	if id := t.MaxID(); id >= int64(vocabSize) {
		return fmt.Errorf("%s: token %q has id %d, but the model's config.json has vocab_size %d (ids 0 to %d): the tokenizer does not belong to this model; use the tokenizer files that came with it",
			t.source, t.Token(id), id, vocabSize, vocabSize-1)
	}
	return nil
}

// Special returns the ids of the special tokens.
func (t *Tokenizer) Special() SpecialIDs { return t.special }

// Token returns the token with the given id, or "" for an unknown id.
func (t *Tokenizer) Token(id int64) string {
	if id < 0 || id >= int64(len(t.tokens)) {
		return ""
	}
	return t.tokens[id]
}

// Tokens returns the tokens of ids, for debugging.
func (t *Tokenizer) Tokens(ids []int64) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = t.Token(id)
	}
	return out
}

// String describes the tokenizer for logs.
func (t *Tokenizer) String() string {
	if w, ok := t.seg.(*wordPieceSeg); ok {
		casing := "uncased"
		if !w.norm.lowercase {
			casing = "cased"
		}
		return fmt.Sprintf("WordPiece tokenizer from %s (%d tokens, %s, hash %.12s)", t.source, len(t.tokens), casing, t.hash)
	}
	return fmt.Sprintf("%s tokenizer from %s (%d tokens, hash %.12s)", t.seg.family(), t.source, len(t.tokens), t.hash)
}

// appendPieces appends the ids of s without special tokens around it: HF's
// added-token split, normalization, pre-tokenization and the model.
func (t *Tokenizer) appendPieces(dst []int64, s string, sc *scratch) []int64 {
	first := true
	for len(s) > 0 {
		i, a := findAdded(s, t.raw, &t.rawFirst)
		if a == nil {
			return t.appendNormalized(dst, s, first, sc)
		}
		start, end := i, i+len(a.content)
		if a.lstrip {
			start = len(strings.TrimRightFunc(s[:start], unicode.IsSpace))
		}
		if a.rstrip {
			end = len(s) - len(strings.TrimLeftFunc(s[end:], unicode.IsSpace))
		}
		dst = t.appendNormalized(dst, s[:start], first, sc)
		dst = append(dst, a.id)
		s = s[end:]
		first = false
	}
	return dst
}

func (t *Tokenizer) appendNormalized(dst []int64, s string, first bool, sc *scratch) []int64 {
	if s == "" {
		return dst
	}
	sc.norm, sc.tmp = t.seg.normalize(sc.norm[:0], sc.tmp, s)
	n := sc.norm
	for len(n) > 0 && len(t.normed) > 0 {
		i, a := findAdded(string(n), t.normed, &t.normFirst)
		if a == nil {
			break
		}
		start, end := i, i+len(a.content)
		if a.lstrip {
			start = len(bytes.TrimRightFunc(n[:start], unicode.IsSpace))
		}
		if a.rstrip {
			end = len(n) - len(bytes.TrimLeftFunc(n[end:], unicode.IsSpace))
		}
		if start > 0 {
			dst = t.seg.appendWords(dst, n[:start], first, sc)
		}
		dst = append(dst, a.id)
		n = n[end:]
		first = false
	}
	if len(n) == 0 {
		return dst
	}
	return t.seg.appendWords(dst, n, first, sc)
}

// findAdded finds the leftmost, then longest, token of toks (sorted longest
// first) in s, as HF's Aho-Corasick matcher does.
func findAdded(s string, toks []addedToken, first *[256]bool) (int, *addedToken) {
	if len(toks) == 0 {
		return -1, nil
	}
	for i := 0; i < len(s); i++ {
		if !first[s[i]] {
			continue
		}
		for k := range toks {
			if strings.HasPrefix(s[i:], toks[k].content) {
				return i, &toks[k]
			}
		}
	}
	return -1, nil
}

func (t *Tokenizer) getScratch() *scratch {
	if sc, ok := t.scratchers.Get().(*scratch); ok {
		return sc
	}
	return new(scratch)
}

// subwordHashVersion names the BPE and Unigram algorithms, as hashVersion
// does WordPiece's: change it whenever a change here can change some ids.
const subwordHashVersion = "autofreeze/text subword v1"

// subwordFingerprint is fingerprint for the BPE and Unigram families: the
// algorithm's version, the normalizer and pre-tokenizer settings as read, the
// special and added tokens, the layout, the vocabulary and the model's
// merges or scores.
func (t *Tokenizer) subwordFingerprint(vocab map[string]int32, tj *tokenizerJSON) string {
	h := sha256.New()
	p := t.seg.(*pipeline)
	norm, _ := json.Marshal(tj.Normalizer)
	pre, _ := json.Marshal(tj.PreTokenizer)
	fmt.Fprintf(h, "%s\n%s\nnormalizer %s\npre_tokenizer %s\nlayout %+v\n", subwordHashVersion, p.kind, norm, pre, t.layout)
	fmt.Fprintf(h, "cls=%d sep=%d pad=%d unk=%d mask=%d\n", t.special.CLS, t.special.SEP, t.special.PAD, t.special.UNK, t.special.Mask)
	for _, group := range [][]addedToken{t.raw, t.normed} {
		for _, a := range group {
			fmt.Fprintf(h, "added %d %q normalized=%t lstrip=%t rstrip=%t\n", a.id, a.content, a.normalized, a.lstrip, a.rstrip)
		}
	}
	switch m := p.model.(type) {
	case *bpe:
		fmt.Fprintf(h, "bpe prefix=%q suffix=%q unk=%d fuse_unk=%t byte_fallback=%t ignore_merges=%t\n", m.prefix, m.suffix, m.unk, m.fuseUnk, m.byteFallback, m.ignoreMerges)
		type merge struct {
			rank     uint32
			a, b, id int32
		}
		ms := make([]merge, 0, len(m.merges))
		for k, v := range m.merges {
			ms = append(ms, merge{v.rank, k[0], k[1], v.id})
		}
		slices.SortFunc(ms, func(x, y merge) int { return cmp.Compare(x.rank, y.rank) })
		for _, x := range ms {
			fmt.Fprintf(h, "merge %d %d %d %d\n", x.rank, x.a, x.b, x.id)
		}
	case *unigram:
		fmt.Fprintf(h, "unigram unk=%d byte_fallback=%t\n", m.unk, m.byteFallback)
		for i, s := range m.scores {
			fmt.Fprintf(h, "score %d %x\n", i, math.Float64bits(s))
		}
	}
	ids := make([]string, 0, len(vocab))
	for tok, id := range vocab {
		ids = append(ids, fmt.Sprintf("%d %q\n", id, tok))
	}
	slices.Sort(ids)
	for _, line := range ids {
		io.WriteString(h, line)
	}
	return hex.EncodeToString(h.Sum(nil))
}
