package run

import (
	"errors"

	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/precompute"
)

func (r *trainRun) onnxEngine(rng model.Range, dir string) (precompute.Engine, func(), error) {
	return nil, nil, errors.New("onnx engine: not wired yet")
}
