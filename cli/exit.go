package cli

import (
	"errors"
	"fmt"

	"github.com/autofreeze/autofreeze/distributed"
)

// Exit codes, the contract with batch scripts. They are listed in the help
// text (EXIT STATUS) from this table.
const (
	ExitOK      = 0
	ExitFailure = 1
	// ExitUsage: a bad flag, or bad input (a file that cannot be read as
	// what it should be).
	ExitUsage = 2
	// ExitCorrupt: an activation cache failed its checksums.
	ExitCorrupt = 3
	// ExitStale: an activation cache does not match the model, layers,
	// tokenizer or data it was asked for.
	ExitStale = 4
)

var exitCodeHelp = []struct {
	code int
	text string
}{
	{ExitOK, "success"},
	{ExitFailure, "failure"},
	{ExitUsage, "usage error: a bad flag or bad input file"},
	{ExitCorrupt, "corrupt activation cache"},
	{ExitStale, "stale activation cache (built for another model, layer, tokenizer or data)"},
	{distributed.ExitResize, "train --mode efficiency: restart me on fewer workers (autofreeze launch does)"},
}

func exitStatusHelp() string {
	s := "EXIT STATUS:\n"
	for _, e := range exitCodeHelp {
		s += fmt.Sprintf("   %d  %s\n", e.code, e.text)
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

// exitCode maps an error to the process exit status.
func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	for _, m := range errorCodes {
		if errors.Is(err, m.target) {
			return m.code
		}
	}
	return ExitFailure
}

// errorCodes maps sentinel errors of the packages below to exit codes; it
// is filled in by the files of the commands that can return them.
var errorCodes []struct {
	target error
	code   int
}

func mapError(target error, code int) {
	errorCodes = append(errorCodes, struct {
		target error
		code   int
	}{target, code})
}
