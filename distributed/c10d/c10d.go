// Package c10d is a small cgo binding to PyTorch's c10d, the communication
// layer of torch.distributed, in the same libtorch that trains the model:
// a TCPStore for rendezvous and a Gloo or NCCL process group for
// collectives. NCCL is there when the shim was built against the CUDA
// variant (GPU=1 make setup, docs/GPU.md); NCCLBuilt says whether it was.
//
// Its flags come from zz_cgo_flags.go, which scripts/setup.sh writes for
// the libtorch it set up (and the Gloo headers libtorch does not ship).
package c10d

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"time"
	"unsafe"
)

// cerr turns a shim error string into an error (and frees it).
func cerr(what string, e *C.char) error {
	if e == nil {
		return nil
	}
	msg := C.GoString(e)
	C.free(unsafe.Pointer(e))
	return fmt.Errorf("c10d: %s: %s", what, msg)
}

// LibtorchVersion is the version of the libtorch headers the shim was
// compiled against.
func LibtorchVersion() string { return C.GoString(C.af_libtorch_version()) }

// StoreOptions says where a TCPStore is and who hosts it.
type StoreOptions struct {
	Host string
	Port int
	// Server hosts the store in this process (rank 0 under torchrun's
	// contract, unless the launcher hosts it).
	Server bool
	// Workers is how many ranks share the store: each announces itself
	// and the server waits until all have (0: no waiting; a launcher that
	// hosts the store for its workers).
	Workers int
	Timeout time.Duration
	// Prefix namespaces every key (torchrun: /worker/attempt_N).
	Prefix string
	// Bind is the numeric address a hosted store listens on ("127.0.0.1"
	// for a job on one machine); empty: every interface, as
	// torch.distributed's store does. The store has no authentication:
	// whoever reaches it can read and write the job's keys.
	Bind string
}

// Store is a c10d key-value store shared by all ranks.
type Store struct{ p *C.af_store }

// NewStore connects to, or hosts, a TCPStore.
func NewStore(o StoreOptions) (*Store, error) {
	if o.Timeout <= 0 {
		return nil, errors.New("c10d: store timeout must be positive")
	}
	if o.Port < 0 || o.Port > 65535 {
		return nil, fmt.Errorf("c10d: port %d is not a TCP port", o.Port)
	}
	host, prefix, bind := C.CString(o.Host), C.CString(o.Prefix), C.CString(o.Bind)
	defer C.free(unsafe.Pointer(host))
	defer C.free(unsafe.Pointer(prefix))
	defer C.free(unsafe.Pointer(bind))
	var p *C.af_store
	server := 0
	if o.Server {
		server = 1
	}
	if err := cerr(fmt.Sprintf("TCPStore %s:%d", o.Host, o.Port),
		C.af_store_new(host, C.int(o.Port), C.int(server), C.int(o.Workers), C.int64_t(o.Timeout.Milliseconds()), prefix, bind, &p)); err != nil {
		return nil, err
	}
	s := &Store{p: p}
	runtime.SetFinalizer(s, (*Store).Close)
	return s, nil
}

// Set stores value under key.
func (s *Store) Set(key string, value []byte) error {
	k := C.CString(key)
	defer C.free(unsafe.Pointer(k))
	var v *C.char
	if len(value) > 0 {
		v = (*C.char)(C.CBytes(value))
		defer C.free(unsafe.Pointer(v))
	}
	err := cerr("set "+key, C.af_store_set(s.p, k, v, C.int64_t(len(value))))
	runtime.KeepAlive(s) // its finalizer must not free the store mid-call
	return err
}

// Get waits (up to the store's timeout) for key and returns its value.
func (s *Store) Get(key string) ([]byte, error) {
	k := C.CString(key)
	defer C.free(unsafe.Pointer(k))
	var v *C.char
	var n C.int64_t
	err := cerr("get "+key, C.af_store_get(s.p, k, &v, &n))
	runtime.KeepAlive(s)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(v))
	return C.GoBytes(unsafe.Pointer(v), C.int(n)), nil
}

// Add adds delta to the counter at key and returns its new value.
func (s *Store) Add(key string, delta int64) (int64, error) {
	k := C.CString(key)
	defer C.free(unsafe.Pointer(k))
	var out C.int64_t
	err := cerr("add "+key, C.af_store_add(s.p, k, C.int64_t(delta), &out))
	runtime.KeepAlive(s)
	return int64(out), err
}

// Close releases this process's handle (a hosted store stops with it).
func (s *Store) Close() {
	if s.p != nil {
		C.af_store_free(s.p)
		s.p = nil
		runtime.SetFinalizer(s, nil)
	}
}

// GroupOptions configure a Gloo process group.
type GroupOptions struct {
	Rank, Size int
	// Interface is the network interface Gloo binds (GLOO_SOCKET_IFNAME);
	// Hostname, when Interface is empty, an address or name to bind. Both
	// empty: Gloo's default (the address the host name resolves to).
	Interface, Hostname string
	// Timeout bounds every collective.
	Timeout time.Duration
	// Device is the CUDA GPU this rank uses (NCCL only).
	Device int
}

// NCCLBuilt reports whether the shim was compiled with ProcessGroupNCCL.
func NCCLBuilt() bool { return C.af_nccl_built() != 0 }

// CUDADeviceCount is the number of CUDA GPUs libtorch sees: 0 for a CPU
// libtorch, and on a machine without an NVIDIA GPU or driver.
func CUDADeviceCount() int { return int(C.af_cuda_device_count()) }

// Group is a Gloo process group: collectives among Size ranks.
type Group struct {
	p          *C.af_group
	rank, size int
}

