package ui

import (
	"fmt"
	"image"
	"image/color"
	"path"
	"sort"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/captune/captune/annotate"
)

// Badge is the review status of an image, shown on its thumbnail.
type Badge int

// The badges, from "needs the most work" to "done".
const (
	BadgeUncaptioned Badge = iota // no caption
	BadgeRejected                 // only rejected captions
	BadgeModel                    // a model caption waits for review
	BadgeImported                 // captions read from files, not reviewed
	BadgeHuman                    // written or edited by a person, not approved yet
	BadgeApproved                 // every caption that is not rejected is approved
)

// BadgeOf classifies an item for its thumbnail badge.
func BadgeOf(it *annotate.Item) Badge {
	if len(it.Captions) == 0 {
		return BadgeUncaptioned
	}
	live, approved, model, human := 0, 0, false, false
	for _, c := range it.Captions {
		if c.State == annotate.StateRejected {
			continue
		}
		live++
		switch {
		case c.State == annotate.StateApproved:
			approved++
		case c.Origin.IsModel():
			model = true
		case c.Origin == annotate.OriginHuman:
			human = true
		}
	}
	switch {
	case live == 0:
		return BadgeRejected
	case approved == live:
		return BadgeApproved
	case model:
		return BadgeModel
	case human:
		return BadgeHuman
	default:
		return BadgeImported
	}
}

// String names the badge as the filter language and tooltips do.
func (b Badge) String() string {
	return [...]string{"uncaptioned", "rejected", "model", "imported", "human", "approved"}[b]
}

func badgeIcon(b Badge) fyne.Resource {
	switch b {
	case BadgeApproved:
		return theme.NewSuccessThemedResource(theme.ConfirmIcon())
	case BadgeHuman:
		return theme.NewPrimaryThemedResource(theme.DocumentCreateIcon())
	case BadgeModel:
		return theme.NewWarningThemedResource(theme.SettingsIcon())
	case BadgeImported:
		return theme.DocumentIcon()
	case BadgeRejected:
		return theme.NewErrorThemedResource(theme.CancelIcon())
	}
	return nil
}

// thumbCell is one tile of the thumbnail grid: the image, its badge and its file name. An image
// that cannot be read gets a red error badge and says so where the picture would be; the ring
// shows where the keyboard is while the grid has the focus.
type thumbCell struct {
	widget.BaseWidget
	idx    int   // dataset index shown; -1 while unbound
	status Badge // the item's review badge
	failed bool  // the thumbnail could not be made
	shown  int   // what the badge shows (a Badge, or badgeFailed), so that rebinding redraws nothing
	img    *canvas.Image
	badge  *widget.Icon
	bgdot  *canvas.Circle
	name   *widget.Label
	errMsg *canvas.Text
	ring   *canvas.Rectangle
}

// badgeFailed is what thumbCell.shown holds while the error badge is drawn.
const badgeFailed = -2

func newThumbCell() *thumbCell {
	c := &thumbCell{idx: -1, shown: -1, img: &canvas.Image{FillMode: canvas.ImageFillContain, ScaleMode: canvas.ImageScaleFastest},
		badge: widget.NewIcon(nil), name: widget.NewLabel(""), bgdot: canvas.NewCircle(color.Transparent),
		errMsg: canvas.NewText("cannot read", theme.Color(theme.ColorNameError)),
		ring:   canvas.NewRectangle(color.Transparent)}
	c.img.SetMinSize(fyne.NewSize(thumbSize*3/4, thumbSize*3/4))
	c.name.Truncation = fyne.TextTruncateEllipsis
	c.name.Alignment = fyne.TextAlignCenter
	c.name.SizeName = theme.SizeNameCaptionText
	c.errMsg.TextSize = theme.CaptionTextSize()
	c.errMsg.Alignment = fyne.TextAlignCenter
	c.errMsg.Hide()
	c.ring.StrokeColor = theme.Color(theme.ColorNameFocus)
	c.ring.StrokeWidth = 2
	c.ring.CornerRadius = theme.SelectionRadiusSize()
	c.ring.Hide()
	c.ExtendBaseWidget(c)
	return c
}

// CreateRenderer is part of fyne.Widget.
func (c *thumbCell) CreateRenderer() fyne.WidgetRenderer { return &thumbRenderer{c} }

// thumbRenderer places the parts by hand: the image above the name, the badge in the image's
// top-right corner.
type thumbRenderer struct{ c *thumbCell }

