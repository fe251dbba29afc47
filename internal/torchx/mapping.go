package torchx

// #include <stdlib.h>
// #include "mapping.h"
import "C"

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// Mapping is a file mapped into memory (private: the file is never written) that tensors are built
// over without a copy. It stays mapped while its owner holds it or any tensor storage built over it
// lives: Release drops the owner's reference, and the last tensor freed unmaps it, so a tensor can
// never outlive the memory it reads.
type Mapping struct {
	h    unsafe.Pointer
	size int64
}

// MapFile maps the first size bytes of f. f may be closed afterwards.
func MapFile(f *os.File, size int64) (*Mapping, error) {
	if size <= 0 {
		return nil, fmt.Errorf("map %s: empty file", f.Name())
	}
	var errno C.int
	h := C.captune_mapping_new(C.int(f.Fd()), C.size_t(size), &errno)
	if h == nil {
		return nil, fmt.Errorf("map %s: %w", f.Name(), syscall.Errno(errno))
	}
	return &Mapping{h: h, size: size}, nil
}

// Size is the mapped length in bytes.
func (m *Mapping) Size() int64 { return m.size }

// Bytes returns n mapped bytes at offset, valid until Release; for reading, never for writing.
func (m *Mapping) Bytes(offset, n int64) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Add(C.captune_mapping_addr(m.h), offset)), n)
}

// Tensor builds a CPU tensor of the given c10::ScalarType and shape over the mapped bytes at
// offset, without copying; the caller owns the returned libtorch tensor handle. The bytes
// [offset, offset + numel × element size) must lie inside the mapping and offset must be a multiple
// of the element size (the caller checks both: libtorch does not).
func (m *Mapping) Tensor(offset int64, shape []int64, scalarType int) (unsafe.Pointer, error) {
	if m.h == nil {
		return nil, errors.New("tensor over a released mapping")
	}
	dims := C.malloc(C.size_t(len(shape)+1) * 8)
	defer C.free(dims)
	for i, d := range shape {
		*(*C.int64_t)(unsafe.Add(dims, i*8)) = C.int64_t(d)
	}
	var cerr *C.char
	t := C.captune_mapping_tensor(m.h, C.size_t(offset), (*C.int64_t)(dims), C.size_t(len(shape)), C.int(scalarType), &cerr)
	if t == nil {
		return nil, fmt.Errorf("tensor over mapping: %s", CString(unsafe.Pointer(cerr)))
	}
	return t, nil
}

// Release drops the owner's reference: the mapping goes when no tensor built over it is left.
func (m *Mapping) Release() {
	if m.h != nil {
		C.captune_mapping_release(m.h)
		m.h = nil
	}
}

// LiveMappings counts the mappings not yet unmapped, in the whole process (for tests).
func LiveMappings() int { return int(C.captune_mappings_live()) }

// SharesMapping reports whether a tensor handle's data lies in a live mapping.
func SharesMapping(tensor unsafe.Pointer) bool { return C.captune_shares_mapping(tensor) != 0 }

// OwnData gives a tensor (a libtorch tensor handle) a private contiguous copy of its data in
// place, as Python's `p.data = p.data.clone()`: every holder of the handle, autograd included, sees
// the copy. Training calls it on weights built over a mapping before it updates them.
func OwnData(tensor unsafe.Pointer) error {
	var cerr *C.char
	if C.captune_own_data(tensor, &cerr) != 0 {
		return fmt.Errorf("copy tensor data: %s", CString(unsafe.Pointer(cerr)))
	}
	return nil
}
