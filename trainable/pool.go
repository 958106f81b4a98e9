package trainable

import "github.com/autofreeze/autofreeze/text"

// MeanPool averages one row of a batch's hidden states ([b.Size, b.SeqLen,
// h], as Hidden returns them) over the row's real tokens (mask 1): the
// sentence embedding that sentence-transformers models such as
// all-MiniLM-L6-v2 are trained for.
func MeanPool(hidden []float32, b text.Batch, row, h int) []float32 {
	mean := make([]float32, h)
	n := 0
	for t := 0; t < b.SeqLen; t++ {
		if b.Mask[row*b.SeqLen+t] == 0 {
			continue
		}
		n++
		for k, v := range hidden[(row*b.SeqLen+t)*h : (row*b.SeqLen+t+1)*h] {
			mean[k] += v
		}
	}
	for k := range mean {
		mean[k] /= float32(max(n, 1))
	}
	return mean
}
