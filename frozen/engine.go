package frozen

import "github.com/autofreeze/autofreeze/text"

// Engine feeds a Runner padded text batches, the form in which the
// activation cache builder (package precompute) hands out its work: token
// ids when the exported range starts at the embeddings, else the hidden
// states in.
type Engine struct{ Runner *Runner }

// Run runs one batch; in is nil for a range that starts at layer 0.
func (e Engine) Run(b text.Batch, in []float32) ([]float32, error) {
	fb := Batch{Size: b.Size, SeqLen: b.SeqLen, Mask: b.Mask}
	if in == nil {
		fb.InputIDs, fb.TokenTypeIDs = b.IDs, b.TypeIDs
	} else {
		fb.Hidden = in
	}
	return e.Runner.Run(fb)
}
