package trainable

import (
	"runtime"

	lib "github.com/sugarme/gotch/libtch"
)

// GotchVersion is the gotch release this package is built and tested
// against (with autofreeze's patches, scripts/gotch).
const GotchVersion = "v0.9.1"

// LibtorchVersion is the version of the libtorch gotch was built with.
func LibtorchVersion() string { return lib.TorchVersion() }

// SetThreads sets the number of threads libtorch uses inside one op; n <= 0
// leaves libtorch's default (the number of cores).
func SetThreads(n int) {
	if n > 0 {
		lib.AtSetNumThreads(n)
	}
}

// Threads is the number of threads libtorch uses inside one op.
func Threads() int { return lib.AtGetNumThreads() }

// Seed seeds libtorch's random generators (dropout), so that the same seed
// gives the same run.
func Seed(seed int64) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	lib.AtManualSeed(seed)
}
