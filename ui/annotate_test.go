package ui

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

	"github.com/captune/captune/annotate"
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
	onUIWait(func() { m.grid.ScrollTo(pos) })
	cols, pad := m.grid.ColumnCount(), theme.Padding()
	cell := newThumbCell().MinSize()
	at := fyne.CurrentApp().Driver().AbsolutePositionForObject(m.grid).Add(fyne.NewPos(
		float32(pos%cols)*(cell.Width+pad)+cell.Width/2,
		float32(pos/cols)*(cell.Height+pad)-m.grid.GetScrollOffset()+cell.Height/2))
	onUIWait(func() { test.TapCanvas(m.Window.Canvas(), at) })
}

// typeKey sends a key to whatever has the keyboard focus.
func typeKey(t *testing.T, m *MainWindow, k fyne.KeyName) {
	t.Helper()
	f := m.Window.Canvas().Focused()
	if f == nil {
		t.Fatalf("key %s: nothing has the focus", k)
	}
	onUIWait(func() { f.TypedKey(&fyne.KeyEvent{Name: k}) })
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
	waitImages(m)
	onUIWait(m.grid.Refresh)
	c := cellAt(t, m, pos)
	if !c.failed || !c.errMsg.Visible() || c.shown != badgeFailed {
		t.Errorf("thumbnail of the broken image: failed %v, message shown %v, badge %d; want the error badge", c.failed, c.errMsg.Visible(), c.shown)
	}
	if ok := cellAt(t, m, m.posOf(0)); ok.failed || ok.errMsg.Visible() {
		t.Error("a readable image shows the error badge")
	}

	onUIWait(func() { m.selectPos(pos) })
	waitImages(m)
	waitFor(t, "the preview's message", func() bool {
		var text string
		onUIWait(func() { text = m.imgView.msg.Text })
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
	onUIWait(func() { m.OpenFolder(dir) })
	var status string
	waitFor(t, "the folder to open", func() bool {
		onUIWait(func() { status = m.Status.Text })
		return strings.HasPrefix(status, "Opened")
	})
	if !strings.Contains(status, "2 images in sub-folders not shown") {
		t.Errorf("status %q: want it to say that 2 images in sub-folders are not shown", status)
	}

	// A folder whose images are all in sub-folders says where they are.
	only := t.TempDir()
	if err := os.MkdirAll(filepath.Join(only, "cats"), 0o755); err != nil {
		t.Fatal(err)
	}
	writePNG(t, filepath.Join(only, "cats", "a.png"), 1)
	onUIWait(func() { m.OpenFolder(only) })
	waitFor(t, "the second folder to open", func() bool {
		onUIWait(func() { status = m.Status.Text })
		return strings.HasPrefix(status, "Opened "+only)
	})
	var view string
	onUIWait(func() { view = m.imgView.msg.Text })
	if !strings.Contains(view, "1 image in its sub-folders") {
		t.Errorf("the image view says %q, want it to point to the image in a sub-folder", view)
	}
}

// Browsing images with long names and long captions, some from a model with a long name, never
// makes the window ask for more width than it opened with.
func TestBrowsingKeepsWindowWidth(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("a-very-long-file-name-", 8)
	caption := strings.Repeat("a caption that goes on and on about the picture ", 6)
	for i := range 4 {
		name := fmt.Sprintf("%s%02d", long, i)
		writePNG(t, filepath.Join(dir, name+".png"), i)
		if i%2 == 0 {
			if err := os.WriteFile(filepath.Join(dir, name+".txt"), []byte(caption+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	m, _ := openWindow(t, testDeps(&fakeCaptioner{name: "fake"}), dir)
	start := m.Window.Content().MinSize().Width
	if start > 1280 {
		t.Fatalf("the window asks for %v px at the start, want at most 1280", start)
	}
	// Nor does the caption column push the splits: its minimum stays what it was.
	column := m.editor.content.MinSize().Width
	onUIWait(func() {
		m.applyModelCaption(1, caption, annotate.ModelOrigin("org/"+strings.Repeat("fine-tuned-blip-", 8)), existingAdd)
	})
	for step := range 4 {
		waitImages(m)
		settle(m)
		onUIWait(func() { m.setStatus("Showing " + m.ds.Item(m.current()).Path + " after " + caption) })
		if w := m.Window.Content().MinSize().Width; w > 1280 {
			t.Errorf("image %d: the window asks for %v px, want at most 1280%s", m.current(), w, widest(m.Window.Content(), 1280))
		}
		if w := m.editor.content.MinSize().Width; w > column {
			t.Errorf("image %d: the caption column asks for %v px, more than the %v it started with%s", m.current(), w, column, widest(m.editor.content, 3*column))
		}
		if step < 3 {
			press(t, m, alt(fyne.KeyDown))
		}
	}
	// A job whose line names a long model folder is cut too.
	onUIWait(func() { m.job.begin("Loading /models/"+long+"/"+long+" on cpu…", "img", 4, func() {}) })
	onUIWait(func() { m.tray.show() })
	onUIWait(func() { m.tray.title.SetText("Loading /models/" + long + "/" + long + "…") })
	if w := m.Window.Content().MinSize().Width; w > 1280 {
		t.Errorf("with a long job line: the window asks for %v px, want at most 1280%s", w, widest(m.Window.Content(), 1280))
	}
	onUIWait(func() { m.job.end("") })
}

// widest names the objects under o that ask for more than limit px, to say which text grew.
func widest(o fyne.CanvasObject, limit float32) string {
	var s string
	for _, c := range test.LaidOutObjects(o) {
		if w, ok := c.(fyne.Widget); ok && c.MinSize().Width > limit/3 {
			s += fmt.Sprintf("\n  %T %v", w, c.MinSize().Width)
		}
	}
	return s
}

// Undo and Redo say in the status bar what they took back or applied again.
func TestUndoRedoSayWhat(t *testing.T) {
	dir := makeDataset(t, 3, map[int]string{1: "a blue square"})
	m, ds := openWindow(t, testDeps(&fakeCaptioner{name: "fake"}), dir)
	press(t, m, &fyne.ShortcutUndo{})
	if got := m.Status.Text; got != "Nothing to undo." {
		t.Errorf("Ctrl+Z on a fresh dataset: status %q", got)
	}
	typeText(m.editor.rows[0].entry, "a red cube")
	press(t, m, alt(fyne.KeyDown))
	press(t, m, ctrl(fyne.KeyReturn)) // approve image 1 and move on
	if err := ds.SetSplit(2, annotate.SplitVal); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name     string
		shortcut fyne.Shortcut
		want     string
	}{
		{"undo split", &fyne.ShortcutUndo{}, "Undid: split of img02.png."},
		{"undo approve", &fyne.ShortcutUndo{}, "Undid: caption approved on img01.png."},
		{"undo typing", &fyne.ShortcutUndo{}, "Undid: new caption on img00.png."},
		{"nothing left", &fyne.ShortcutUndo{}, "Nothing to undo."},
		{"redo typing", ctrlShift(fyne.KeyZ), "Redid: new caption on img00.png."},
		{"redo approve", ctrlShift(fyne.KeyZ), "Redid: caption approved on img01.png."},
		{"redo split", ctrlShift(fyne.KeyZ), "Redid: split of img02.png."},
		{"nothing to redo", ctrlShift(fyne.KeyZ), "Nothing to redo."},
	}
	for _, s := range steps {
		press(t, m, s.shortcut)
		if got := m.Status.Text; got != s.want {
			t.Errorf("%s: status %q, want %q", s.name, got, s.want)
		}
	}
}

func TestDescribeEdit(t *testing.T) {
	caption := func(text string, s annotate.State) annotate.Caption {
		return annotate.Caption{Text: text, Origin: annotate.OriginHuman, State: s}
	}
	item := func(caps ...annotate.Caption) *annotate.Item {
		return &annotate.Item{Path: "sub/cat.jpg", Captions: caps}
	}
	a, b := caption("a cat", annotate.StateUnreviewed), caption("a black cat", annotate.StateUnreviewed)
	tests := []struct {
		name     string
		old, new []*annotate.Item
		want     string
	}{
		{"added", []*annotate.Item{item()}, []*annotate.Item{item(a)}, "new caption on cat.jpg"},
		{"removed", []*annotate.Item{item(a, b)}, []*annotate.Item{item(a)}, "caption removed from cat.jpg"},
		{"edited", []*annotate.Item{item(a)}, []*annotate.Item{item(b)}, "caption edit on cat.jpg"},
		{"rejected", []*annotate.Item{item(a)}, []*annotate.Item{item(caption("a cat", annotate.StateRejected))}, "caption rejected on cat.jpg"},
		{"unreviewed", []*annotate.Item{item(caption("a cat", annotate.StateApproved))}, []*annotate.Item{item(a)}, "caption marked unreviewed on cat.jpg"},
		{"many", []*annotate.Item{item(), item()}, []*annotate.Item{item(a), item(b)}, "edits to 2 images"},
	}
	for _, tt := range tests {
		if got := describeEdit(tt.old, tt.new); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
