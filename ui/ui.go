// Package ui holds Captune's Fyne screens. It depends only on small interfaces of the domain
// packages (see deps.go), so every screen can be built and tested with fakes; package app wires the
// real dataset, model and trainer in. Package ui never links libtorch.
//
// Threading: every widget is touched on the UI goroutine only. Long work (opening a folder,
// decoding images, captioning, training, evaluating, exporting) runs on goroutines that hand
// results back through fyne.Do; dataset change notifications, which may come from the autosaver's
// goroutine, hop over the same way.
package ui

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/captune/captune/annotate"
)

// MainWindow is Captune's single window: the Annotate, Fine-tune, Compare and Export tabs above a
// status bar, with the model picker at the top right.
type MainWindow struct {
	App    fyne.App
	Window fyne.Window
	Tabs   *container.AppTabs
	// Status is the status bar's message: what the app did last or is doing.
	Status *widget.Label

	deps   Deps
	prefs  fyne.Preferences
	images *imageLoader
	ctx    context.Context // ends when the window closes, stopping every job
	cancel context.CancelFunc

	ds        *annotate.Dataset
	autosaver *annotate.Autosaver
	unlisten  func()
	view      []int // dataset indices the filter shows, ascending
	cur       int   // position in view of the current image; -1 for none
	filter    annotate.Filter
	selecting bool

	grid        *thumbGrid
	filterEntry *widget.Entry
	filterInfo  *widget.Label
	imgView     *imageView
	editor      *captionEditor
	itemInfo    *widget.Label
	statusBar   *statusLayout
	statsLabel  *widget.Label
	stats       *throttle

	gen    *generationPanel
	models *modelPicker
	job    *jobBar
	tray   *dropTray
	ft     *finetuneTab
	cmp    *compareTab
	exp    *exportTab

	captioning *captionJob
	exporting  bool
	lastErr    error
	closed     bool
}

// NewMainWindow builds the main window of app a with the model, trainer and evaluator of deps.
// It opens no folder: call OpenFolder (or SetDataset).
func NewMainWindow(a fyne.App, deps Deps) *MainWindow {
	m := &MainWindow{App: a, deps: deps, prefs: a.Preferences(), cur: -1}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.Window = a.NewWindow("Captune")
	m.images = newImageLoader(deps.DecodeImage, deps.ThumbCacheDir, max(1, min(runtime.NumCPU()-1, 3)))
	m.images.decodeFit = deps.DecodeImageFit
	m.Status = widget.NewLabel("No folder open: File › Open Folder… (Ctrl+O), or drop a folder on the window.")
	m.Status.Truncation = fyne.TextTruncateEllipsis
	m.itemInfo = widget.NewLabel("")
	m.statsLabel = widget.NewLabel("")
	m.stats = newThrottle(100*time.Millisecond, m.refreshStats)
	m.job = newJobBar()
	m.editor = newCaptionEditor(m)
	m.gen = newGenerationPanel(m)
	m.models = newModelPicker(m, m.gen.followModel)
	m.ft = newFinetuneTab(m)
	m.models.onOptions = m.ft.refreshModels
	m.ft.refreshModels()
	m.cmp = newCompareTab(m, m.ft)
	m.ft.compare = m.cmp.run
	m.editor.baseModel = m.ft.baseDir
	m.exp = newExportTab(m)
	m.tray = newDropTray(m)

	m.Tabs = container.NewAppTabs(
		container.NewTabItemWithIcon("Annotate", theme.DocumentCreateIcon(), m.buildAnnotate()),
		container.NewTabItemWithIcon("Fine-tune", theme.ComputerIcon(), m.ft.content),
		container.NewTabItemWithIcon("Compare", theme.GridIcon(), m.cmp.content),
		container.NewTabItemWithIcon("Export", theme.DocumentSaveIcon(), m.exp.content),
	)
	m.Tabs.OnSelected = func(*container.TabItem) {
		m.editor.commit()
		if m.Tabs.SelectedIndex() == 3 {
			m.exp.updatePreview()
		}
	}
	modelBar := container.NewHBox(widget.NewLabel("model:"), container.NewGridWrap(fyne.NewSize(260, m.models.Select.MinSize().Height), m.models.Select))
	top := container.NewStack(m.Tabs, container.NewVBox(container.NewHBox(layout.NewSpacer(), modelBar)))
	m.itemInfo.Truncation = fyne.TextTruncateEllipsis
	m.statsLabel.Truncation = fyne.TextTruncateEllipsis
	m.statusBar = &statusLayout{item: m.itemInfo, msg: m.Status, job: m.job.Box, stats: m.statsLabel}
	m.statusBar.box = container.New(m.statusBar, m.itemInfo, m.Status, m.job.Box, m.statsLabel)
	m.job.onChange = m.statusBar.update
	status := container.NewBorder(widget.NewSeparator(), nil, nil, nil, m.statusBar.box)
	m.Window.SetContent(container.NewBorder(nil, status, nil, nil, top))
	m.buildMenu()
	m.Window.SetOnDropped(func(_ fyne.Position, uris []fyne.URI) { m.handleDrop(uris) })
	m.Window.SetCloseIntercept(m.closeIntercept)
	m.Window.Resize(fyne.NewSize(1280, 800))
	return m
}

