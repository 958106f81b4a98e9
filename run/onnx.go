package run

import (
	"github.com/autofreeze/autofreeze/frozen"
	"github.com/autofreeze/autofreeze/frozen/export"
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/precompute"
)

// onnxEngine exports layers rng of the live weights w to a temporary ONNX
// file and opens an ONNX Runtime session on it; closing removes the file.
func (r *trainRun) onnxEngine(rng model.Range, w map[string]*model.Tensor) (precompute.Engine, func(), error) {
	if err := r.context().Err(); err != nil { // stopping: no export to write and remove
		return nil, nil, err
	}
	if err := frozen.InitRuntime(r.cfg.ORTLib); err != nil {
		return nil, nil, err
	}
	provider, err := frozen.ParseProvider(r.cfg.Provider)
	if err != nil {
		return nil, nil, err
	}
	runner, closeRunner, err := frozen.ExportTemp(r.mcfg, w, export.ExportOptions{Range: rng, Fused: r.cfg.Fused, Int8: r.cfg.Int8},
		frozen.RunnerOptions{Provider: provider, IntraOpThreads: r.cfg.Threads, Logger: r.log})
	if err != nil {
		return nil, nil, err
	}
	return frozen.Engine{Runner: runner}, closeRunner, nil
}