func (r *thumbRenderer) Destroy() {}
func (r *thumbRenderer) Objects() []fyne.CanvasObject {
	return []fyne.CanvasObject{r.c.img, r.c.errMsg, r.c.bgdot, r.c.badge, r.c.name, r.c.ring}
}
func (r *thumbRenderer) Refresh() { r.Layout(r.c.Size()); canvas.Refresh(r.c) }
func (r *thumbRenderer) MinSize() fyne.Size {
	img, name := r.c.img.MinSize(), r.c.name.MinSize()
	return fyne.NewSize(max(img.Width, name.Width), img.Height+name.Height)
}
func (r *thumbRenderer) Layout(s fyne.Size) {
	nh := r.c.name.MinSize().Height
	r.c.name.Move(fyne.NewPos(0, s.Height-nh))
	r.c.name.Resize(fyne.NewSize(s.Width, nh))
	r.c.img.Move(fyne.NewPos(0, 0))
	r.c.img.Resize(fyne.NewSize(s.Width, s.Height-nh))
	eh := r.c.errMsg.MinSize().Height
	r.c.errMsg.Move(fyne.NewPos(0, (s.Height-nh-eh)/2))
	r.c.errMsg.Resize(fyne.NewSize(s.Width, eh))
	b := theme.IconInlineSize()
	pos := fyne.NewPos(s.Width-b-2, 2)
	r.c.bgdot.Move(pos)
	r.c.bgdot.Resize(fyne.NewSquareSize(b))
	r.c.badge.Move(pos)
	r.c.badge.Resize(fyne.NewSquareSize(b))
	r.c.ring.Move(fyne.NewPos(0, 0))
	r.c.ring.Resize(s)
}

// setBadge sets the review badge; an image that cannot be read keeps its error badge.
func (c *thumbCell) setBadge(b Badge) {
	c.status = b
	c.drawBadge()
}

// setFailed shows or hides the error badge and message of an image that cannot be read.
func (c *thumbCell) setFailed(failed bool) {
	c.failed = failed
	if failed != c.errMsg.Visible() {
		if failed {
			c.errMsg.Show()
		} else {
			c.errMsg.Hide()
		}
	}
	c.drawBadge()
}

func (c *thumbCell) drawBadge() {
	want := int(c.status)
	if c.failed {
		want = badgeFailed
	}
	if want == c.shown {
		return
	}
	c.shown = want
	switch {
	case c.failed:
		c.badge.SetResource(theme.NewErrorThemedResource(theme.ErrorIcon()))
	default:
		c.badge.SetResource(badgeIcon(c.status))
	}
	if want == int(BadgeUncaptioned) {
		c.bgdot.FillColor = color.Transparent
	} else {
		c.bgdot.FillColor = theme.Color(theme.ColorNameBackground)
	}
	c.bgdot.Refresh()
}

// setRing shows the focus ring.
func (c *thumbCell) setRing(on bool) {
	if on == c.ring.Visible() {
		return
	}
	if on {
		c.ring.Show()
	} else {
		c.ring.Hide()
	}
}

// bindCell shows dataset item idx in a grid cell; the thumbnail arrives from the loader.
func (m *MainWindow) bindCell(c *thumbCell, idx int) {
	ds := m.ds
	if ds == nil || idx < 0 || idx >= ds.Len() {
		return
	}
	it := ds.Item(idx)
	c.setBadge(BadgeOf(it))
	c.setRing(m.grid.focused && idx == m.current())
	// Setting a label's text shapes it again even when it is unchanged, and the grid rebinds
	// every visible cell on each selection: skip what did not change.
	if name := path.Base(it.Path); c.name.Text != name {
		c.name.SetText(name)
	}
	if c.idx == idx && (c.img.Image != nil || c.failed) {
		return
	}
	c.idx = idx
	abs := ds.AbsPath(it)
	if l, ok := m.images.cachedThumbnail(abs); ok {
		c.setThumb(l.img, nil)
		return
	}
	if err := m.images.failedThumbnail(abs); err != nil {
		c.setThumb(nil, err)
		return
	}
	c.setThumb(nil, nil)
	m.images.thumbnail(abs, func(l loaded, err error) {
		onUI(func() {
			if c.idx == idx && m.ds == ds {
				c.setThumb(l.img, err)
			}
		})
	})
}

// setThumb shows a thumbnail, or the error badge when err is set (the large view names the
// problem in full when the image is selected).
func (c *thumbCell) setThumb(img image.Image, err error) {
	c.img.Image = img
	c.img.Refresh()
	c.setFailed(err != nil)
}

// imageView is the large view of the current image, fitted to the space.
type imageView struct {
	img     *canvas.Image
	msg     *widget.Label
	content fyne.CanvasObject
	path    string
}

