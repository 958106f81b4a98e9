package frozen

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// ErrRuntime is wrapped by errors about loading ONNX Runtime itself.
var ErrRuntime = errors.New("ONNX Runtime unavailable")

// setupHint ends every ErrRuntime message.
const setupHint = "run `make setup` (it puts ONNX Runtime in .deps/onnxruntime) or set ORT_LIB to a libonnxruntime.so of version 1.24 or later"

var loaded struct {
	sync.Mutex
	path string // the library in use; "" until InitRuntime succeeds
}

// InitRuntime loads the ONNX Runtime shared library at libPath (1.24 or
// later, as onnxruntime_go v1.27 needs) and creates the process's one
// environment. Call it once before NewRunner; calling it again with the same
// library does nothing, and with another library fails: a process cannot
// switch. A missing or unloadable library gives an error wrapping
// ErrRuntime.
func InitRuntime(libPath string) error {
	if libPath == "" {
		return fmt.Errorf("%w: no library path given: %s", ErrRuntime, setupHint)
	}
	abs, err := filepath.Abs(libPath)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrRuntime, libPath, err)
	}
	if err := checkLibrary(abs); err != nil {
		return err
	}
	loaded.Lock()
	defer loaded.Unlock()
	if loaded.path != "" {
		if sameFile(loaded.path, abs) {
			return nil
		}
		return fmt.Errorf("%w: ONNX Runtime is already loaded from %s; a process cannot also load %s", ErrRuntime, loaded.path, abs)
	}
	ort.SetSharedLibraryPath(abs)
	if err := ort.InitializeEnvironment(ort.WithLogLevelFatal()); err != nil {
		return fmt.Errorf("%w: cannot initialise %s: %v; %s", ErrRuntime, abs, err, setupHint)
	}
	loaded.path = abs
	return nil
}

// checkLibrary catches the usual mistakes (no file, not a shared library,
// some other library) before dlopen, whose messages are terse, and whatever
// state the process is in.
func checkLibrary(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: %s does not exist: %s", ErrRuntime, path, setupHint)
		}
		return fmt.Errorf("%w: %v: %s", ErrRuntime, err, setupHint)
	}
	if st.IsDir() {
		return fmt.Errorf("%w: %s is a directory, not the library file: %s", ErrRuntime, path, setupHint)
	}
	if runtime.GOOS != "linux" {
		return nil // Mach-O and PE: leave it to the loader.
	}
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%w: %s is not a shared library (%v): %s", ErrRuntime, path, err, setupHint)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		return fmt.Errorf("%w: %s has no dynamic symbols (%v): %s", ErrRuntime, path, err, setupHint)
	}
	for _, s := range syms {
		if s.Name == "OrtGetApiBase" && s.Section != elf.SHN_UNDEF {
			return nil
		}
	}
	return fmt.Errorf("%w: %s is not ONNX Runtime (it does not define OrtGetApiBase): %s", ErrRuntime, path, setupHint)
}

func sameFile(a, b string) bool {
	if a == b {
		return true
	}
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// RuntimeVersion is the loaded ONNX Runtime's version, or "" before
// InitRuntime.
func RuntimeVersion() string {
	if !ort.IsInitialized() {
		return ""
	}
	return ort.GetVersion()
}
