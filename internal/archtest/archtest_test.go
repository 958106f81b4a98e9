// Package archtest enforces the import rules between autofreeze's packages
// (README, "Layout"), so the architecture stays what the docs say.
package archtest

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/autofreeze/autofreeze/internal/testenv"
)

const module = "github.com/autofreeze/autofreeze"

type pkg struct {
	ImportPath string
	Deps       []string
	Imports    []string
	CgoFiles   []string
}

func listPackages(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = testenv.Root(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs[strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")] = p
	}
	return pkgs
}

func has(list []string, prefix string) bool {
	for _, d := range list {
		if d == prefix || strings.HasPrefix(d, prefix+"/") {
			return true
		}
	}
	return false
}

func TestImportRules(t *testing.T) {
	pkgs := listPackages(t)
	native := []string{"github.com/sugarme/gotch", "github.com/yalue/onnxruntime_go"}
	// Packages that must build and test without libtorch or ONNX Runtime.
	for _, name := range []string{"cachefmt", "freeze", "model", "probe", "text", "report", "plan", "frozen/export", "internal/atomicfile"} {
		p, ok := pkgs[name]
		if !ok {
			t.Errorf("package %s not found", name)
			continue
		}
		for _, n := range native {
			if has(p.Deps, n) {
				t.Errorf("%s depends on %s; it must stay free of native code", name, n)
			}
		}
	}
	// The two native sides meet only in run (and commands above it).
	if has(pkgs["trainable"].Deps, module+"/frozen") {
		t.Error("trainable imports frozen")
	}
	if has(pkgs["frozen"].Deps, module+"/trainable") {
		t.Error("frozen imports trainable")
	}
	// Nothing below cli imports it.
	for name, p := range pkgs {
		if name != "cli" && name != "cmd/autofreeze" && has(p.Imports, module+"/cli") {
			t.Errorf("%s imports cli", name)
		}
	}
	// gotch stays inside trainable; onnxruntime_go inside frozen.
	for name, p := range pkgs {
		if has(p.Imports, native[0]) && name != "trainable" {
			t.Errorf("%s imports gotch directly; only trainable may", name)
		}
		if has(p.Imports, native[1]) && name != "frozen" {
			t.Errorf("%s imports onnxruntime_go directly; only frozen may", name)
		}
	}
}

// TestOnlyCLIReadsTheEnvironment: configuration comes in through options
// structs; only the command line looks at environment variables.
func TestOnlyCLIReadsTheEnvironment(t *testing.T) {
	root := testenv.Root(t)
	for _, dir := range []string{"run", "trainable", "frozen", "cachefmt", "freeze", "model", "text", "precompute", "report", "bench", "plan", "distributed", "distributed/c10d"} {
		entries, err := os.ReadDir(root + "/" + dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
				continue
			}
			src, _ := os.ReadFile(root + "/" + dir + "/" + e.Name())
			if strings.Contains(string(src), "os.Getenv(") || strings.Contains(string(src), "os.LookupEnv(") {
				t.Errorf("%s/%s reads the environment; take an option instead", dir, e.Name())
			}
		}
	}
}
