//go:build !linux

package annotate

// readSidecar reads a small file; only Linux has a faster path.
func readSidecar(abs string, limit int64) ([]byte, stamp, error) {
	return readStamped(abs, limit)
}
