package cli

import (
	"errors"
	"fmt"
	"reflect"
	"syscall"

	ucli "github.com/urfave/cli/v2"

	"github.com/autofreeze/autofreeze/cachefmt"
	"github.com/autofreeze/autofreeze/distributed"
	"github.com/autofreeze/autofreeze/frozen"
	"github.com/autofreeze/autofreeze/internal/dirlock"
	"github.com/autofreeze/autofreeze/model"
	"github.com/autofreeze/autofreeze/run"
	"github.com/autofreeze/autofreeze/text"
)

// Exit codes, the contract with batch scripts. They are listed in the help
// text (EXIT STATUS) and in README.md ("Exit status") from exitCodeHelp; a
// test checks that the three agree.
const (
	ExitOK = 0
	// ExitFailure: anything else, including I/O failures (a full disk, a
	// read-only file system) and a directory another process is using.
	ExitFailure = 1
	// ExitUsage: a bad flag, or bad input (a file that cannot be read as
	// what it should be).
	ExitUsage = 2
	// ExitCorrupt: an activation cache failed its checksums.
	ExitCorrupt = 3
	// ExitStale: an activation cache does not match the model, layers,
	// tokenizer or data it was asked for.
	ExitStale = 4
	// ExitSIGINT and ExitSIGTERM (128 + the signal's number, as a shell
	// reports a process the signal killed): train, cache build and the
	// other long commands stopped cleanly on that signal; what they were
	// writing can be resumed.
	ExitSIGINT  = 128 + int(syscall.SIGINT)
	ExitSIGTERM = 128 + int(syscall.SIGTERM)
)

var exitCodeHelp = []struct {
	code int
	text string
}{
	{ExitOK, "success"},
	{ExitFailure, "failure (also an I/O error such as a full disk, or a directory in use by another process)"},
	{ExitUsage, "usage error: a bad flag or bad input file"},
	{ExitCorrupt, "corrupt activation cache"},
	{ExitStale, "stale activation cache (built for another model, layer, tokenizer or data)"},
	{distributed.ExitResize, "train --mode efficiency: restart me on fewer workers (autofreeze launch does)"},
	{ExitSIGINT, "interrupted (SIGINT) and stopped cleanly: train --resume or the same cache build continues"},
	{ExitSIGTERM, "terminated (SIGTERM) and stopped cleanly, as for SIGINT"},
}

func exitStatusHelp() string {
	s := "EXIT STATUS:\n"
	for _, e := range exitCodeHelp {
		s += fmt.Sprintf("   %-3d  %s\n", e.code, e.text)
	}
	return s
}

// exitError carries an exit code with an error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks err as bad input (exit code 2).
func usageError(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: ExitUsage, err: err}
}

func usagef(format string, a ...any) error { return usageError(fmt.Errorf(format, a...)) }

// interruptedError is what a command that stopped on a signal returns.
type interruptedError struct {
	sig syscall.Signal
	err error
}

func (e *interruptedError) Error() string {
	return fmt.Sprintf("stopped on %s: %v", signalName(e.sig), e.err)
}
func (e *interruptedError) Unwrap() error { return e.err }

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// exitRule is one row of exitTable: when match says an error is of its
// kind, the process exits with the code it returns.
type exitRule struct {
	what  string
	match func(err error) (code int, ok bool)
}

// is matches errors that wrap target.
func is(code int, targets ...error) func(error) (int, bool) {
	return func(err error) (int, bool) {
		for _, t := range targets {
			if errors.Is(err, t) {
				return code, true
			}
		}
		return 0, false
	}
}

// as matches errors that wrap a *T.
func as[T error](code int) func(error) (int, bool) {
	return func(err error) (int, bool) {
		var target T
		return code, errors.As(err, &target)
	}
}

// exitTable is the one mapping from errors to exit codes. The first rule
// that matches wins, so the order is the precedence: a signal over
// everything, then I/O failures (a full disk while writing a checkpoint is
// no fault of the input, even where a caller marked the error as bad
// input), then codes set explicitly, then the packages' sentinel errors
// (a cache can be stale and corrupt at once: stale wins).
var exitTable = []exitRule{
	{"stopped on a signal", func(err error) (int, bool) {
		var ie *interruptedError
		if errors.As(err, &ie) {
			return 128 + int(ie.sig), true
		}
		return 0, false
	}},
	{"I/O failure", is(ExitFailure, syscall.ENOSPC, syscall.EDQUOT, syscall.EIO, syscall.EROFS, syscall.EFBIG)},
	{"directory in use by another process", is(ExitFailure, dirlock.ErrHeld)},
	{"explicit code", func(err error) (int, bool) {
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code, true
		}
		return 0, false
	}},
	{"missing required flag", func(err error) (int, bool) {
		// urfave/cli checks required flags before any hook of ours runs,
		// and its error type is unexported.
		for e := err; e != nil; e = errors.Unwrap(e) {
			if t := reflect.TypeOf(e); t.Kind() == reflect.Pointer && t.Elem().Name() == "errRequiredFlags" && t.Elem().PkgPath() == reflect.TypeOf(ucli.Context{}).PkgPath() {
				return ExitUsage, true
			}
		}
		return 0, false
	}},
	{"malformed data row", as[*text.RowError](ExitUsage)},
	{"unreadable model", is(ExitUsage, model.ErrUnsupported, model.ErrCorrupt, model.ErrMissingTensor)},
	{"stale cache", is(ExitStale, cachefmt.ErrStale)},
	{"corrupt cache", is(ExitCorrupt, cachefmt.ErrMissing, cachefmt.ErrVersion, cachefmt.ErrCorrupt)},
	{"ONNX Runtime unavailable", is(ExitFailure, frozen.ErrRuntime)},
	{"bad training input", is(ExitUsage, run.ErrInput)},
	{"efficiency mode resize", is(distributed.ExitResize, run.ErrResize)},
}

// exitCode maps an error to the process exit status.
func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	for _, r := range exitTable {
		if code, ok := r.match(err); ok {
			return code
		}
	}
	return ExitFailure
}
