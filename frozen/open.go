package frozen

import (
	"github.com/autofreeze/autofreeze/frozen/export"
	"github.com/autofreeze/autofreeze/model"
)

// ExportAndOpen exports layers eopts.Range of the encoder with the given
// weights to path and opens a runner on it: what the training run does when
// the freeze point moves, and what a parity test against another forward
// pass needs.
func ExportAndOpen(path string, cfg *model.Config, tensors map[string]*model.Tensor, eopts export.ExportOptions, ropts RunnerOptions) (*Runner, error) {
	m, err := export.Export(cfg, tensors, eopts)
	if err != nil {
		return nil, err
	}
	if err := export.WriteModel(path, m); err != nil {
		return nil, err
	}
	return NewRunner(path, ropts)
}
