package cachefmt

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// RowSource is what a batch iterator reads: a Reader or a Cache.
type RowSource interface {
	Rows() int
	ReadRow(i int, dst *Row) error
}

// Batch is a batch of rows: Rows[k] is source row Index[k].
type Batch struct {
	Index []int
	Rows  []Row
}

// ReadBatch reads the rows idx of src into b, reusing b's memory.
func ReadBatch(src RowSource, idx []int, b *Batch) error {
	b.Index = append(b.Index[:0], idx...)
	for len(b.Rows) < len(idx) {
		b.Rows = append(b.Rows, Row{})
	}
	b.Rows = b.Rows[:len(idx)]
	for k, i := range idx {
		if err := src.ReadRow(i, &b.Rows[k]); err != nil {
			return err
		}
	}
	return nil
}

// BatchOptions configures Batches. The zero value means the defaults.
type BatchOptions struct {
	// InFlight is how many batches are decoded ahead of the one the caller holds; 0 means 2.
	// Memory stays under InFlight+1 batches.
	InFlight int
	// Workers is how many goroutines decode batches; 0 means 1.
	Workers int
}

// Batches reads the rows of src in a given order (the epoch's shuffle), batch by batch,
// decoding the next batches in the background.
type Batches struct {
	ctx    context.Context
	cancel context.CancelFunc
	queue  chan *job // batches in order, as they are dispatched
	free   chan *Batch
	wg     sync.WaitGroup
	cur    *Batch
	err    error
}

type job struct {
	batch *Batch
	idx   []int
	done  chan error
}

// NewBatches starts decoding order[0:batchSize], order[batchSize:2·batchSize], ... of src (the
// last batch may be shorter). Cancel ctx or call Close to stop early; Close must be called
// either way to release the goroutines.
func NewBatches(ctx context.Context, src RowSource, order []int, batchSize int, opts *BatchOptions) *Batches {
	var o BatchOptions
	if opts != nil {
		o = *opts
	}
	if o.InFlight <= 0 {
		o.InFlight = 2
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	ctx, cancel := context.WithCancel(ctx)
	b := &Batches{
		ctx: ctx, cancel: cancel,
		queue: make(chan *job, o.InFlight),
		free:  make(chan *Batch, o.InFlight+1),
	}
	if batchSize <= 0 {
		b.err = fmt.Errorf("cachefmt: batch size %d", batchSize)
		close(b.queue)
		return b
	}
	for range o.InFlight + 1 {
		b.free <- new(Batch)
	}
	work := make(chan *job)
	b.wg.Add(1 + o.Workers)
	go b.dispatch(order, batchSize, work)
	for range o.Workers {
		go b.decode(src, work)
	}
	return b
}

// dispatch hands out batches in order, each once a free buffer exists: that bounds memory.
func (b *Batches) dispatch(order []int, size int, work chan<- *job) {
	defer b.wg.Done()
	defer close(work)
	defer close(b.queue)
	for lo := 0; lo < len(order); lo += size {
		var buf *Batch
		select {
		case buf = <-b.free:
		case <-b.ctx.Done():
			return
		}
		j := &job{batch: buf, idx: order[lo:min(lo+size, len(order))], done: make(chan error, 1)}
		select {
		case b.queue <- j:
		case <-b.ctx.Done():
			return
		}
		select {
		case work <- j:
		case <-b.ctx.Done():
			return
		}
	}
}

func (b *Batches) decode(src RowSource, work <-chan *job) {
	defer b.wg.Done()
	for j := range work {
		if err := b.ctx.Err(); err != nil {
			j.done <- err
			continue
		}
		j.done <- ReadBatch(src, j.idx, j.batch)
	}
}

// Next returns the next batch, valid until the following call to Next or Close, and io.EOF
// after the last one. After an error (a read error, or the context's), every call returns it.
func (b *Batches) Next() (*Batch, error) {
	if b.cur != nil {
		b.free <- b.cur // never blocks: the channel holds every buffer
		b.cur = nil
	}
	if b.err == nil {
		b.err = b.ctx.Err() // once cancelled, never another batch, even one already decoded
	}
	if b.err != nil {
		return nil, b.err
	}
	var j *job
	var ok bool
	select {
	case j, ok = <-b.queue:
	case <-b.ctx.Done():
		b.err = b.ctx.Err()
		return nil, b.err
	}
	if !ok {
		if b.err = b.ctx.Err(); b.err == nil {
			b.err = io.EOF
		}
		return nil, b.err
	}
	select {
	case err := <-j.done:
		if err != nil {
			b.err = err
			b.cancel()
			return nil, err
		}
	case <-b.ctx.Done():
		b.err = b.ctx.Err()
		return nil, b.err
	}
	b.cur = j.batch
	return b.cur, nil
}

// Close stops the background decoding and waits for it to end.
func (b *Batches) Close() error {
	b.cancel()
	b.wg.Wait()
	b.cur = nil
	return nil
}
