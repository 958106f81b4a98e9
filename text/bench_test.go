package text

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// imdbLike returns review-sized texts: the IMDb reviews when setup has
// fetched them, else ~230-word pieces of the long review in sentences.txt
// with IMDb's <br /> tags.
func imdbLike(b *testing.B) []string {
	path := filepath.Join(repoRoot(b), ".deps", "data", "imdb", "train.jsonl")
	if _, err := os.Stat(path); err == nil {
		ds, err := LoadDataset(path, DatasetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		var texts []string
		for _, ex := range ds.Examples[:min(2000, len(ds.Examples))] {
			texts = append(texts, ex.Text)
		}
		return texts
	}
	lines := readLines(b, "sentences.txt")
	words := strings.Fields(lines[len(lines)-1])
	var texts []string
	for i := range 64 {
		var sb strings.Builder
		for j := range 230 {
			if j > 0 && j%60 == 0 {
				sb.WriteString("<br /><br />")
			}
			sb.WriteString(words[(i*37+j)%len(words)])
			sb.WriteByte(' ')
		}
		texts = append(texts, sb.String())
	}
	return texts
}

// BenchmarkEncode: go test ./text/ -run '^$' -bench Encode -benchmem
func BenchmarkEncode(b *testing.B) {
	tok, err := LoadTokenizer(modelDir(b))
	if err != nil {
		b.Fatal(err)
	}
	texts := imdbLike(b)
	tokens := 0
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		tokens += tok.Encode(texts[i%len(texts)], 512).Len()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "examples/s")
	b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkEncodeAll encodes a batch of reviews on every core.
func BenchmarkEncodeAll(b *testing.B) {
	tok, err := LoadTokenizer(modelDir(b))
	if err != nil {
		b.Fatal(err)
	}
	var examples []Example
	for i, t := range imdbLike(b) {
		examples = append(examples, Example{ID: i, Text: t})
	}
	n := 0
	for b.Loop() {
		n += len(EncodeAll(tok, examples, 512))
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "examples/s")
}
