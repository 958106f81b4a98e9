package run

import "fmt"

// agree turns an error that happened on some ranks into an error on all of
// them, so that no rank waits in a collective for one that has given up:
// every rank says whether it failed (a collective), a failed rank returns
// its own error and the others one that points to it. On one process it
// returns err.
func (r *trainRun) agree(err error, what string) error {
	if r.world.Size() == 1 {
		return err
	}
	failed := []float64{0}
	if err != nil {
		failed[0] = 1
	}
	if cerr := r.world.SumFloat64(failed); cerr != nil && err == nil {
		return fmt.Errorf("%s: %w", what, cerr)
	}
	if err != nil {
		return err
	}
	if failed[0] > 0 {
		return fmt.Errorf("%s failed on %v other rank(s); their logs say why", what, failed[0])
	}
	return nil
}
