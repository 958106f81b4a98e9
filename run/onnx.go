package run

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/autofreeze/autofreeze/frozen"
	"github.com/autofreeze/autofreeze/frozen/export"
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/precompute"
)

// onnxEngine exports layers rng of the live weights w to
// RUN/onnx/layers-A-B.onnx and opens an ONNX Runtime session on it; the
// file is removed when the engine closes.
func (r *trainRun) onnxEngine(rng model.Range, w map[string]*model.Tensor) (precompute.Engine, func(), error) {
	if err := frozen.InitRuntime(r.cfg.ORTLib); err != nil {
		return nil, nil, err
	}
	dir := filepath.Join(r.cfg.Out, "onnx")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	path := filepath.Join(dir, fmt.Sprintf("layers-%d-%d.onnx", rng.Start, rng.End))
	provider, err := frozen.ParseProvider(r.cfg.Provider)
	if err != nil {
		return nil, nil, err
	}
	runner, err := frozen.ExportAndOpen(path, r.mcfg, w, export.ExportOptions{Range: rng, Fused: r.cfg.Fused},
		frozen.RunnerOptions{Provider: provider, IntraOpThreads: r.cfg.Threads, Logger: r.log})
	if err != nil {
		return nil, nil, err
	}
	// The export is only the means to fill the cache: drop it afterwards.
	return frozen.Engine{Runner: runner}, func() { runner.Close(); os.Remove(path) }, nil
}
