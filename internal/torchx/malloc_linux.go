package torchx

// #include <malloc.h>
import "C"

// ReleaseFreed gives the pages of the C heap's free memory back to the operating system
// (malloc_trim), where they would otherwise stay resident. libtorch allocates CPU tensors with
// malloc; glibc serves blocks under its mmap threshold (which it raises up to 32 MiB as large
// blocks are freed) from its heaps and keeps their pages when they are freed. Training calls it
// once a step, after dropping the gradients: a model's worth of freed gradients and the last
// step's activations then do not stay resident beside the next forward pass (measured on
// BLIP-base, batch 4: without it the second step peaked 1.2 GiB higher), while the step's own
// allocations keep the heap's speed.
//
// Fixing the mmap threshold at 1 MiB instead (mallopt), which returned every large block at once,
// kept the peak lower (6.15 GiB against 7.0 in a 6-step job) but made every activation a fresh
// mapping the kernel zeroes: 46 s of system time in an 80 s job against 28 s, each step ~15 %
// slower, and the notebook's peak is 7.27 GiB (bench/README.md).
func ReleaseFreed() { C.malloc_trim(0) }