func newImageView() *imageView {
	v := &imageView{img: &canvas.Image{FillMode: canvas.ImageFillContain, ScaleMode: canvas.ImageScaleSmooth},
		msg: widget.NewLabel("Open a folder of images: File › Open Folder (Ctrl+O), or drop one here.")}
	v.msg.Alignment = fyne.TextAlignCenter
	// Wrapped inside a scroll, so that a long error can be read in full: a wrapping label outside
	// a scroll asks for a tall window before it knows its width.
	v.msg.Wrapping = fyne.TextWrapWord
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameInputBackground))
	msg := container.NewVScroll(container.NewVBox(layout.NewSpacer(), v.msg, layout.NewSpacer()))
	v.content = container.NewStack(bg, v.img, msg)
	return v
}

// showItem loads the current image into the large view and the status bar's item line.
func (m *MainWindow) showImage(idx int) {
	v := m.imgView
	if m.ds == nil || idx < 0 {
		v.path = ""
		v.img.Image = nil
		v.img.Refresh()
		v.msg.SetText("No image selected.")
		v.msg.Show()
		m.itemInfo.SetText("")
		m.statusBar.update()
		return
	}
	ds := m.ds
	it := ds.Item(idx)
	abs := ds.AbsPath(it)
	v.path = abs
	info := func(l *loaded) {
		s := path.Base(it.Path)
		if l != nil {
			s += fmt.Sprintf(" · %d×%d", l.w, l.h)
		}
		if it.Split != annotate.SplitNone {
			s += " · " + string(it.Split)
		}
		m.itemInfo.SetText(s)
		m.statusBar.update()
	}
	set := func(l loaded) {
		v.img.Image = l.img
		v.img.Refresh()
		v.msg.Hide()
		info(&l)
	}
	if l, ok := m.images.cachedPreview(abs); ok {
		set(l)
	} else {
		v.img.Image = nil
		v.img.Refresh()
		v.msg.SetText("Loading…")
		v.msg.Show()
		info(nil)
		m.images.preview(abs, func(l loaded, err error) {
			onUI(func() {
				if m.closed || v.path != abs {
					return
				}
				if err != nil {
					v.msg.SetText(fmt.Sprintf("Cannot show this image: %v", err))
					v.msg.Show()
					return
				}
				set(l)
			})
		})
	}
	// Decode the neighbours ahead, so that Alt+↓ shows the next image at once.
	for _, p := range []int{m.cur + 1, m.cur - 1} {
		if p >= 0 && p < len(m.view) {
			n := ds.AbsPath(ds.Item(m.view[p]))
			if _, ok := m.images.cachedPreview(n); !ok {
				m.images.preview(n, func(loaded, error) {})
			}
		}
	}
}

// posOf returns the position of dataset item idx in the current view, or -1.
func (m *MainWindow) posOf(idx int) int {
	p := sort.SearchInts(m.view, idx)
	if p < len(m.view) && m.view[p] == idx {
		return p
	}
	return -1
}

// current returns the dataset index of the current image, or -1.
func (m *MainWindow) current() int {
	if m.cur < 0 || m.cur >= len(m.view) {
		return -1
	}
	return m.view[m.cur]
}

// selectPos makes view position pos current: commits the editor, selects the tile, scrolls to it
// and shows the image and captions.
func (m *MainWindow) selectPos(pos int) {
	if pos < 0 || pos >= len(m.view) {
		return
	}
	m.editor.commit()
	m.cur = pos
	m.selecting = true
	m.grid.Select(pos)
	m.selecting = false
	m.grid.ScrollTo(pos)
	m.showCurrent()
}

func (m *MainWindow) showCurrent() {
	idx := m.current()
	m.editor.show(idx)
	m.showImage(idx)
	// A click or a key in the grid leaves the keyboard there, to go on browsing; Enter edits.
	if idx >= 0 && len(m.editor.rows) > 0 && !m.filterFocused() && !m.gridFocused() {
		m.editor.focusRow(0)
	}
}

func (m *MainWindow) filterFocused() bool {
	return m.Window.Canvas().Focused() == fyne.Focusable(m.filterEntry)
}

// next moves to the next (delta 1) or previous (-1) image of the view.
func (m *MainWindow) next(delta int) {
	if len(m.view) == 0 {
		return
	}
	p := m.cur + delta
	if m.cur < 0 {
		p = 0
	}
	if p < 0 || p >= len(m.view) {
		m.editor.commit()
		m.setStatus("No more images in this direction.")
		return
	}
	m.selectPos(p)
}

// nextUncaptioned moves to the next image without a caption, wrapping around the view.
func (m *MainWindow) nextUncaptioned() {
	if m.ds == nil || len(m.view) == 0 {
		return
	}
	m.editor.commit()
	n := len(m.view)
	for k := 1; k <= n; k++ {
		p := (m.cur + k) % n
		if m.cur < 0 {
			p = k - 1
		}
		if !m.ds.Item(m.view[p]).HasCaption() {
			m.selectPos(p)
			return
		}
	}
	m.setStatus("Every image in view has a caption.")
}