// statusLayout lays the status bar out in one row: the current image, the message, the job line
// and the counts. The job line (it holds the Cancel button) gets its room first, then the message,
// then the image line and the counts share what is left; each label truncates at its end with an
// ellipsis. Its minimum width is the job line's, so that no text can widen the window.
type statusLayout struct {
	item, msg, stats *widget.Label
	job              *fyne.Container
	box              *fyne.Container // the status bar laid out by this
}

// update shares the room out again after a text changed: a truncating label's minimum size does
// not change with its text, so the driver would not lay the bar out again by itself.
func (l *statusLayout) update() {
	if l.box != nil {
		l.Layout(nil, l.box.Size())
	}
}

// Layout is part of fyne.Layout.
func (l *statusLayout) Layout(_ []fyne.CanvasObject, size fyne.Size) {
	pad := theme.Padding()
	jobW := float32(0)
	if l.job.Visible() {
		jobW = l.job.MinSize().Width + pad
	}
	rest := max(size.Width-jobW, 0)
	msgW := min(labelWidth(l.msg), rest)
	rest -= msgW
	itemW := min(labelWidth(l.item), rest)
	rest -= itemW
	statsW := min(labelWidth(l.stats), rest)
	rest -= statsW
	x := float32(0)
	for _, p := range []struct {
		o fyne.CanvasObject
		w float32
	}{{l.item, itemW}, {l.msg, msgW + rest}, {l.job, jobW}, {l.stats, statsW}} {
		p.o.Move(fyne.NewPos(x, 0))
		p.o.Resize(fyne.NewSize(p.w, size.Height))
		x += p.w
	}
}

// MinSize is part of fyne.Layout.
func (l *statusLayout) MinSize([]fyne.CanvasObject) fyne.Size {
	size := fyne.NewSize(0, l.msg.MinSize().Height)
	if l.job.Visible() {
		size = size.Max(l.job.MinSize())
	}
	return size
}

// labelWidth is the width a label needs to show its whole text on one line.
func labelWidth(l *widget.Label) float32 {
	if l.Text == "" || !l.Visible() {
		return 0
	}
	size := theme.TextSize()
	if l.SizeName != "" {
		size = theme.Size(l.SizeName)
	}
	// One pixel more than measured: the label truncates when the text fills its width exactly.
	return fyne.MeasureText(l.Text, size, l.TextStyle).Width + 2*theme.InnerPadding() + 1
}

func (m *MainWindow) buildAnnotate() fyne.CanvasObject {
	m.filterEntry = widget.NewEntry()
	m.filterEntry.SetPlaceHolder("filter: words, is:uncaptioned, split:val…")
	m.filterEntry.OnChanged = func(s string) { m.applyFilter(s) }
	m.filterInfo = widget.NewLabel("")
	m.filterInfo.SizeName = theme.SizeNameCaptionText
	m.filterInfo.Truncation = fyne.TextTruncateEllipsis
	m.grid = newThumbGrid(m)
	m.grid.OnSelected = func(id widget.GridWrapItemID) {
		if m.selecting || id == m.cur {
			return
		}
		m.editor.commit()
		old := m.cur
		m.cur = id
		if old >= 0 {
			m.grid.RefreshItem(old) // the focus ring moves with the current image
		}
		m.grid.RefreshItem(id)
		m.showCurrent()
	}
	// The filter first, so that Tab goes from the filter box into the grid (the focus follows the
	// order of the objects, and NewBorder would put the grid before its top).
	top := container.NewVBox(m.filterEntry, m.filterInfo)
	left := container.New(layout.NewBorderLayout(top, nil, nil, nil), top, m.grid)
	m.imgView = newImageView()
	right := container.NewStack(container.NewBorder(nil, m.gen.content, nil, nil, m.editor.content), m.tray.content)
	inner := container.NewHSplit(m.imgView.content, container.NewPadded(right))
	inner.Offset = 0.55
	outer := container.NewHSplit(left, inner)
	outer.Offset = 0.25
	return outer
}

// userError is what the error dialogs show: what failed, why, and what to do.
type userError struct {
	what string
	err  error
	hint string
}

func (e *userError) Error() string {
	s := "Could not " + e.what + ":\n" + e.err.Error()
	if e.hint != "" {
		s += "\n\n" + e.hint
	}
	return s
}

func (e *userError) Unwrap() error { return e.err }

// showError opens an error dialog saying what failed, why, and (hint) what to do. UI goroutine.
func (m *MainWindow) showError(what string, err error, hint string) {
	ue := &userError{what: what, err: err, hint: hint}
	m.lastErr = ue
	if m.closed {
		return
	}
	m.setStatus("Could not " + what + ": " + err.Error())
	dialog.ShowError(ue, m.Window)
}

// setStatus shows msg in the status bar. UI goroutine.
func (m *MainWindow) setStatus(msg string) {
	m.Status.SetText(msg)
	m.statusBar.update()
}

func (m *MainWindow) dialogSize() fyne.Size {
	s := m.Window.Canvas().Size()
	return fyne.NewSize(max(min(s.Width*0.8, 900), 500), max(min(s.Height*0.8, 640), 400))
}

func annotateFindReplace(find, repl string, re, icase bool) annotate.FindReplace {
	return annotate.FindReplace{Find: find, Replace: repl, Regexp: re, IgnoreCase: icase}
}

// plural is "1 image" or "3 images".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
