package frozen

import (
	"context"
	"fmt"
	"sync"
)

// Pipeline runs batches 0..n-1 through r so that the session never waits
// for its input: produce(i) (tokenising, padding, reading a cache) runs in
// its own goroutine while the session runs batch i-1, and consume(i, out)
// (writing a cache) runs in another while the session runs batch i+1.
// consume sees the batches in order. The first error from either callback
// or from the session stops the pipeline and is returned; so is ctx's.
func (r *Runner) Pipeline(ctx context.Context, n int, produce func(i int) (Batch, error), consume func(i int, out []float32) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	type job struct {
		i int
		b Batch
	}
	type result struct {
		i   int
		out []float32
	}
	// One batch waits in each channel while its neighbours work.
	jobs := make(chan job, 1)
	results := make(chan result, 1)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer close(jobs)
		for i := 0; i < n; i++ {
			b, err := produce(i)
			if err != nil {
				cancel(fmt.Errorf("prepare batch %d: %w", i, err))
				return
			}
			select {
			case jobs <- job{i, b}:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for res := range results {
			if ctx.Err() != nil {
				continue // drain
			}
			if err := consume(res.i, res.out); err != nil {
				cancel(fmt.Errorf("consume batch %d: %w", res.i, err))
			}
		}
	}()

	func() {
		defer close(results)
		for {
			var j job
			var ok bool
			select {
			case j, ok = <-jobs:
			case <-ctx.Done():
				return
			}
			if !ok {
				return
			}
			out, err := r.Run(j.b)
			if err != nil {
				cancel(fmt.Errorf("batch %d: %w", j.i, err))
				return
			}
			select {
			case results <- result{j.i, out}:
			case <-ctx.Done():
				return
			}
		}
	}()
	wg.Wait()
	return context.Cause(ctx)
}
