//go:build !linux

package torchx

// LimitHeapRetention makes freed tensors of 1 MiB or more go back to the operating system at once
// where the C library allows setting that (glibc on Linux); elsewhere it does nothing.
func LimitHeapRetention() {}