// NewGloo joins the Gloo process group of o.Size ranks through store.
// Every rank must call it; it returns when all have.
func NewGloo(store *Store, o GroupOptions) (*Group, error) {
	if o.Size < 1 || o.Rank < 0 || o.Rank >= o.Size {
		return nil, fmt.Errorf("c10d: rank %d of world size %d", o.Rank, o.Size)
	}
	if o.Timeout <= 0 {
		return nil, errors.New("c10d: group timeout must be positive")
	}
	iface, host := C.CString(o.Interface), C.CString(o.Hostname)
	defer C.free(unsafe.Pointer(iface))
	defer C.free(unsafe.Pointer(host))
	var p *C.af_group
	if err := cerr(fmt.Sprintf("Gloo process group (rank %d of %d)", o.Rank, o.Size),
		C.af_gloo_new(store.p, C.int(o.Rank), C.int(o.Size), iface, host, C.int64_t(o.Timeout.Milliseconds()), &p)); err != nil {
		runtime.KeepAlive(store)
		return nil, err
	}
	runtime.KeepAlive(store)
	g := &Group{p: p, rank: o.Rank, size: o.Size}
	runtime.SetFinalizer(g, (*Group).Close)
	return g, nil
}

// NewNCCL joins the NCCL process group of o.Size ranks through store, this
// rank on GPU o.Device. Every rank must call it. It fails, saying why, when
// the shim was built without NCCL or the GPU is not there; collectives then
// take CUDA tensors (host values travel through the GPU).
func NewNCCL(store *Store, o GroupOptions) (*Group, error) {
	if o.Size < 1 || o.Rank < 0 || o.Rank >= o.Size {
		return nil, fmt.Errorf("c10d: rank %d of world size %d", o.Rank, o.Size)
	}
	if o.Timeout <= 0 {
		return nil, errors.New("c10d: group timeout must be positive")
	}
	if o.Device < 0 {
		return nil, fmt.Errorf("c10d: GPU %d: want 0 or more", o.Device)
	}
	var p *C.af_group
	if err := cerr(fmt.Sprintf("NCCL process group (rank %d of %d)", o.Rank, o.Size),
		C.af_nccl_new(store.p, C.int(o.Rank), C.int(o.Size), C.int(o.Device), C.int64_t(o.Timeout.Milliseconds()), &p)); err != nil {
		runtime.KeepAlive(store)
		return nil, err
	}
	runtime.KeepAlive(store)
	g := &Group{p: p, rank: o.Rank, size: o.Size}
	runtime.SetFinalizer(g, (*Group).Close)
	return g, nil
}

// Rank is this process's rank.
func (g *Group) Rank() int { return g.rank }

// Size is the number of ranks.
func (g *Group) Size() int { return g.size }

// Close leaves the group.
func (g *Group) Close() {
	if g.p != nil {
		C.af_group_free(g.p)
		g.p = nil
		runtime.SetFinalizer(g, nil)
	}
}

// AllReduceTensors sums tensors across ranks in place. Each element of
// tensors is a libtorch tensor handle (torch::Tensor*, as gotch's
// Tensor.Ctensor returns); every rank passes tensors of the same shapes in
// the same order. The caller keeps the tensors' Go owners alive
// (runtime.KeepAlive) until it returns. They travel packed into flat buckets of at most
// bucketBytes, as DistributedDataParallel does.
func (g *Group) AllReduceTensors(tensors []unsafe.Pointer, bucketBytes int64) error {
	if len(tensors) == 0 {
		return nil
	}
	arr := C.malloc(C.size_t(len(tensors)) * C.size_t(unsafe.Sizeof(uintptr(0))))
	defer C.free(arr)
	ptrs := unsafe.Slice((*unsafe.Pointer)(arr), len(tensors))
	copy(ptrs, tensors)
	err := cerr("all-reduce", C.af_allreduce_tensors(g.p, (*unsafe.Pointer)(arr), C.int(len(tensors)), C.int64_t(bucketBytes)))
	runtime.KeepAlive(g) // its finalizer must not free the group mid-collective
	return err
}

// AllReduceFloat64 sums values across ranks in place.
func (g *Group) AllReduceFloat64(values []float64) error {
	if len(values) == 0 {
		return nil
	}
	buf := (*C.double)(C.malloc(C.size_t(len(values)) * 8))
	defer C.free(unsafe.Pointer(buf))
	s := unsafe.Slice((*float64)(unsafe.Pointer(buf)), len(values))
	copy(s, values)
	err := cerr("all-reduce", C.af_allreduce_f64(g.p, buf, C.int64_t(len(values))))
	runtime.KeepAlive(g)
	if err != nil {
		return err
	}
	copy(values, s)
	return nil
}

// BroadcastInt64 replaces values on every rank with root's.
func (g *Group) BroadcastInt64(values []int64, root int) error {
	if len(values) == 0 {
		return nil
	}
	buf := (*C.int64_t)(C.malloc(C.size_t(len(values)) * 8))
	defer C.free(unsafe.Pointer(buf))
	s := unsafe.Slice((*int64)(unsafe.Pointer(buf)), len(values))
	copy(s, values)
	err := cerr("broadcast", C.af_broadcast_i64(g.p, buf, C.int64_t(len(values)), C.int(root)))
	runtime.KeepAlive(g)
	if err != nil {
		return err
	}
	copy(values, s)
	return nil
}

// BroadcastTensor replaces a tensor (torch::Tensor*) on every rank with
// root's, in place.
func (g *Group) BroadcastTensor(tensor unsafe.Pointer, root int) error {
	err := cerr("broadcast", C.af_broadcast_tensor(g.p, tensor, C.int(root)))
	runtime.KeepAlive(g)
	return err
}

// Barrier returns when every rank has called it.
func (g *Group) Barrier() error {
	err := cerr("barrier", C.af_barrier(g.p))
	runtime.KeepAlive(g)
	return err
}
