package cli

import (
	"os"
	"path/filepath"

	ucli "github.com/urfave/cli/v2"
)

// ortLibFlag names the ONNX Runtime shared library.
func ortLibFlag() ucli.Flag {
	return &ucli.StringFlag{
		Name:    "ort-lib",
		Usage:   "ONNX Runtime shared library (default: what `make setup` installed)",
		EnvVars: []string{"ORT_LIB"},
	}
}

// ortLibPath resolves the ONNX Runtime library: --ort-lib or ORT_LIB, else
// the one `make setup` unpacked next to the binary's repository
// (bin/../.deps) or under the working directory or one of its parents,
// else the system's.
func ortLibPath(c *ucli.Context) string {
	if p := c.String("ort-lib"); p != "" {
		return p
	}
	const rel = ".deps/onnxruntime/lib/libonnxruntime.so.1"
	var candidates []string
	if d := os.Getenv("AUTOFREEZE_DEPS"); d != "" {
		candidates = append(candidates, filepath.Join(d, "onnxruntime/lib/libonnxruntime.so.1"))
	}
	if exe, err := os.Executable(); err == nil {
		candidates = append(candidates, filepath.Join(filepath.Dir(exe), "..", rel))
	}
	// The working directory and its parents (inside the repository).
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			candidates = append(candidates, filepath.Join(dir, rel))
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	for _, p := range candidates {
		if _, err := os.Stat(p); err == nil {
			abs, err := filepath.Abs(p)
			if err == nil {
				return abs
			}
			return p
		}
	}
	return "libonnxruntime.so"
}
