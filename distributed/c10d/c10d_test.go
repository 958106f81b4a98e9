package c10d_test

import (
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/autofreeze/autofreeze/distributed/c10d"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// world starts n ranks in goroutines, each with its own store client and
// Gloo group on loopback, as n processes would, and runs body on each.
func world(t *testing.T, n int, body func(g *c10d.Group) error) {
	t.Helper()
	port := freePort(t)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for rank := 0; rank < n; rank++ {
		wg.Add(1)
		go func(rank int) {
			defer wg.Done()
			store, err := c10d.NewStore(c10d.StoreOptions{Host: "127.0.0.1", Port: port, Server: rank == 0,
				Workers: n, Timeout: 30 * time.Second, Prefix: "/test"})
			if err != nil {
				errs[rank] = err
				return
			}
			defer store.Close()
			g, err := c10d.NewGloo(store, c10d.GroupOptions{Rank: rank, Size: n, Hostname: "127.0.0.1", Timeout: 30 * time.Second})
			if err != nil {
				errs[rank] = err
				return
			}
			defer g.Close()
			errs[rank] = body(g)
		}(rank)
	}
	wg.Wait()
	for rank, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", rank, err)
		}
	}
}

func TestCollectives(t *testing.T) {
	const n = 3
	world(t, n, func(g *c10d.Group) error {
		r := float64(g.Rank())
		sums := []float64{r, 10 * r, 0.5}
		if err := g.AllReduceFloat64(sums); err != nil {
			return err
		}
		if want := []float64{3, 30, 1.5}; fmt.Sprint(sums) != fmt.Sprint(want) {
			return fmt.Errorf("all-reduce gave %v, want %v", sums, want)
		}
		vals := []int64{int64(g.Rank()) + 7, -1}
		if err := g.BroadcastInt64(vals, 1); err != nil {
			return err
		}
		if vals[0] != 8 || vals[1] != -1 {
			return fmt.Errorf("broadcast from rank 1 gave %v, want [8 -1]", vals)
		}
		return g.Barrier()
	})
}

// Tensors of different shapes travel in buckets and come back in place,
// whatever the bucket size: smaller than one tensor, a few, or all.
func TestAllReduceTensorsBuckets(t *testing.T) {
	const n = 2
	shapes := [][]int64{{3, 4}, {5}, {2, 2, 2}, {7}}
	for _, bucket := range []int64{4, 40, 1 << 20} {
		world(t, n, func(g *c10d.Group) error {
			var tensors []*ts.Tensor
			var handles []unsafe.Pointer
			for i, s := range shapes {
				x := ts.MustOnes(s, gotch.Float, gotch.CPU)
				x.MustMulScalar_(ts.FloatScalar(float64((g.Rank() + 1) * (i + 1))))
				tensors = append(tensors, x)
				handles = append(handles, x.Ctensor())
			}
			// A non-contiguous view is reduced into the tensor it views.
			base := ts.MustOnes([]int64{4, 3}, gotch.Float, gotch.CPU)
			base.MustMulScalar_(ts.FloatScalar(float64(g.Rank() + 1)))
			view := base.MustT(false)
			handles = append(handles, view.Ctensor())
			err := g.AllReduceTensors(handles, bucket)
			// The handles are C pointers: keep their Go owners alive.
			runtime.KeepAlive(tensors)
			runtime.KeepAlive(view)
			if err != nil {
				return err
			}
			for i, x := range tensors {
				want := float64(3 * (i + 1)) // (1+2)·(i+1)
				for _, v := range x.Float64Values() {
					if v != want {
						return fmt.Errorf("bucket %d: tensor %d holds %v, want %v", bucket, i, v, want)
					}
				}
			}
			for _, v := range base.Float64Values() {
				if v != 3 {
					return fmt.Errorf("bucket %d: the transposed view's base holds %v, want 3", bucket, v)
				}
			}
			return nil
		})
	}
}

func TestBroadcastTensor(t *testing.T) {
	world(t, 2, func(g *c10d.Group) error {
		x := ts.MustArange(ts.IntScalar(6), gotch.Float, gotch.CPU)
		x.MustMulScalar_(ts.FloatScalar(float64(g.Rank() + 1)))
		if err := g.BroadcastTensor(x.Ctensor(), 0); err != nil {
			return err
		}
		if got := fmt.Sprint(x.Float64Values()); got != "[0 1 2 3 4 5]" {
			return fmt.Errorf("rank %d holds %s after broadcast from 0", g.Rank(), got)
		}
		return nil
	})
}

func TestStore(t *testing.T) {
	port := freePort(t)
	server, err := c10d.NewStore(c10d.StoreOptions{Host: "127.0.0.1", Port: port, Server: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	client, err := c10d.NewStore(c10d.StoreOptions{Host: "127.0.0.1", Port: port, Timeout: 5 * time.Second, Prefix: "/p"})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := client.Set("k", []byte("value")); err != nil {
		t.Fatal(err)
	}
	got, err := server.Get("/p/k") // PrefixStore joins prefix and key with a slash
	if err != nil || string(got) != "value" {
		t.Fatalf("server sees %q, %v; want \"value\"", got, err)
	}
	if v, err := client.Add("n", 5); err != nil || v != 5 {
		t.Fatalf("add gave %d, %v", v, err)
	}
}

// Nobody hosts the store: a clear error after the timeout, not a hang or a
// crash.
func TestStoreUnreachable(t *testing.T) {
	port := freePort(t)
	_, err := c10d.NewStore(c10d.StoreOptions{Host: "127.0.0.1", Port: port, Timeout: 1500 * time.Millisecond})
	if err == nil {
		t.Fatal("connecting to a port nobody serves succeeded")
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("127.0.0.1:%d", port)) {
		t.Errorf("error does not name the address: %v", err)
	}
	t.Log(err)
}

func TestBadRank(t *testing.T) {
	if _, err := c10d.NewGloo(nil, c10d.GroupOptions{Rank: 2, Size: 2, Timeout: time.Second}); err == nil {
		t.Fatal("rank 2 of 2 accepted")
	}
}

// NCCL where it cannot run fails with a message saying why: not built in
// (the CPU variant), or no GPU (the CUDA variant here).
func TestNCCLUnavailable(t *testing.T) {
	if c10d.CUDADeviceCount() > 0 {
		t.Skip("this machine has a GPU: scripts/gpu-check.sh covers NCCL")
	}
	store, err := c10d.NewStore(c10d.StoreOptions{Host: "127.0.0.1", Port: freePort(t), Server: true, Workers: 1,
		Timeout: 10 * time.Second, Bind: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	_, err = c10d.NewNCCL(store, c10d.GroupOptions{Rank: 0, Size: 1, Timeout: 10 * time.Second})
	want := "finds none"
	if !c10d.NCCLBuilt() {
		want = "built without NCCL"
	}
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "gloo") {
		t.Errorf("NewNCCL: err = %v, want one saying %q", err, want)
	}
}
