package cachefmt

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestBatchesFollowTheOrder(t *testing.T) {
	data, _ := writeTestFile(t, 8, seq(0, 101), &WriterOptions{GroupRows: 5})
	r, err := NewReader(bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	order := rand.New(rand.NewPCG(1, 1)).Perm(101)
	for _, c := range []struct {
		name  string
		size  int
		opts  *BatchOptions
		sizes []int
	}{
		{"defaults", 32, nil, []int{32, 32, 32, 5}},
		{"one in flight", 10, &BatchOptions{InFlight: 1}, nil},
		{"four workers", 7, &BatchOptions{Workers: 4, InFlight: 6}, nil},
		{"one batch", 500, nil, []int{101}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := NewBatches(context.Background(), r, order, c.size, c.opts)
			defer b.Close()
			var got []int
			var sizes []int
			for {
				batch, err := b.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				sizes = append(sizes, len(batch.Rows))
				for k, row := range batch.Rows {
					if row.ID != uint64(batch.Index[k]) {
						t.Fatalf("row %d has id %d", batch.Index[k], row.ID)
					}
					if err := checkRow(Float16, 8, row); err != nil {
						t.Fatal(err)
					}
				}
				got = append(got, batch.Index...)
			}
			if len(got) != len(order) {
				t.Fatalf("%d rows, want %d", len(got), len(order))
			}
			for i := range got {
				if got[i] != order[i] {
					t.Fatalf("position %d: row %d, want %d", i, got[i], order[i])
				}
			}
			if c.sizes != nil && !equalInts(sizes, c.sizes) {
				t.Fatalf("batch sizes %v, want %v", sizes, c.sizes)
			}
			if _, err := b.Next(); err != io.EOF {
				t.Fatalf("after the end: %v", err)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// slowSource counts the rows read, and fails at row failAt.
type slowSource struct {
	rows   int
	read   atomic.Int64
	failAt int
	delay  time.Duration
}

func (s *slowSource) Rows() int { return s.rows }
func (s *slowSource) ReadRow(i int, dst *Row) error {
	time.Sleep(s.delay)
	s.read.Add(1)
	if i == s.failAt {
		return errors.New("disk on fire")
	}
	dst.ID = uint64(i)
	return nil
}

func TestBatchesMemoryIsBounded(t *testing.T) {
	src := &slowSource{rows: 1000, failAt: -1}
	order := make([]int, 1000)
	for i := range order {
		order[i] = i
	}
	b := NewBatches(context.Background(), src, order, 10, &BatchOptions{InFlight: 3, Workers: 2})
	defer b.Close()
	for taken := 1; taken <= 5; taken++ {
		if _, err := b.Next(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // a slow training step: the decoder runs ahead
		// The batch held plus three in flight: at most 4 batches beyond those already returned.
		if n, limit := src.read.Load(), int64((taken+3)*10); n > limit {
			t.Fatalf("after %d batches, %d rows read; the bound is %d", taken, n, limit)
		}
	}
}

func TestBatchesStopOnErrorAndCancel(t *testing.T) {
	order := make([]int, 100)
	for i := range order {
		order[i] = i
	}
	t.Run("read error", func(t *testing.T) {
		b := NewBatches(context.Background(), &slowSource{rows: 100, failAt: 35}, order, 10, nil)
		defer b.Close()
		var err error
		n := 0
		for ; err == nil; n++ {
			_, err = b.Next()
		}
		if n != 4 || err == nil || err.Error() != "disk on fire" {
			t.Fatalf("after %d calls: %v", n, err)
		}
		if _, again := b.Next(); again != err {
			t.Fatalf("error not sticky: %v", again)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		before := runtime.NumGoroutine()
		ctx, cancel := context.WithCancel(context.Background())
		b := NewBatches(ctx, &slowSource{rows: 100, failAt: -1, delay: time.Millisecond}, order, 10, &BatchOptions{Workers: 3})
		if _, err := b.Next(); err != nil {
			t.Fatal(err)
		}
		cancel()
		if _, err := b.Next(); !errors.Is(err, context.Canceled) {
			t.Fatalf("after cancel: %v", err)
		}
		b.Close()
		// Goroutines that called wg.Done may take a moment to exit.
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if after := runtime.NumGoroutine(); after > before {
			t.Fatalf("%d goroutines before, %d after Close", before, after)
		}
	})
	t.Run("close without draining", func(t *testing.T) {
		b := NewBatches(context.Background(), &slowSource{rows: 100, failAt: -1}, order, 10, nil)
		b.Next()
		done := make(chan struct{})
		go func() { b.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Close hangs")
		}
	})
}

func TestReadBatchFromManyGoroutines(t *testing.T) {
	data, _ := writeTestFile(t, 8, seq(0, 64), &WriterOptions{GroupRows: 3})
	r, _ := NewReader(bytes.NewReader(data), int64(len(data)), &ReaderOptions{CacheBytes: 8 << 10})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b Batch
			idx := rand.New(rand.NewPCG(uint64(g), 2)).Perm(64)
			if err := ReadBatch(r, idx, &b); err != nil {
				t.Error(err)
				return
			}
			for k, row := range b.Rows {
				if row.ID != uint64(idx[k]) || checkRow(Float16, 8, row) != nil {
					t.Errorf("row %d wrong", idx[k])
				}
			}
		}()
	}
	wg.Wait()
}
