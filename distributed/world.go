package distributed

import (
	"fmt"
	"net"
	"time"
	"unsafe"

	"github.com/autofreeze/autofreeze/distributed/c10d"
)

// DefaultTimeout bounds every collective, as torch.distributed's default
// does: a rank that waits longer (for another that died, or for rank 0's
// evaluation or cache build) fails instead of hanging.
const DefaultTimeout = 30 * time.Minute

// DefaultBucketBytes is the size of the flat buckets gradients are summed
// in (DistributedDataParallel's default).
const DefaultBucketBytes = 25 << 20

// World is this process's membership in a data-parallel job.
type World struct {
	env         Env
	store       *c10d.Store
	group       *c10d.Group
	backend     Backend
	bucketBytes int64
}

// Options tune Join.
type Options struct {
	Timeout     time.Duration // 0: DefaultTimeout
	BucketBytes int64         // 0: DefaultBucketBytes
	// Backend is the process group: auto (the zero value), gloo or nccl.
	Backend Backend
	// CUDA says this rank trains on GPU Device (NCCL's device; auto takes
	// NCCL only when every rank does).
	CUDA   bool
	Device int
}

// Join rendezvouses with the other ranks of env: through the launcher's
// store when it hosts one (torchrun), otherwise through a store rank 0
// hosts at MASTER_ADDR:MASTER_PORT. Keys are namespaced by the restart
// count, so a restarted job never reads a dead attempt's keys.
func Join(env Env, o Options) (*World, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.BucketBytes <= 0 {
		o.BucketBytes = DefaultBucketBytes
	}
	so := c10d.StoreOptions{Host: env.MasterAddr, Port: env.MasterPort, Timeout: o.Timeout,
		Prefix: fmt.Sprintf("/worker/attempt_%d", env.RestartCount)}
	if !env.AgentStore {
		so.Server = env.Rank == 0
		so.Workers = env.WorldSize
		so.Bind = StoreBindAddr(env.MasterAddr)
	}
	store, err := c10d.NewStore(so)
	if err != nil {
		return nil, fmt.Errorf("rank %d: joining the job at %s:%d: %w", env.Rank, env.MasterAddr, env.MasterPort, err)
	}
	backend, err := ParseBackend(string(o.Backend))
	if err == nil {
		err = CheckBackend(backend, o.CUDA)
	}
	if err == nil {
		backend, err = chooseBackend(store, env, backend, o.CUDA)
	}
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("rank %d: %w", env.Rank, err)
	}
	gopt := c10d.GroupOptions{Rank: env.Rank, Size: env.WorldSize, Interface: env.SocketInterface, Timeout: o.Timeout, Device: o.Device}
	if gopt.Interface == "" && isLoopback(env.MasterAddr) {
		gopt.Hostname = "127.0.0.1" // one machine: bind loopback, whatever the host name resolves to
	}
	var group *c10d.Group
	if backend == BackendNCCL {
		group, err = c10d.NewNCCL(store, gopt)
	} else {
		group, err = c10d.NewGloo(store, gopt)
	}
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("rank %d: %w", env.Rank, err)
	}
	return &World{env: env, store: store, group: group, backend: backend, bucketBytes: o.BucketBytes}, nil
}

// Backend is the process group the ranks joined: gloo or nccl (gloo for a
// single process).
func (w *World) Backend() Backend {
	if w == nil {
		return BackendGloo
	}
	return w.backend
}

func isLoopback(addr string) bool {
	if addr == "localhost" {
		return true
	}
	ip := net.ParseIP(addr)
	return ip != nil && ip.IsLoopback()
}

// StoreBindAddr is the address the rendezvous store rank 0 hosts listens
// on, for the MASTER_ADDR every rank connects to: loopback for a job on
// one machine (MASTER_ADDR localhost or 127.x.x.x, as autofreeze launch
// sets it), the address itself when it is a literal IP of this machine,
// and every interface ("") for a host name, which the other machines may
// resolve to another address than this one does. The store has no
// authentication (libtorch's TCPStore has none): a multi-machine job
// belongs on a network only its machines reach.
func StoreBindAddr(masterAddr string) string {
	if masterAddr == "localhost" {
		return "127.0.0.1"
	}
	ip := net.ParseIP(masterAddr)
	if ip == nil {
		return ""
	}
	if ip.IsLoopback() {
		return ip.String()
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return ip.String()
		}
	}
	return ""
}

// Env is the launcher environment the world was joined with.
func (w *World) Env() Env { return w.env }

// Rank is this process's rank (0 on a single process: nil World).
func (w *World) Rank() int {
	if w == nil {
		return 0
	}
	return w.env.Rank
}

// Size is the number of ranks (1 on a single process).
func (w *World) Size() int {
	if w == nil {
		return 1
	}
	return w.env.WorldSize
}

// Main reports whether this is rank 0, which alone writes the run
// directory and decides when to freeze.
func (w *World) Main() bool { return w.Rank() == 0 }

// SumTensors sums tensors (gradients; libtorch handles, torch::Tensor*)
// across ranks in place, in buckets.
func (w *World) SumTensors(handles []unsafe.Pointer) error {
	if w.Size() == 1 || len(handles) == 0 {
		return nil
	}
	return w.group.AllReduceTensors(handles, w.bucketBytes)
}

// BroadcastTensors replaces tensors (libtorch handles) on every rank with
// rank 0's.
func (w *World) BroadcastTensors(handles []unsafe.Pointer) error {
	if w.Size() == 1 {
		return nil
	}
	for _, h := range handles {
		if err := w.group.BroadcastTensor(h, 0); err != nil {
			return err
		}
	}
	return nil
}

// SumFloat64 sums values across ranks in place.
func (w *World) SumFloat64(values []float64) error {
	if w.Size() == 1 {
		return nil
	}
	return w.group.AllReduceFloat64(values)
}

// BroadcastInt64 replaces values on every rank with rank 0's.
func (w *World) BroadcastInt64(values []int64) error {
	if w.Size() == 1 {
		return nil
	}
	return w.group.BroadcastInt64(values, 0)
}

// Barrier returns when every rank has reached it.
func (w *World) Barrier() error {
	if w.Size() == 1 {
		return nil
	}
	return w.group.Barrier()
}

// Close leaves the job.
func (w *World) Close() {
	if w == nil {
		return
	}
	w.group.Close()
	w.store.Close()
}
