package ui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
)

// cellAt returns the grid cell that shows view position pos, failing when none is laid out.
func cellAt(t *testing.T, m *MainWindow, pos int) *thumbCell {
	t.Helper()
	for _, o := range test.LaidOutObjects(m.grid) {
		if c, ok := o.(*thumbCell); ok && c.idx == m.view[pos] && c.Visible() {
			return c
		}
	}
	t.Fatalf("no thumbnail cell shows view position %d", pos)
	return nil
}

// clickThumb clicks the middle of the thumbnail at view position pos (scrolled into view), as
// the mouse does.
func clickThumb(t *testing.T, m *MainWindow, pos int) {
	t.Helper()
	m.grid.ScrollTo(pos)
	cols, pad := m.grid.ColumnCount(), theme.Padding()
	cell := newThumbCell().MinSize()
	at := fyne.CurrentApp().Driver().AbsolutePositionForObject(m.grid).Add(fyne.NewPos(
		float32(pos%cols)*(cell.Width+pad)+cell.Width/2,
		float32(pos/cols)*(cell.Height+pad)-m.grid.GetScrollOffset()+cell.Height/2))
	test.TapCanvas(m.Window.Canvas(), at)
}

// typeKey sends a key to whatever has the keyboard focus.
func typeKey(t *testing.T, m *MainWindow, k fyne.KeyName) {
	t.Helper()
	f := m.Window.Canvas().Focused()
	if f == nil {
		t.Fatalf("key %s: nothing has the focus", k)
	}
	f.TypedKey(&fyne.KeyEvent{Name: k})
}

// Clicking a thumbnail leaves the keyboard in the grid, where the arrow keys, Page Up/Down, Home
// and End move through the images without touching any caption; Enter then edits.
func TestGridKeyboardNavigation(t *testing.T) {
	dir := makeDataset(t, 23, map[int]string{2: "a caption the arrows must not edit"})
	m, ds := openWindow(t, testDeps(&fakeCaptioner{name: "fake"}), dir)
	cols := m.grid.ColumnCount()
	page := cols * m.grid.visibleRows()
	if cols < 2 || page >= 23 {
		t.Fatalf("grid of %d columns, %d images a page: the test wants a 2-D grid that scrolls", cols, page)
	}

	clickThumb(t, m, 2)
	if m.cur != 2 {
		t.Fatalf("click on thumbnail 2: current is %d", m.cur)
	}
	if m.Window.Canvas().Focused() != fyne.Focusable(m.grid) {
		t.Fatalf("after a click on a thumbnail the focus is on %T, want the grid", m.Window.Canvas().Focused())
	}
	if !cellAt(t, m, 2).ring.Visible() {
		t.Error("the current thumbnail shows no focus ring")
	}

	steps := []struct {
		key  fyne.KeyName
		want int
	}{
		{fyne.KeyRight, 3},
		{fyne.KeyDown, 3 + cols},
		{fyne.KeyLeft, 2 + cols},
		{fyne.KeyUp, 2},
		{fyne.KeyUp, 0}, // stops at the first image
		{fyne.KeyLeft, 0},
		{fyne.KeyPageDown, page},
		{fyne.KeyPageUp, 0},
		{fyne.KeyEnd, 22},
		{fyne.KeyRight, 22},
		{fyne.KeyDown, 22},
		{fyne.KeyHome, 0},
		{fyne.KeyRight, 1},
		{fyne.KeyRight, 2},
	}
	for i, s := range steps {
		typeKey(t, m, s.key)
		if m.cur != s.want {
			t.Fatalf("step %d, %s: current is %d, want %d", i, s.key, m.cur, s.want)
		}
		if m.Window.Canvas().Focused() != fyne.Focusable(m.grid) {
			t.Fatalf("step %d, %s: the focus left the grid for %T", i, s.key, m.Window.Canvas().Focused())
		}
	}
	if got := captionTexts(ds.Item(2)); len(got) != 1 || got[0] != "a caption the arrows must not edit" {
		t.Errorf("the arrow keys changed a caption: %q", got)
	}

	typeKey(t, m, fyne.KeyReturn)
	if m.Window.Canvas().Focused() != fyne.Focusable(m.editor.rows[0].entry) {
		t.Fatalf("Enter in the grid: the focus is on %T, want the first caption", m.Window.Canvas().Focused())
	}
	if cellAt(t, m, 2).ring.Visible() {
		t.Error("the focus ring stays after the grid lost the focus")
	}

	// Tab from the filter box reaches the grid, whose keys then work again.
	m.Window.Canvas().Focus(m.filterEntry)
	test.FocusNext(m.Window.Canvas())
	if m.Window.Canvas().Focused() != fyne.Focusable(m.grid) {
		t.Fatalf("Tab from the filter box: the focus is on %T, want the grid", m.Window.Canvas().Focused())
	}
	typeKey(t, m, fyne.KeyDown)
	if m.cur != 2+cols {
		t.Errorf("Down after Tab: current is %d, want %d", m.cur, 2+cols)
	}
}

