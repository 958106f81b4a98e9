package trainable

/*
#include <malloc.h>
*/
import "C"

// How libtorch's memory is allocated. libtorch takes every tensor from
// glibc's malloc, which gives each thread that allocates its own arena, up
// to 8 per core. The Go scheduler moves goroutines (and so gotch calls)
// across OS threads, so freed tensors pile up in arenas the next
// allocation does not look in. Two arenas are enough for libtorch's
// threads and keep the memory in reuse.
//
// Measured on the demo configuration (MiniLM, batch 16 x 128 tokens, 2
// threads; BENCHMARKS.md): 30 steps with two evaluations peaked at 2.5 GB
// with glibc's defaults and 1.8 GB with two arenas. A fixed 1 MiB mmap
// threshold on top brought that to 1.2 GB, but unmapping and faulting in
// every activation halved the training throughput (7.2 against 12-13
// examples/s), so the threshold stays glibc's.
const mallocArenas = 2

// TuneAllocator limits glibc's malloc to two arenas; call it once at
// start-up, before the first tensor (the command line does, unless the
// user set glibc's own MALLOC_ARENA_MAX).
func TuneAllocator() {
	C.mallopt(C.M_ARENA_MAX, mallocArenas)
}
