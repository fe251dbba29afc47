//go:build !linux

package torchx

// ReleaseFreed gives the C heap's free memory back to the operating system where the C library
// offers that (glibc's malloc_trim on Linux); elsewhere it does nothing.
func ReleaseFreed() {}
