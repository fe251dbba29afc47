//go:build !unix

package atomicfile

import "os"

// ProcessAlive reports whether a process with this id exists; on Windows FindProcess opens it.
func ProcessAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	p.Release()
	return true
}
