package trainable

/*
#include <malloc.h>
*/
import "C"

// How libtorch's memory is allocated. libtorch takes every tensor from
// glibc's malloc, and two of glibc's defaults cost a Go program dearly:
//
//   - one malloc arena per thread that ever allocates, up to 8 per core:
//     the Go scheduler moves goroutines (and so gotch calls) across OS
//     threads, so freed tensors pile up in arenas the next allocation
//     does not look in;
//   - a dynamic mmap threshold: once a large block (an attention matrix,
//     12 MB at batch 16) is freed, blocks up to that size come from the
//     heap instead of mmap, and the heap keeps fragments of every size
//     the forward and backward pass ever used.
//
// Measured on the demo configuration (MiniLM, batch 16 x 128 tokens, 30
// steps with two evaluations; BENCHMARKS.md): peak RSS 3.1-3.3 GB with
// glibc's defaults, 1.2-1.3 GB with two arenas and a fixed 1 MiB
// threshold (blocks of 1 MiB and more are mapped and unmapped, so their
// memory goes back to the system the moment libtorch frees them).
const (
	mallocArenas        = 2
	mallocMmapThreshold = 1 << 20
)

// TuneAllocator applies those settings; call it once at start-up, before
// the first tensor. arenas and mmap say which of the two to set (the
// command line leaves one alone when the user set glibc's own
// MALLOC_ARENA_MAX or MALLOC_MMAP_THRESHOLD_).
func TuneAllocator(arenas, mmap bool) {
	if arenas {
		C.mallopt(C.M_ARENA_MAX, mallocArenas)
	}
	if mmap {
		C.mallopt(C.M_MMAP_THRESHOLD, mallocMmapThreshold)
	}
}
