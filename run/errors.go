package run

import "errors"

// ErrInput is wrapped by errors caused by the user's input (a model
// directory, a data file, a setting) rather than by a failure while running;
// the command line maps it to its usage-error exit status.
var ErrInput = errors.New("bad input")

type inputError struct{ err error }

func (e *inputError) Error() string   { return e.err.Error() }
func (e *inputError) Unwrap() []error { return []error{e.err, ErrInput} }

// badInput marks err as caused by input; nil stays nil.
func badInput(err error) error {
	if err == nil {
		return nil
	}
	return &inputError{err}
}
