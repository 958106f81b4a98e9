package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	ucli "github.com/urfave/cli/v2"

	"github.com/autofreeze/autofreeze/cachefmt"
	"github.com/autofreeze/autofreeze/internal/testenv"
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/run"
)

// commandPaths lists every command and subcommand of the app, as the words
// that name it ("cache build"), with whether it has required flags.
func commandPaths() (paths [][]string, required map[string]bool) {
	required = map[string]bool{}
	var walk func(prefix []string, cmds []*ucli.Command)
	walk = func(prefix []string, cmds []*ucli.Command) {
		for _, c := range cmds {
			p := append(slices.Clone(prefix), c.Name)
			paths = append(paths, p)
			for _, f := range c.Flags {
				if rf, ok := f.(ucli.RequiredFlag); ok && rf.IsRequired() {
					required[strings.Join(p, " ")] = true
				}
			}
			walk(p, c.Subcommands)
		}
	}
	walk(nil, newApp(io.Discard, io.Discard).Commands)
	return paths, required
}

// TestUsageErrorsExit2EverySubcommand: a flag no command knows, and a
// missing required flag, exit 2 (usage error) on every command and
// subcommand. Subcommands used to exit 1: only top-level commands had the
// usage-error hook, and urfave/cli's missing-flags error was unmapped.
func TestUsageErrorsExit2EverySubcommand(t *testing.T) {
	paths, required := commandPaths()
	if len(paths) < 15 {
		t.Fatalf("found only %d commands: %v", len(paths), paths)
	}
	for _, p := range paths {
		name := strings.Join(p, " ")
		t.Run(name+" --bogus", func(t *testing.T) {
			code, _, stderr := cmd(t, append(slices.Clone(p), "--bogus")...)
			if code != ExitUsage || !strings.Contains(stderr, "bogus") {
				t.Fatalf("exit %d (want %d), stderr %q", code, ExitUsage, stderr)
			}
		})
		if required[name] {
			t.Run(name+" without its required flags", func(t *testing.T) {
				code, _, stderr := cmd(t, p...)
				if code != ExitUsage || !strings.Contains(stderr, "Required flag") {
					t.Fatalf("exit %d (want %d), stderr %q", code, ExitUsage, stderr)
				}
			})
		}
	}
	for _, args := range [][]string{{"plan", "profile", "--steps", "x"}, {"cache", "build", "--max-length", "x"}} {
		if code, _, stderr := cmd(t, args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d: %s", args, code, ExitUsage, stderr)
		}
	}
}

// TestFullDiskWhileCheckpointingExits1: a full disk is an I/O failure
// (exit 1), even though train marks the *os.PathError of a file it cannot
// read as bad input (it used to exit 2, "bad flag or bad input").
func TestFullDiskWhileCheckpointingExits1(t *testing.T) {
	full := fmt.Errorf("saving checkpoint at step 3: %w", &os.PathError{Op: "write", Path: "runs/x/checkpoints/.step-3.partial/model.safetensors", Err: syscall.ENOSPC})
	for _, err := range []error{full, usageError(full), &exitError{code: ExitUsage, err: fmt.Errorf("%w: %w", run.ErrInput, full)}} {
		if code := exitCode(err); code != ExitFailure {
			t.Errorf("%v: exit %d, want %d", err, code, ExitFailure)
		}
	}
	quota := &os.PathError{Op: "write", Path: "f", Err: syscall.EDQUOT}
	if code := exitCode(usageError(quota)); code != ExitFailure {
		t.Errorf("over quota: exit %d, want %d", code, ExitFailure)
	}
	// What stays bad input: a file that is not there.
	if code := exitCode(usageError(&os.PathError{Op: "open", Path: "f", Err: syscall.ENOENT})); code != ExitUsage {
		t.Errorf("missing file: exit %d, want %d", code, ExitUsage)
	}
}

