package text

import (
	"strings"
	"testing"
)

// TestTokenIDBeyondVocabSizeRefused: a tokenizer that maps a word to an id
// past the model's embedding (a tokenizer.json of another model: "word" ->
// 50000 on a 30522-row embedding) is refused when the two meet, naming the
// file, the token, its id and vocab_size, instead of failing in libtorch or
// ONNX Runtime on the first text that uses the token.
func TestTokenIDBeyondVocabSizeRefused(t *testing.T) {
	dir := writeFiles(t, map[string]string{"tokenizer.json": `{"added_tokens": [],
 "normalizer": {"type": "BertNormalizer", "lowercase": true},
 "pre_tokenizer": {"type": "BertPreTokenizer"},
 "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
 "model": {"type": "WordPiece", "unk_token": "[UNK]",
  "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "the": 4, "word": 500}}}`})
	tok, err := LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tok.MaxID() != 500 {
		t.Errorf("MaxID %d, want 500", tok.MaxID())
	}
	err = tok.CheckVocabSize(40)
	if err == nil {
		t.Fatal("a token id past vocab_size was accepted")
	}
	for _, want := range []string{"tokenizer.json", `"word"`, "id 500", "vocab_size 40"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if err := tok.CheckVocabSize(501); err != nil {
		t.Errorf("every id has a row: %v", err)
	}
	// A vocab.txt's special tokens count too: they are its own lines.
	small := tinyTokenizer(t, Config{})
	if small.MaxID() != int64(len(tinyVocab)-1) || small.CheckVocabSize(len(tinyVocab)) != nil || small.CheckVocabSize(len(tinyVocab)-1) == nil {
		t.Errorf("vocab.txt: MaxID %d of %d lines", small.MaxID(), len(tinyVocab))
	}
}

// TestSplitCountsSkippedRowsOnce: holding out part of a training file
// with --skip-bad-rows reports its bad rows once (with the training part),
// not once per part.
func TestSplitCountsSkippedRowsOnce(t *testing.T) {
	var b strings.Builder
	b.WriteString("text,label\n")
	for i := range 20 {
		if i == 7 {
			b.WriteString(",neg\n") // empty text: skipped
			continue
		}
		b.WriteString("a text,pos\n")
	}
	ds, err := load(t, "a.csv", b.String(), DatasetOptions{SkipBadRows: true})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Skipped != 1 {
		t.Fatalf("skipped %d, want 1", ds.Skipped)
	}
	train, eval, err := Split(ds, 0.25, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := train.Skipped + eval.Skipped; got != 1 || len(train.SkippedRows)+len(eval.SkippedRows) != 1 {
		t.Errorf("the one bad row is counted %d times (train %d, eval %d)", got, train.Skipped, eval.Skipped)
	}
}