// approveAndNext approves every unreviewed caption of the current image and moves on.
func (m *MainWindow) approveAndNext() {
	idx := m.current()
	if idx < 0 {
		return
	}
	m.editor.commit()
	it := m.ds.Item(idx)
	if !it.HasCaption() {
		m.setStatus("Nothing to approve: type a caption first (or Ctrl+G to generate one).")
		return
	}
	for c, cp := range it.Captions {
		if cp.State == annotate.StateUnreviewed {
			if err := m.ds.SetState(idx, c, annotate.StateApproved); err != nil {
				m.showError("approve the caption", err, "")
				return
			}
		}
	}
	m.next(1)
}

// rejectActive marks the caption the keyboard is in (or the first) rejected.
func (m *MainWindow) rejectActive() {
	idx := m.current()
	if idx < 0 {
		return
	}
	m.editor.commit()
	c := m.editor.activeCaption()
	if c < 0 {
		return
	}
	if err := m.ds.SetState(idx, c, annotate.StateRejected); err != nil {
		m.showError("reject the caption", err, "")
	}
}

func (m *MainWindow) undo() {
	if m.ds == nil {
		return
	}
	m.editor.commit()
	m.historyStep("Undid", "Nothing to undo.", m.ds.NextUndo(), m.ds.Undo, true)
}

func (m *MainWindow) redo() {
	if m.ds == nil {
		return
	}
	m.editor.commit()
	m.historyStep("Redid", "Nothing to redo.", m.ds.NextRedo(), m.ds.Redo, false)
}

// historyStep runs an Undo or Redo (do) of the edit to items and says in the status bar what it
// took back or applied again. undo says which way the edit runs: an Undo goes from the edited
// items back to the ones before.
func (m *MainWindow) historyStep(verb, none string, items []int, do func() bool, undo bool) {
	before := m.snapshot(items)
	if !do() {
		m.setStatus(none)
		return
	}
	after := m.snapshot(items)
	if undo {
		before, after = after, before
	}
	m.setStatus(verb + ": " + describeEdit(before, after) + ".")
}

func (m *MainWindow) snapshot(items []int) []*annotate.Item {
	out := make([]*annotate.Item, len(items))
	for k, i := range items {
		out[k] = m.ds.Item(i)
	}
	return out
}

// describeEdit says in a few words what changed from old to new (the same items, in order): "new
// caption on cat.jpg", "caption approved on cat.jpg", "edits to 12 images".
func describeEdit(old, new []*annotate.Item) string {
	if len(old) != 1 || len(new) != 1 {
		return "edits to " + plural(len(new), "image")
	}
	o, n := old[0], new[0]
	name := path.Base(n.Path)
	switch {
	case len(n.Captions) > len(o.Captions):
		return "new caption on " + name
	case len(n.Captions) < len(o.Captions):
		return "caption removed from " + name
	case o.Split != n.Split:
		return "split of " + name
	}
	for c := range n.Captions {
		switch oc, nc := o.Captions[c], n.Captions[c]; {
		case oc.Text != nc.Text:
			return "caption edit on " + name
		case oc.State != nc.State && nc.State == annotate.StateUnreviewed:
			return "caption marked unreviewed on " + name
		case oc.State != nc.State:
			return "caption " + string(nc.State) + " on " + name
		}
	}
	return "edit of " + name
}

// applyFilter re-reads the filter box and shows the images it selects, keeping the current image
// when it is still among them.
func (m *MainWindow) applyFilter(text string) {
	if m.ds == nil {
		return
	}
	f, err := ParseFilter(text)
	if err != nil {
		m.filterInfo.SetText(err.Error())
		return
	}
	view, err := m.ds.Filter(f)
	if err != nil {
		m.filterInfo.SetText(err.Error())
		return
	}
	m.editor.commit()
	keep := m.current()
	m.filter = f
	m.view = view
	m.grid.UnselectAll()
	m.grid.Refresh()
	m.updateFilterInfo()
	m.cur = -1
	if p := m.posOf(keep); p >= 0 {
		m.selectPos(p)
	} else if len(view) > 0 {
		m.selectPos(0)
	} else {
		m.editor.show(-1)
		m.showImage(-1)
	}
}

func (m *MainWindow) updateFilterInfo() {
	if m.ds == nil {
		m.filterInfo.SetText("")
		return
	}
	if isEmptyFilter(m.filter) {
		m.filterInfo.SetText(fmt.Sprintf("%d images", m.ds.Len()))
		return
	}
	m.filterInfo.SetText(fmt.Sprintf("%d of %d images", len(m.view), m.ds.Len()))
}
