package app

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// TestPackage builds the Linux release archive (make package) from a fresh worktree of HEAD, checks
// that packaging left that worktree's git status empty and that the archive holds LICENSE and
// THIRD_PARTY_NOTICES.md, and runs the unpacked program where neither the development libtorch nor
// the virtualenv can be seen: scripts/test_package.sh. It takes minutes, so it runs only when asked:
//
//	CAPTUNE_PACKAGE_TEST=1 go test -timeout 60m -run TestPackage ./app/
//
// CAPTUNE_PACKAGE=path/to/archive.tar.xz tests an archive already built instead of building one.
func TestPackage(t *testing.T) {
	if os.Getenv("CAPTUNE_PACKAGE_TEST") != "1" {
		t.Skip("builds, unpacks and runs the release archive, which takes minutes: set CAPTUNE_PACKAGE_TEST=1 to run it")
	}
	if runtime.GOOS != "linux" {
		t.Skipf("the archive is built for Linux; this is %s", runtime.GOOS)
	}
	args := []string{filepath.Join("..", "scripts", "test_package.sh")}
	if a := os.Getenv("CAPTUNE_PACKAGE"); a != "" {
		args = append(args, a)
	}
	out, err := exec.Command("bash", args...).CombinedOutput()
	t.Logf("scripts/test_package.sh:\n%s", out)
	if err != nil {
		t.Fatalf("scripts/test_package.sh: %v", err)
	}
}
