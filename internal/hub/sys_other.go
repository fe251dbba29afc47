//go:build !(linux || darwin || freebsd || windows)

package hub

import (
	"context"
	"errors"
	"syscall"
)

// lockFile does not lock on systems without flock or LockFileEx: concurrent pulls of one model
// there may both write the same partial file, and the checksum then refuses the result.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	return func() {}, nil
}

// freeSpace is unknown here: the disk-full error during the write still explains the failure.
func freeSpace(dir string) (int64, bool) { return 0, false }

// isDiskFull reports a write that failed for lack of space.
func isDiskFull(err error) bool { return errors.Is(err, syscall.ENOSPC) }
