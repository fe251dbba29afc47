package torchx

// #include <malloc.h>
import "C"

// heapRetentionLimit is the size from which glibc serves allocations by mmap (and so returns them
// to the system when freed): 1 MiB, small enough for every activation and gradient of a captioning
// model, large enough that small tensors keep the heap's speed.
const heapRetentionLimit = 1 << 20

// LimitHeapRetention makes freed tensors of 1 MiB or more go back to the operating system at once.
// libtorch allocates CPU tensors with malloc, and glibc serves an allocation under its mmap
// threshold from its heaps, keeping the pages when it is freed; glibc raises that threshold up to
// 32 MiB as large blocks are freed, so after a first training step most activations and gradients
// come from the heaps, and memory freed between steps (a model's worth of gradients, the last step's
// activations) stays resident. Measured on BLIP-base, batch 4: 1.4 GiB still resident after the
// gradients were freed, and the second step's forward pass peaking 1.2 GiB higher than with a fixed
// 1 MiB threshold. The setting is process-wide and fixes the threshold (mallopt M_MMAP_THRESHOLD);
// training calls it before its first step.
func LimitHeapRetention() { C.mallopt(C.M_MMAP_THRESHOLD, C.int(heapRetentionLimit)) }