// TestExitTablePrecedence: the one table keeps the precedence the three
// init functions had.
func TestExitTablePrecedence(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
	}{
		{nil, ExitOK},
		{errors.New("anything"), ExitFailure},
		{fmt.Errorf("x: %w", model.ErrCorrupt), ExitUsage},
		{fmt.Errorf("%w and %w", cachefmt.ErrCorrupt, cachefmt.ErrStale), ExitStale},
		{fmt.Errorf("x: %w", cachefmt.ErrMissing), ExitCorrupt},
		{fmt.Errorf("x: %w", run.ErrInput), ExitUsage},
		{fmt.Errorf("x: %w", run.ErrResize), 75},
		{&interruptedError{sig: syscall.SIGINT, err: usageError(errors.New("x"))}, ExitSIGINT},
		{&interruptedError{sig: syscall.SIGTERM, err: errors.New("x")}, ExitSIGTERM},
	} {
		if got := exitCode(tc.err); got != tc.code {
			t.Errorf("%v: exit %d, want %d", tc.err, got, tc.code)
		}
	}
}

// TestExportOutputDirExits2: --output naming a directory is a bad flag
// (it used to exit 1 from the rename).
func TestExportOutputDirExits2(t *testing.T) {
	f := newFixture(t)
	code, _, stderr := cmd(t, "export", "--model", f.model, "--layers", "0:1", "--output", f.dir)
	if code != ExitUsage || !strings.Contains(stderr, "is a directory") {
		t.Fatalf("exit %d (want %d): %s", code, ExitUsage, stderr)
	}
	code, _, stderr = cmd(t, "export", "--model", f.model, "--layers", "0:1", "--output", filepath.Join(f.dir, "no", "such", "x.onnx"))
	if code != ExitUsage || !strings.Contains(stderr, "does not exist") {
		t.Fatalf("output in a missing directory: exit %d (want %d): %s", code, ExitUsage, stderr)
	}
}

// TestCacheVerifyFileExits2: a file where the cache directory belongs is a
// usage error (it used to exit 1), as is a directory that does not exist.
func TestCacheVerifyFileExits2(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"verify", "describe"} {
		code, _, stderr := cmd(t, "cache", sub, file)
		if code != ExitUsage || !strings.Contains(stderr, "not a cache directory") {
			t.Errorf("cache %s FILE: exit %d (want %d): %s", sub, code, ExitUsage, stderr)
		}
		code, _, stderr = cmd(t, "cache", sub, file+"-missing")
		if code != ExitUsage || !strings.Contains(stderr, "does not exist") {
			t.Errorf("cache %s MISSING: exit %d (want %d): %s", sub, code, ExitUsage, stderr)
		}
	}
	// An existing directory without a manifest stays a corrupt cache.
	if code, _, stderr := cmd(t, "cache", "verify", t.TempDir()); code != ExitCorrupt {
		t.Errorf("cache verify of an empty directory: exit %d (want %d): %s", code, ExitCorrupt, stderr)
	}
}

// TestExitStatusTableMatchesREADME: README.md's "Exit status" line, the
// EXIT STATUS section of --help and the table in code list the same codes
// in the same order.
func TestExitStatusTableMatchesREADME(t *testing.T) {
	var want []int
	for _, e := range exitCodeHelp {
		want = append(want, e.code)
	}
	readme, err := os.ReadFile(filepath.Join(testenv.Root(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	// The paragraph that starts "Exit status:", up to its blank line.
	_, after, ok := strings.Cut(string(readme), "\nExit status:")
	if !ok {
		t.Fatal(`README.md has no paragraph starting "Exit status:"`)
	}
	para, _, _ := strings.Cut(after, "\n\n")
	para = strings.Join(strings.Fields(para), " ")
	var inREADME []int
	for _, m := range regexp.MustCompile(`(?:^|, )(\d+) `).FindAllStringSubmatch(para, -1) {
		n, _ := strconv.Atoi(m[1])
		inREADME = append(inREADME, n)
	}
	if !slices.Equal(inREADME, want) {
		t.Errorf("README.md lists exit statuses %v, the code %v:\n%s", inREADME, want, para)
	}

	code, stdout, _ := cmd(t, "--help")
	if code != ExitOK {
		t.Fatalf("--help exited %d", code)
	}
	_, section, ok := strings.Cut(stdout, "EXIT STATUS:\n")
	if !ok {
		t.Fatalf("--help has no EXIT STATUS section:\n%s", stdout)
	}
	var inHelp []int
	for _, line := range strings.Split(section, "\n") {
		if f := strings.Fields(line); len(f) > 1 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				inHelp = append(inHelp, n)
			}
		}
	}
	if !slices.Equal(inHelp, want) {
		t.Errorf("--help lists exit statuses %v, the code %v", inHelp, want)
	}
}
