package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/autofreeze/autofreeze/internal/testenv"
	"github.com/autofreeze/autofreeze/internal/tinymodel"
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/model/modeltest"
	"github.com/autofreeze/autofreeze/text"
)

// TestModelTypesAutoFreezeResume: on the small transformers fixture of
// every non-BERT model type (model/testdata/<type>; BERT itself is the tiny
// model of TestResumeAfterKill and TestTrainSIGINTResume), a run under
// AutoFreeze with the disk cache, filled by libtorch and by ONNX Runtime,
// that is stopped with SIGINT after its first freeze and resumed with
// --resume ends with the weights of a run that was never interrupted, bit
// for bit; its last checkpoint records frozen layers and a cache, and
// `predict` loads it.
func TestModelTypesAutoFreezeResume(t *testing.T) {
	for _, typ := range modeltest.Types {
		t.Run(typ, func(t *testing.T) {
			for _, engine := range []string{"torch", "onnx"} {
				t.Run(engine, func(t *testing.T) { testModelTypeResume(t, typ, engine) })
			}
		})
	}
}

func testModelTypeResume(t *testing.T, typ, engine string) {
	f := newFixture(t)
	f.model = modelTypeDir(t, filepath.Join(f.dir, typ), typ)
	extra := []string{"--epochs", "3", "--log-every", "1", "--freeze", "auto", "--freeze-intervals", "12",
		"--save-every", "5", "--cache", "disk", "--engine", engine}
	if engine == "onnx" {
		extra = append(extra, "--ort-lib", testenv.ORTLib(t))
		t.Setenv("TMPDIR", t.TempDir()) // the prefix's ONNX exports; the child inherits it
	}
	// 320 examples in batches of 16 for 3 epochs: 60 steps, a freeze
	// decision (and a checkpoint) every 5.
	const steps = 60
	args := func(out string) []string { return f.trainArgs(out, extra...) }

	whole := filepath.Join(f.dir, "whole")
	if code, _, stderr := cmd(t, args(whole)...); code != 0 {
		t.Fatalf("uninterrupted run exited %d: %s", code, stderr)
	}
	// AutoFreeze on two or three layers freezes once the first layer's
	// gradient changes less than the median; the runs are seeded, so the
	// uninterrupted run says where the stopped one will have frozen.
	moves := freezeSteps(t, whole)
	if len(moves) == 0 {
		t.Fatalf("the uninterrupted run froze nothing; the test does not cover resuming after a freeze")
	}
	var first int
	if _, err := fmt.Sscanf(moves[0], "step %d:", &first); err != nil {
		t.Fatalf("freeze move %q: %v", moves[0], err)
	}
	// Stop two steps after the first freeze, between freeze decisions: the
	// stop checkpoints that step, and --resume continues from it with the
	// frozen prefix and the cache built at the freeze (reopened, verified).
	stopAfter := first + 2
	if stopAfter > steps-10 {
		t.Fatalf("the first freeze (%v) comes too late to stop the run after it; moves %v", moves[0], moves)
	}

	stopped := filepath.Join(f.dir, "stopped")
	code, stderr := signalChild(t, args(stopped), nil, syscall.SIGINT, func() bool { return loggedStep(stopped) >= stopAfter })
	stoppedAt := regexp.MustCompile(`interrupted at step (\d+); .* holds the checkpoint of step (\d+)`)
	m := stoppedAt.FindStringSubmatch(stderr)
	if code != ExitSIGINT || m == nil {
		t.Fatalf("SIGINT: exit %d (want %d); stderr %s", code, ExitSIGINT, stderr)
	}
	if at, ckpt := atoi(m[1]), atoi(m[2]); at < first || ckpt < first {
		t.Fatalf("stopped at step %d with the checkpoint of step %d, not after the first freeze (%s)", at, ckpt, moves[0])
	}
	metrics, _ := os.ReadFile(filepath.Join(stopped, "metrics.jsonl"))
	if strings.Contains(string(metrics), `"type":"end"`) {
		t.Fatal("the run finished before the signal; the test proves nothing")
	}
	t.Logf("freeze moves %v; %s", moves, lastLine(stderr))

	if code, _, stderr := cmd(t, append(args(stopped), "--resume")...); code != 0 {
		t.Fatalf("resume exited %d: %s", code, stderr)
	}
	if from := resumedFrom(t, stopped); from != atoi(m[2]) {
		t.Fatalf("the resumed run started at step %d, not at the checkpoint of step %s", from, m[2])
	}
	if d, where := weightDiff(t, readWeights(t, whole), readWeights(t, stopped)); d != 0 {
		t.Fatalf("%s: the resumed run differs from the uninterrupted one by up to %g", where, d)
	}
	if got := freezeSteps(t, stopped); !slices.Equal(got, moves) {
		t.Errorf("the resumed run moved the freeze point at %v, the uninterrupted one at %v", got, moves)
	}
	// The last checkpoint trains from the cache of its frozen prefix, and
	// every cache was built by the engine asked for.
	data, err := os.ReadFile(filepath.Join(stopped, "checkpoints", "last", "trainer_state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Frozen int `json:"frozen_layers"`
		Cache  *struct {
			Dir string `json:"dir"`
			K   int    `json:"k"`
		} `json:"cache"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	if st.Frozen == 0 || st.Cache == nil || st.Cache.K != st.Frozen || !exists(filepath.Join(stopped, st.Cache.Dir)) {
		t.Errorf("the run froze nothing or trains from no cache of its frozen layers:\n%s", data)
	}
	for _, run := range []string{whole, stopped} {
		built, active := cacheRecords(t, run, engine)
		if built == 0 || active == 0 {
			t.Errorf("%s: %d caches built by %s, %d made active; want some of each", filepath.Base(run), built, engine, active)
		}
	}

	preds := filepath.Join(f.dir, "preds.jsonl")
	code, _, stderr = cmd(t, "predict", "--model", filepath.Join(stopped, "checkpoints", "last"), "--data", f.eval,
		"--output", preds, "--threads", "1")
	if code != 0 {
		t.Fatalf("predict on the resumed run's checkpoint exited %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(readFile(t, preds)), "\n")
	if len(lines) != 32 || !strings.Contains(lines[0], `"probabilities"`) {
		t.Fatalf("predictions: %d lines, first %q", len(lines), lines[0])
	}
}

// resumedFrom is the step of the (one) resume record in a run's log.
func resumedFrom(t *testing.T, run string) int {
	t.Helper()
	step := -1
	for _, line := range strings.Split(strings.TrimSpace(readFile(t, filepath.Join(run, "metrics.jsonl"))), "\n") {
		var rec struct {
			Type string
			Step int
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Type == "resume" {
			if step >= 0 {
				t.Fatalf("%s resumed twice", run)
			}
			step = rec.Step
		}
	}
	return step
}

// cacheRecords counts the caches a run's metrics.jsonl says engine built,
// and those it made active; a cache built by another engine fails the test.
func cacheRecords(t *testing.T, run, engine string) (built, active int) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(readFile(t, filepath.Join(run, "metrics.jsonl"))), "\n") {
		var rec struct{ Type, Event, Engine string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		switch {
		case rec.Type != "cache":
		case rec.Event == "built" && rec.Engine != engine:
			t.Errorf("%s: a cache built by %q, not %q: %s", filepath.Base(run), rec.Engine, engine, line)
		case rec.Event == "built":
			built++
		case rec.Event == "active":
			active++
		}
	}
	return built, active
}

// modelTypeDir assembles a model directory of type typ in dir: the
// fixture's config.json and weights (model/testdata/<typ>, made by
// transformers) and a tokenizer for the toy data of tinymodel.
//
// The fixtures come without a tokenizer, and the tokenizer fixtures of
// text/testdata (4,000 ids) do not fit their embeddings (120 rows; 250 for
// XLM-RoBERTa), so the tokenizer is made here, of the family that goes
// with the type, over the toy vocabulary:
//   - DistilBERT, ELECTRA: WordPiece, tinymodel's vocab.txt (40 ids,
//     [PAD] = 0 = the fixtures' pad_token_id);
//   - RoBERTa: a byte-level BPE tokenizer.json (bpeTokenizerJSON);
//   - XLM-RoBERTa: a Unigram tokenizer.json (unigramTokenizerJSON).
//
// It checks that every id fits the embedding, that the pad id is the
// config's, and that the toy words tokenize without <unk>.
func modelTypeDir(t *testing.T, dir, typ string) string {
	t.Helper()
	src := modeltest.Dir(t, typ)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{model.ConfigFile, model.SafetensorsFile, model.TorchBinFile} {
		data, err := os.ReadFile(filepath.Join(src, name))
		if errors.Is(err, fs.ErrNotExist) && name != model.ConfigFile {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var tokFile string
	var tokData []byte
	switch typ {
	case model.TypeDistilBERT, model.TypeELECTRA:
		tokFile, tokData = "vocab.txt", []byte(strings.Join(tinymodel.Vocab(), "\n")+"\n")
	case model.TypeRoBERTa:
		tokFile, tokData = "tokenizer.json", bpeTokenizerJSON(t)
	case model.TypeXLMRoBERTa:
		tokFile, tokData = "tokenizer.json", unigramTokenizerJSON(t)
	default:
		t.Fatalf("no tokenizer for model type %q", typ)
	}
	if err := os.WriteFile(filepath.Join(dir, tokFile), tokData, 0o644); err != nil {
		t.Fatal(err)
	}

	cfg, err := model.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := text.LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.CheckVocabSize(cfg.VocabSize); err != nil {
		t.Fatal(err)
	}
	if sp := tok.Special(); sp.PAD != int64(cfg.PadTokenID) {
		t.Fatalf("the tokenizer pads with id %d, the %s fixture's pad_token_id is %d", sp.PAD, typ, cfg.PadTokenID)
	}
	words := toyWords()
	enc := tok.Encode(strings.Join(words, " ")+".", 0)
	if len(enc.IDs) != len(words)+3 || slices.Contains(enc.IDs, tok.Special().UNK) {
		t.Fatalf("the %s tokenizer splits the toy words into %v, want one token each, the period and the two special tokens",
			typ, tok.Tokens(enc.IDs))
	}
	return dir
}

// toyWords are the words of tinymodel's reviews.
func toyWords() []string {
	return slices.Concat(tinymodel.Positive, tinymodel.Negative, tinymodel.Neutral)
}

// toyLetters are the letters of the toy words, sorted.
func toyLetters() []string {
	var letters []string
	for _, w := range toyWords() {
		for _, r := range w {
			if !slices.Contains(letters, string(r)) {
				letters = append(letters, string(r))
			}
		}
	}
	slices.Sort(letters)
	return letters
}

// bpeTokenizerJSON is a RoBERTa-style byte-level BPE tokenizer.json laid
// out as text/testdata/roberta_bpe's (same specials and ids, ByteLevel
// pre-tokenizer, RobertaProcessing), with a vocabulary of the toy words'
// characters and merges that build each toy word after a space ("Ġ",
// "Ġg", "Ġgo", ... "Ġgood"): 114 ids, within the fixture's 120.
// add_prefix_space is on (an option RoBERTa tokenizers have), so a
// review's first word is "Ġ"-prefixed too and gets the same single token;
// other text falls back to letters, or <unk>.
func bpeTokenizerJSON(t *testing.T) []byte {
	t.Helper()
	specials := []string{"<s>", "<pad>", "</s>", "<unk>", "<mask>"}
	vocab := map[string]int{}
	add := func(tok string) {
		if _, ok := vocab[tok]; !ok {
			vocab[tok] = len(vocab)
		}
	}
	for _, s := range specials {
		add(s)
	}
	for _, s := range append([]string{"Ġ", ".", ",", "!"}, toyLetters()...) {
		add(s)
	}
	var merges [][2]string
	for _, w := range toyWords() {
		sym := "Ġ"
		for _, r := range w {
			if _, ok := vocab[sym+string(r)]; !ok {
				merges = append(merges, [2]string{sym, string(r)})
				add(sym + string(r))
			}
			sym += string(r)
		}
	}
	var added []map[string]any
	for i, s := range specials {
		added = append(added, map[string]any{"id": i, "content": s, "single_word": false, "lstrip": s == "<mask>",
			"rstrip": false, "normalized": false, "special": true})
	}
	byteLevel := map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true}
	return mustJSON(t, map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": added,
		"normalizer": nil, "pre_tokenizer": byteLevel, "decoder": byteLevel,
		"post_processor": map[string]any{"type": "RobertaProcessing", "sep": []any{"</s>", 2}, "cls": []any{"<s>", 0},
			"trim_offsets": true, "add_prefix_space": true},
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": "<unk>", "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
			"vocab": vocab, "merges": merges},
	})
}

// unigramTokenizerJSON is an XLM-RoBERTa-style Unigram tokenizer.json laid
// out as text/testdata/xlmr_unigram's (<s> <pad> </s> <unk> first, <mask>
// last, Metaspace pre-tokenizer, the <s> A </s> template), with a piece
// "▁word" for every toy word, and the letters and punctuation at lower
// scores: 55 ids, within the fixture's 250. It leaves out the
// sentencepiece Precompiled normalizer (NFKC-like; a no-op on the ASCII
// toy data).
func unigramTokenizerJSON(t *testing.T) []byte {
	t.Helper()
	pieces := [][2]any{{"<s>", 0.0}, {"<pad>", 0.0}, {"</s>", 0.0}, {"<unk>", 0.0}}
	for _, w := range toyWords() {
		pieces = append(pieces, [2]any{"▁" + w, -2.0})
	}
	for _, p := range []string{".", ",", "!"} {
		pieces = append(pieces, [2]any{p, -3.0})
	}
	pieces = append(pieces, [2]any{"▁", -4.0})
	for _, l := range toyLetters() {
		pieces = append(pieces, [2]any{l, -5.0})
	}
	pieces = append(pieces, [2]any{"<mask>", 0.0})
	var added []map[string]any
	for i, s := range []string{"<s>", "<pad>", "</s>", "<unk>"} {
		added = append(added, map[string]any{"id": i, "content": s, "single_word": false, "lstrip": false,
			"rstrip": false, "normalized": false, "special": true})
	}
	added = append(added, map[string]any{"id": len(pieces) - 1, "content": "<mask>", "single_word": false, "lstrip": true,
		"rstrip": false, "normalized": false, "special": true})
	metaspace := map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true}
	special := func(id string) map[string]any {
		return map[string]any{"SpecialToken": map[string]any{"id": id, "type_id": 0}}
	}
	seq := func(id string) map[string]any {
		return map[string]any{"Sequence": map[string]any{"id": id, "type_id": 0}}
	}
	return mustJSON(t, map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": added,
		"normalizer": nil, "pre_tokenizer": metaspace, "decoder": metaspace,
		"post_processor": map[string]any{"type": "TemplateProcessing",
			"single": []any{special("<s>"), seq("A"), special("</s>")},
			"pair":   []any{special("<s>"), seq("A"), special("</s>"), special("</s>"), seq("B"), special("</s>")},
			"special_tokens": map[string]any{
				"<s>":  map[string]any{"id": "<s>", "ids": []int{0}, "tokens": []string{"<s>"}},
				"</s>": map[string]any{"id": "</s>", "ids": []int{2}, "tokens": []string{"</s>"}},
			}},
		"model": map[string]any{"type": "Unigram", "unk_id": 3, "byte_fallback": false, "vocab": pieces},
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
