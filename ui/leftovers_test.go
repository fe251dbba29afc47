package ui

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/captune/captune/internal/atomicfile"
	"github.com/captune/captune/internal/atomicfile/atomicfiletest"
)

// Opening a dataset where a killed Captune left a temporary file: the file is gone and the status
// bar says so.
func TestOpenSaysItRemovedLeftovers(t *testing.T) {
	dir := makeDataset(t, 2, map[int]string{0: "a red cube", 1: "a blue ball"})
	stale := filepath.Join(dir, ".img00.txt"+atomicfile.Marker+strconv.Itoa(atomicfiletest.DeadPID(t))+"-0a1b")
	if err := os.WriteFile(stale, []byte("half a caption"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, _ := openWindow(t, testDeps(&fakeCaptioner{name: "fake"}), dir)
	var status string
	onUIWait(func() { status = m.Status.Text })
	if !strings.HasPrefix(status, "Opened ") || !strings.Contains(status, "removed 1 leftover temporary file") {
		t.Errorf("status %q does not say the leftover was removed", status)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the killed Captune's temporary file is still there (%v)", err)
	}
}
