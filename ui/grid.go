package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// thumbGrid is the grid of thumbnails. Clicking a thumbnail leaves the keyboard in the grid, where
// the arrow keys, Page Up/Down, Home and End move through the images (not through the text of a
// caption, as they would if the click focused the editor); Enter moves into the captions to edit
// them.
//
// Fyne's GridWrap moves a "focused cell" highlight of its own with the arrow keys, apart from the
// selection; this grid moves the selection itself and draws the keyboard focus as a ring around
// the current thumbnail (see thumbCell), so there is only one place the keyboard is.
type thumbGrid struct {
	widget.GridWrap
	m       *MainWindow
	focused bool
	cellH   float32 // height of one cell, for Page Up/Down
}

func newThumbGrid(m *MainWindow) *thumbGrid {
	g := &thumbGrid{m: m}
	g.Length = func() int { return len(m.view) }
	g.CreateItem = func() fyne.CanvasObject { return newThumbCell() }
	g.UpdateItem = func(id widget.GridWrapItemID, o fyne.CanvasObject) {
		if id < len(m.view) {
			m.bindCell(o.(*thumbCell), m.view[id])
		}
	}
	g.cellH = newThumbCell().MinSize().Height
	g.ExtendBaseWidget(g)
	return g
}

// FocusGained shows the focus ring on the current thumbnail (and not GridWrap's own highlight).
func (g *thumbGrid) FocusGained() {
	g.focused = true
	g.refreshCurrent()
}

// FocusLost hides the focus ring.
func (g *thumbGrid) FocusLost() {
	g.focused = false
	g.refreshCurrent()
}

func (g *thumbGrid) refreshCurrent() {
	if g.m.cur >= 0 {
		g.RefreshItem(g.m.cur)
	}
}

// TypedKey moves through the images, or into the captions on Enter.
func (g *thumbGrid) TypedKey(ev *fyne.KeyEvent) {
	switch ev.Name {
	case fyne.KeyReturn, fyne.KeyEnter:
		g.m.editCaptions()
		return
	}
	if p, ok := g.target(ev.Name); ok && p != g.m.cur {
		g.m.selectPos(p)
	}
}

// TypedRune ignores text: the grid has nothing to type into.
func (g *thumbGrid) TypedRune(rune) {}

// target is the view position key moves to from the current image; ok is false for keys that do
// not move. Up and Down move a row, Left and Right one image, Page Up/Down a screenful of rows;
// moves stop at the first and last image.
func (g *thumbGrid) target(key fyne.KeyName) (pos int, ok bool) {
	n := len(g.m.view)
	if n == 0 {
		return 0, false
	}
	cur, cols := max(g.m.cur, 0), max(g.ColumnCount(), 1)
	page := cols * g.visibleRows()
	switch key {
	case fyne.KeyUp:
		pos = cur - cols
	case fyne.KeyDown:
		pos = cur + cols
	case fyne.KeyLeft:
		pos = cur - 1
	case fyne.KeyRight:
		pos = cur + 1
	case fyne.KeyPageUp:
		pos = cur - page
	case fyne.KeyPageDown:
		pos = cur + page
	case fyne.KeyHome:
		pos = 0
	case fyne.KeyEnd:
		pos = n - 1
	default:
		return 0, false
	}
	if g.m.cur < 0 {
		return 0, true // the first key picks the first image
	}
	return min(max(pos, 0), n-1), true
}

// visibleRows is how many whole rows of thumbnails the grid shows (at least one).
func (g *thumbGrid) visibleRows() int {
	row := g.cellH + g.Theme().Size(theme.SizeNamePadding)
	if row <= 0 {
		return 1
	}
	return max(int((g.Size().Height+g.Theme().Size(theme.SizeNamePadding))/row), 1)
}

// gridFocused reports whether the keyboard is in the grid.
func (m *MainWindow) gridFocused() bool {
	return m.Window.Canvas().Focused() == fyne.Focusable(m.grid)
}

// editCaptions moves the keyboard into the first caption of the current image.
func (m *MainWindow) editCaptions() {
	if m.current() < 0 || len(m.editor.rows) == 0 {
		return
	}
	m.editor.focusRow(0)
}
