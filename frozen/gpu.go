package frozen

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// ONNX Runtime's CUDA and TensorRT providers are shared libraries that ONNX
// Runtime loads from its own directory when a session asks for them. They
// carry no RPATH, so the CUDA, cuDNN and TensorRT libraries they need must
// already be loaded or on the loader's path. The CUDA variant of the setup
// (GPU=1 make setup, docs/GPU.md) puts them, or links to libtorch's copies,
// beside libonnxruntime.so; preloadGPULibraries loads them from there, in
// dependency order, the first time a GPU provider is asked for. Linking to
// libtorch's copies matters: a library loaded twice from two files would
// be two CUDA runtimes in one process.

// gpuLibraries are the libraries the providers need, in load order; any
// that is not beside the ONNX Runtime library is left to the loader.
var gpuLibraries = map[Provider][]string{
	CUDA: {"libcudart.so.12", "libcublasLt.so.12", "libcublas.so.12", "libcurand.so.10", "libcufft.so.11",
		"libnvrtc.so.12", "libcudnn.so.9"},
	TensorRT: {"libnvinfer.so.10", "libnvinfer_plugin.so.10", "libnvonnxparser.so.10"},
}

// providerLibrary is the provider's own library, which ONNX Runtime loads.
var providerLibrary = map[Provider]string{
	CUDA:     "libonnxruntime_providers_cuda.so",
	TensorRT: "libonnxruntime_providers_tensorrt.so",
}

var preloaded struct {
	sync.Mutex
	done map[Provider]error
}

// checkGPUProvider says, before ONNX Runtime tries, what is missing for
// provider p: its library beside the loaded ONNX Runtime (a CPU-only
// build), or for TensorRT, TensorRT itself. Then it preloads the libraries
// found beside ONNX Runtime. The error is the whole explanation; ONNX
// Runtime's own, when it still fails, comes later.
func checkGPUProvider(p Provider) error {
	preloaded.Lock()
	defer preloaded.Unlock()
	if err, ok := preloaded.done[p]; ok {
		return err
	}
	err := preloadProvider(p, filepath.Dir(loadedPath()))
	if preloaded.done == nil {
		preloaded.done = map[Provider]error{}
	}
	preloaded.done[p] = err
	return err
}

func preloadProvider(p Provider, dir string) error {
	needs := []Provider{CUDA} // TensorRT runs the nodes it cannot take on CUDA
	if p == TensorRT {
		needs = append(needs, TensorRT)
	}
	for _, q := range needs {
		lib := filepath.Join(dir, providerLibrary[q])
		if _, err := os.Stat(lib); err != nil {
			return fmt.Errorf("the ONNX Runtime library in %s has no %s provider (%s is not there): it is a CPU-only build; "+
				"build the CUDA variant (GPU=1 make setup, then run with AUTOFREEZE_DEPS=.deps-gpu) or set ORT_LIB to a GPU build of ONNX Runtime",
				dir, q, providerLibrary[q])
		}
	}
	for _, q := range needs {
		for _, name := range gpuLibraries[q] {
			path := filepath.Join(dir, name)
			if _, err := os.Stat(path); err != nil {
				// Not beside ONNX Runtime: TensorRT may still be on the
				// loader's path (LD_LIBRARY_PATH, a system install).
				if q == TensorRT && name == "libnvinfer.so.10" && dlopen(name) != "" {
					return fmt.Errorf("TensorRT 10 (libnvinfer.so.10) is neither beside the ONNX Runtime library in %s nor on the loader's path: "+
						"install TensorRT 10 for CUDA 12 and rerun `GPU=1 TENSORRT_LIBS=DIR make setup` (DIR holding libnvinfer.so.10), set ORT_LIB to an ONNX Runtime with TensorRT beside it, or use --provider cuda", dir)
				}
				continue
			}
			if msg := dlopen(path); msg != "" {
				return fmt.Errorf("loading %s for the %s provider: %s", path, q, msg)
			}
		}
	}
	return nil
}
