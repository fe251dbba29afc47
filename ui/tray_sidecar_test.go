package ui

import (
	"os"
	"path/filepath"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"
)

// TestTraySavesCaptionsByTheDatasetRule drops a.png from a folder where a.jpg already has a.txt,
// saves the tray's caption beside it, and finds it in a.png.txt (the name Open reads a.png's
// captions from), readable by all, with a.txt untouched.
func TestTraySavesCaptionsByTheDatasetRule(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "a.jpg"), []byte("a photo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "a.txt"), []byte("the jpeg's caption\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writePNG(t, filepath.Join(outside, "a.png"), 5)
	m, _ := openWindow(t, testDeps(&fakeCaptioner{name: "fake"}), makeDataset(t, 1, nil))
	onUIWait(func() { m.handleDrop([]fyne.URI{storage.NewFileURI(filepath.Join(outside, "a.png"))}) })
	waitTray(m)
	onUIWait(func() { m.tray.saveSidecars(m.tray.entries) })
	data, err := os.ReadFile(filepath.Join(outside, "a.png.txt"))
	if err != nil || string(data) != "a picture of a\n" {
		t.Errorf("a.png.txt = %q, %v; want the tray's caption", data, err)
	}
	if st, err := os.Stat(filepath.Join(outside, "a.png.txt")); err == nil && st.Mode().Perm() != 0o644 {
		t.Errorf("a.png.txt has mode %v, want 0644", st.Mode().Perm())
	}
	if data, _ := os.ReadFile(filepath.Join(outside, "a.txt")); string(data) != "the jpeg's caption\n" {
		t.Errorf("a.txt changed to %q", data)
	}
}
