package cli

import (
	"github.com/autofreeze/autofreeze/frozen"
	"github.com/autofreeze/autofreeze/frozen/export"
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/text"
)

// onnxEngine exports the whole encoder to a temporary ONNX file and runs it
// on ONNX Runtime.
func onnxEngine(cfg *model.Config, opts encodeOptions) (hiddenFunc, func(), error) {
	if err := frozen.InitRuntime(opts.ORTLib); err != nil {
		return nil, nil, err
	}
	w, err := model.LoadWeights(opts.ModelDir, cfg)
	if err != nil {
		return nil, nil, usageError(err)
	}
	runner, closeRunner, err := frozen.ExportTemp(cfg, w.Tensors, export.ExportOptions{}, frozen.RunnerOptions{IntraOpThreads: opts.Threads})
	if err != nil {
		return nil, nil, err
	}
	run := func(b text.Batch) ([]float32, error) {
		return runner.Run(frozen.Batch{Size: b.Size, SeqLen: b.SeqLen, InputIDs: b.IDs, TokenTypeIDs: b.TypeIDs, Mask: b.Mask})
	}
	return run, closeRunner, nil
}

// ortVersion loads the ONNX Runtime library and returns its version.
func ortVersion(lib string) (string, error) {
	if err := frozen.InitRuntime(lib); err != nil {
		return "", err
	}
	return frozen.RuntimeVersion(), nil
}
