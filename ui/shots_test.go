package ui

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// capture writes the window's canvas as dir/name.png when CAPTUNE_UI_SHOTS names a folder.
func capture(t *testing.T, m *MainWindow, name string) {
	t.Helper()
	dir := os.Getenv("CAPTUNE_UI_SHOTS")
	if dir == "" {
		return
	}
	img := m.Capture()
	f, err := os.Create(filepath.Join(dir, name+".png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}
