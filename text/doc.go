// Package text turns datasets into BERT inputs: it reads CSV, TSV, JSON
// Lines and Parquet files into examples, tokenizes them exactly as Hugging Face's
// tokenizers library does, and fixes the order in which training visits them.
//
// The tokenizers are written here, in pure Go, because the model's weights
// were trained on Hugging Face's token ids: a tokenizer that differs on one
// accent or emoji quietly feeds the model text it never saw. Three kinds are
// read from tokenizer.json: WordPiece (BERT, DistilBERT, MiniLM, ELECTRA),
// byte-level BPE (RoBERTa) and Unigram with sentencepiece's Precompiled
// normalizer (XLM-RoBERTa); anything else is refused, naming the file and
// field. testdata/ holds ids made by the PyPI tokenizers package
// (scripts/make_token_fixture.py, scripts/make_tokenizer_fixtures.py), and
// the tests compare every one of them, and the normalizers and character
// classes on every Unicode code point.
//
// Everything here is deterministic, because the activation cache stores
// results keyed by it: Tokenizer.Hash fingerprints the vocabulary and
// settings, Example.ID names a row of the file, and EpochOrder gives the
// same permutation on every run and Go version.
//
// Dataset files: CSV (RFC 4180 quoting), TSV (no quoting: fields hold no tabs
// or line breaks), JSON Lines (one object per line; labels are strings or
// integers) and Parquet (top-level string columns, string or integer labels,
// read one row group at a time with github.com/parquet-go/parquet-go; a file
// it cannot read wraps ErrCorruptParquet). Columns are found by header name ("text", "label", and
// optionally a text-pair column), or by 0-based index with NoHeader. A
// malformed row stops the load with a *RowError "FILE:LINE: what is wrong and
// what to do", unless SkipBadRows is set; then it is counted and reported.
package text
