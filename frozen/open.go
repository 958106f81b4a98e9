package frozen

import (
	"fmt"
	"os"
	"path/filepath"

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

// ExportTemp is ExportAndOpen into a private temporary directory under
// TempRoot, for an export that is only the means to run the layers
// (filling an activation cache): close closes the runner and removes the
// export. Processes that share a directory never touch each other's
// exports, and exports of killed processes are swept by the next one
// (SweepTemp).
func ExportTemp(cfg *model.Config, tensors map[string]*model.Tensor, eopts export.ExportOptions, ropts RunnerOptions) (r *Runner, close func(), err error) {
	dir, lock, err := newExportDir()
	if err != nil {
		return nil, nil, err
	}
	remove := func() {
		os.RemoveAll(dir)
		lock.Release()
	}
	path := filepath.Join(dir, fmt.Sprintf("layers-%d-%d.onnx", eopts.Range.Start, eopts.Range.End))
	r, err = ExportAndOpen(path, cfg, tensors, eopts, ropts)
	if err != nil {
		remove()
		return nil, nil, err
	}
	return r, func() { r.Close(); remove() }, nil
}
