package ui

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"

	"github.com/captune/captune/annotate"
)

// trayRowOf returns the tray row that shows entry e.
func trayRowOf(t *testing.T, m *MainWindow, e *trayEntry) *trayRow {
	t.Helper()
	var row *trayRow
	onUIWait(func() {
		for _, o := range test.LaidOutObjects(m.tray.list) {
			if r, ok := o.(*trayRow); ok && r.entry == e {
				row = r
			}
		}
	})
	if row != nil {
		return row
	}
	t.Fatalf("no tray row shows %s", e.Path)
	return nil
}

// A caption in the drop tray can be edited before the image is added; "Add all" pressed again, or
// after the same files were dropped again, adds nothing twice and says the images are there.
func TestTrayEditThenAddAllTwice(t *testing.T) {
	dir := makeDataset(t, 2, nil)
	outside := t.TempDir()
	var uris []fyne.URI
	for i, name := range []string{"drop1.png", "drop2.png"} {
		p := filepath.Join(outside, name)
		writePNG(t, p, 5+i)
		uris = append(uris, storage.NewFileURI(p))
	}
	m, _ := openWindow(t, testDeps(&fakeCaptioner{name: "fake"}), dir)
	onUIWait(func() { m.Drop(uris) })
	waitTray(m)
	onUIWait(func() { m.tray.list.Refresh() })

	r := trayRowOf(t, m, m.tray.entries[0])
	if r.caption.Disabled() || r.caption.Text != "a picture of drop1" {
		t.Fatalf("tray caption field: %q (disabled %v), want the model's caption, editable", r.caption.Text, r.caption.Disabled())
	}
	r.caption.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEnd})
	typeText(r.caption, " on a table")
	if got := r.note.Text; got != "your caption" {
		t.Errorf("note after editing: %q", got)
	}

	tap(m.tray.addAll)
	ds := m.Dataset()
	if ds.Len() != 4 {
		t.Fatalf("dataset has %d images after Add all, want 4", ds.Len())
	}
	wantCaps := map[string]annotate.Caption{
		"drop1.png": {Text: "a picture of drop1 on a table", Origin: annotate.OriginHuman, State: annotate.StateUnreviewed},
		"drop2.png": {Text: "a picture of drop2", Origin: annotate.ModelOrigin("fake"), State: annotate.StateUnreviewed},
	}
	for name, want := range wantCaps {
		i, ok := ds.Index(name)
		if !ok {
			t.Fatalf("%s is not in the dataset", name)
		}
		if got := ds.Item(i).Captions; !reflect.DeepEqual(got, []annotate.Caption{want}) {
			t.Errorf("%s captions %+v, want %+v", name, got, want)
		}
	}
	if r := trayRowOf(t, m, m.tray.entries[0]); !r.addBtn.Disabled() || r.note.Text != "in the dataset as drop1.png" {
		t.Errorf("added row: Add enabled %v, note %q", !r.addBtn.Disabled(), r.note.Text)
	}

	steps := []struct {
		name string
		do   func()
	}{
		{"Add all again", func() {}},
		{"dropped again after Clear", func() {
			onUIWait(func() { m.tray.clear() })
			onUIWait(func() { m.Drop(uris) })
			waitTray(m)
		}},
	}
	for _, s := range steps {
		s.do()
		tap(m.tray.addAll)
		if n := m.Dataset().Len(); n != 4 {
			t.Errorf("%s: dataset has %d images, want still 4", s.name, n)
		}
		if !strings.Contains(m.Status.Text, "2 images are already in the dataset (drop1.png, drop2.png)") {
			t.Errorf("%s: status %q, want it to say the images are already in the dataset", s.name, m.Status.Text)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "drop1-2.png")); !os.IsNotExist(err) {
		t.Errorf("drop1-2.png was written (%v): an image was added twice", err)
	}
}
