//go:build !unix

package annotate

import "os"

// processAlive reports whether a process with this id exists; on Windows FindProcess opens it.
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	p.Release()
	return true
}