// An image that cannot be decoded gets an error badge on its thumbnail, and the large view shows
// the whole error, wrapped, without widening the window.
func TestCorruptImageShowsErrorBadgeAndWholeMessage(t *testing.T) {
	dir := makeDataset(t, 3, nil)
	broken := filepath.Join(dir, "img01-"+strings.Repeat("long-name-", 12)+".png")
	if err := os.WriteFile(broken, []byte("this is not a PNG file"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, ds := openWindow(t, testDeps(&fakeCaptioner{name: "fake"}), dir)
	pos := m.posOf(1)
	if ds.Item(1).Path != filepath.Base(broken) || pos < 0 {
		t.Fatalf("item 1 is %s, want the broken file", ds.Item(1).Path)
	}
	m.images.wait()
	m.grid.Refresh()
	c := cellAt(t, m, pos)
	if !c.failed || !c.errMsg.Visible() || c.shown != badgeFailed {
		t.Errorf("thumbnail of the broken image: failed %v, message shown %v, badge %d; want the error badge", c.failed, c.errMsg.Visible(), c.shown)
	}
	if ok := cellAt(t, m, m.posOf(0)); ok.failed || ok.errMsg.Visible() {
		t.Error("a readable image shows the error badge")
	}

	m.selectPos(pos)
	m.images.wait()
	waitFor(t, "the preview's message", func() bool {
		var text string
		fyne.DoAndWait(func() { text = m.imgView.msg.Text })
		return strings.HasPrefix(text, "Cannot show this image")
	})
	msg := m.imgView.msg
	if !strings.Contains(msg.Text, filepath.Base(broken)) || msg.Wrapping != fyne.TextWrapWord || msg.Truncation != fyne.TextTruncateOff {
		t.Errorf("preview message %q (wrapping %v, truncation %v): want the whole error, wrapped", msg.Text, msg.Wrapping, msg.Truncation)
	}
	relayout(m.Window.Content())
	if w := m.Window.Content().MinSize().Width; w > 1280 {
		t.Errorf("the window asks for %v px wide with the error shown, want at most 1280", w)
	}
}

// Opening a folder with images in sub-folders says how many are not shown.
func TestOpenFolderTellsAboutSubfolders(t *testing.T) {
	dir := makeDataset(t, 2, nil)
	for _, sub := range []string{"more", "more/deeper"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		writePNG(t, filepath.Join(dir, sub, "x.png"), 3)
	}
	m, _ := openWindow(t, testDeps(&fakeCaptioner{name: "fake"}), "")
	m.OpenFolder(dir)
	var status string
	waitFor(t, "the folder to open", func() bool {
		fyne.DoAndWait(func() { status = m.Status.Text })
		return strings.HasPrefix(status, "Opened")
	})
	if !strings.Contains(status, "2 images in sub-folders not shown") {
		t.Errorf("status %q: want it to say that 2 images in sub-folders are not shown", status)
	}
}
