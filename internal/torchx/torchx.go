// Package torchx holds the few libtorch calls that gotch v0.9.1 does not bind: intra-op thread
// count, the global RNG seed, the libtorch version the binary was compiled against, and autocast.
package torchx

// #cgo CXXFLAGS: -std=c++17
// #cgo LDFLAGS: -ltorch_cpu -lc10
// #include <stdlib.h>
// #include "torchx.h"
import "C"

import (
	"fmt"
	"unsafe"
)

// NumThreads returns libtorch's intra-op thread count.
func NumThreads() int { return int(C.captune_get_num_threads()) }

// SetNumThreads sets libtorch's intra-op thread count; n <= 0 leaves it unchanged.
// Call it once at start, before any tensor work.
func SetNumThreads(n int) {
	if n > 0 {
		C.captune_set_num_threads(C.int(n))
	}
}

// ManualSeed seeds libtorch's default generators (CPU and CUDA).
func ManualSeed(seed int64) { C.captune_manual_seed(C.longlong(seed)) }

// Version returns the libtorch version whose headers the binary was compiled against, e.g. "2.1.0".
func Version() string { return C.GoString(C.captune_torch_version()) }

// CXX11ABI reports whether the binary was compiled with the C++11 std::string ABI.
func CXX11ABI() bool { return C.captune_cxx11_abi() != 0 }

// CString copies a NUL-terminated C string and frees it with free(3); nil gives "".
func CString(p unsafe.Pointer) string {
	if p == nil {
		return ""
	}
	s := C.GoString((*C.char)(p))
	C.free(p)
	return s
}

// AutocastBF16 makes libtorch compute in bfloat16 where autocast allows it (matrix products and
// convolutions; reductions such as softmax, layer norm and losses stay in float32, and results
// promote back to float32 when they meet float32 tensors), on CPU or, with cuda, on CUDA devices,
// as Python's torch.autocast(dtype=torch.bfloat16) does. It returns the function that restores the
// previous state and, when the outermost region ends, frees the weights autocast cast and cached.
//
// The state belongs to the calling OS thread: the goroutine must hold its thread
// (runtime.LockOSThread) from AutocastBF16 until the returned function has run.
func AutocastBF16(cuda bool) (restore func()) {
	c := C.int(0)
	if cuda {
		c = 1
	}
	prev := C.captune_autocast_enter(c, 1)
	return func() { C.captune_autocast_exit(c, prev) }
}

// AutocastEnabled reports whether autocast is on for the calling thread on CPU (or on CUDA).
func AutocastEnabled(cuda bool) bool {
	c := C.int(0)
	if cuda {
		c = 1
	}
	return C.captune_autocast_enabled(c) != 0
}

// SetDType converts, in place, the tensor behind the gotch handle t (a lib.Ctensor) to the scalar
// type dtype (gotch's CInt numbering): every handle on it then sees the converted data, as after
// Python's `p.data = p.data.to(dtype)`.
func SetDType(t unsafe.Pointer, dtype int32) error {
	if msg := CString(unsafe.Pointer(C.captune_set_dtype(t, C.int(dtype)))); msg != "" {
		return fmt.Errorf("convert tensor to dtype %d: %s", dtype, msg)
	}
	return nil
}
