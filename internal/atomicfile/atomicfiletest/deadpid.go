// Package atomicfiletest helps tests name the temporary files a killed Captune leaves behind.
package atomicfiletest

import (
	"os"
	"os/exec"
	"runtime"
	"testing"

	"github.com/captune/captune/internal/atomicfile"
)

// DeadPID returns the id of a process that has exited and been reaped: the test binary itself,
// started with no test to run. The test is skipped where there are no unix process ids, or when
// the id was given to another process at once (a temporary file named with it would look alive).
func DeadPID(t testing.TB) int {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("needs unix process ids")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatalf("start a process that exits: %v", err)
	}
	pid := cmd.ProcessState.Pid()
	if atomicfile.ProcessAlive(pid) {
		t.Skipf("pid %d was reused at once", pid)
	}
	return pid
}
