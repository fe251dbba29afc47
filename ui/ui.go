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
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/storage"
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
	m.models = newModelPicker(m)
	m.ft = newFinetuneTab(m)
	m.ft.refreshModels()
	m.cmp = newCompareTab(m)
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

func (m *MainWindow) openFolderDialog() {
	d := dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
		if err != nil {
			m.showError("choose a folder", err, "")
			return
		}
		if u != nil {
			m.OpenFolder(u.Path())
		}
	}, m.Window)
	d.SetTitleText("Open a folder of images")
	if last := m.prefs.String(prefLastFolder); last != "" {
		if l, err := storage.ListerForURI(storage.NewFileURI(filepath.Dir(last))); err == nil {
			d.SetLocation(l)
		}
	}
	d.Resize(m.dialogSize())
	d.Show()
}

func (m *MainWindow) openSample() {
	m.setStatus("Copying the sample dataset…")
	go func() {
		dir, err := m.deps.SampleDir()
		onUI(func() {
			if err != nil {
				m.showError("copy the sample dataset", err, "Check that your user folder is writable.")
				return
			}
			m.OpenFolder(dir)
		})
	}()
}

// OpenFolder opens the dataset in dir in the background (saving and closing the current one) and
// shows it. Errors open a dialog. UI goroutine.
func (m *MainWindow) OpenFolder(dir string) {
	abs, err := filepath.Abs(dir)
	if err == nil {
		dir = abs
	}
	if m.ds != nil && m.ds.Root() == dir {
		m.setStatus(dir + " is open.")
		return
	}
	m.requestClose(func() {
		m.setStatus("Opening " + dir + "…")
		go func() {
			ds, report, err := annotate.Open(dir, annotate.OpenOptions{})
			onUI(func() {
				if err != nil {
					m.showError("open "+dir, err, "Check that the folder exists and that you can read it.")
					return
				}
				m.lockAndShow(ds, report)
			})
		}()
	})
}

func (m *MainWindow) lockAndShow(ds *annotate.Dataset, report annotate.Report) {
	err := ds.Lock()
	var le *annotate.LockError
	switch {
	case errors.As(err, &le):
		h := le.Holder
		dialog.ShowConfirm("Folder open in another Captune",
			fmt.Sprintf("%s is open in another Captune (process %d on %s since %s).\n\nTake it over? The other window will no longer be able to save.",
				ds.Root(), h.PID, h.Host, h.Since.Format("2 Jan 15:04")),
			func(ok bool) {
				if !ok {
					ds.Close()
					m.setStatus("Not opened: " + ds.Root() + " is open in another Captune.")
					return
				}
				if err := ds.ForceLock(); err != nil {
					ds.Close()
					m.showError("take over "+ds.Root(), err, "Close the other Captune, then open the folder again.")
					return
				}
				m.SetDataset(ds, report)
			}, m.Window)
		return
	case err != nil:
		ds.Close()
		m.showError("lock "+ds.Root(), err, "Check that the folder is writable: Captune keeps its lock and review states in .captune inside it.")
		return
	}
	m.SetDataset(ds, report)
}

// SetDataset shows ds, which the caller has opened and locked; the window saves it as it is
// edited and closes it when another one is shown or the window closes. UI goroutine.
func (m *MainWindow) SetDataset(ds *annotate.Dataset, report annotate.Report) {
	m.closeDataset()
	m.images.forgetFailures()
	m.ds = ds
	m.unlisten = ds.OnChange(func(ch annotate.Change) { onUI(func() { m.onDatasetChange(ds, ch) }) })
	m.autosaver = annotate.NewAutosaver(ds, 0)
	m.autosaver.OnError = func(err error) { onUI(func() { m.onSaveError(ds, err) }) }
	m.autosaver.Start(m.ctx)
	m.prefs.SetString(prefLastFolder, ds.Root())
	pushRecent(m.prefs, prefRecentFolders, ds.Root())
	m.buildMenu()

	m.filter = annotate.Filter{}
	changed := m.filterEntry.OnChanged
	m.filterEntry.OnChanged = nil
	m.filterEntry.SetText("")
	m.filterEntry.OnChanged = changed
	m.view = make([]int, ds.Len())
	for i := range m.view {
		m.view[i] = i
	}
	m.cur = -1
	m.grid.UnselectAll()
	m.grid.Refresh()
	m.grid.ScrollToTop()
	m.updateFilterInfo()
	m.refreshStats()
	if len(m.view) > 0 {
		m.selectPos(0)
	} else {
		m.editor.show(-1)
		m.showImage(-1)
		if n := report.InSubfolders; n > 0 {
			m.imgView.msg.SetText(fmt.Sprintf("No images in %s itself, and %s in its sub-folders: open a sub-folder to caption them.", ds.Root(), plural(n, "image")))
		} else {
			m.imgView.msg.SetText("No images in " + ds.Root() + ": Captune reads JPEG, PNG, WebP, GIF, BMP and TIFF files.")
		}
	}
	msg := fmt.Sprintf("Opened %s: %s", ds.Root(), report.Summary())
	if n := report.InSubfolders; n > 0 {
		msg += fmt.Sprintf("; %s in sub-folders not shown (open a sub-folder to caption them)", plural(n, "image"))
	}
	if n := len(report.Warnings); n > 0 {
		msg += fmt.Sprintf(" (%d warnings, first: %v)", n, report.Warnings[0])
	}
	m.setStatus(msg)
	m.exp.updatePreview()
	m.ft.syncButtons()
	m.cmp.sync()
	m.models.updateBanner()
}

// Dataset returns the dataset shown, or nil.
func (m *MainWindow) Dataset() *annotate.Dataset { return m.ds }

func (m *MainWindow) onDatasetChange(ds *annotate.Dataset, ch annotate.Change) {
	if m.ds != ds || m.closed {
		return
	}
	if ch.Saved {
		m.stats.trigger()
		return
	}
	cur := m.current()
	if len(ch.Items) > 64 {
		m.grid.Refresh()
	} else {
		for _, i := range ch.Items {
			if p := m.posOf(i); p >= 0 {
				m.grid.RefreshItem(p)
			}
		}
	}
	for _, i := range ch.Items {
		if i == cur {
			m.editor.refresh()
			break
		}
	}
	m.stats.trigger()
}

// refreshStats updates the status bar's counts and the window title.
func (m *MainWindow) refreshStats() {
	ds := m.ds
	if m.closed {
		return
	}
	m.ft.updateDataInfo()
	if ds == nil {
		m.statsLabel.SetText("")
		m.Window.SetTitle("Captune")
		return
	}
	s := ds.Stats()
	counts := fmt.Sprintf("%d images · %d captioned · %d to review", s.Images, s.Captioned, s.ToReview)
	m.statsLabel.SetText(counts + fmt.Sprintf(" · %d approved", s.ByState[annotate.StateApproved]))
	m.statusBar.update()
	title := "Captune — " + homeRel(ds.Root()) + " (" + counts + ")"
	if ds.Dirty() {
		title += " •"
	}
	m.Window.SetTitle(title)
}

// homeRel abbreviates the home folder as ~.
func homeRel(p string) string {
	if h, err := os.UserHomeDir(); err == nil && h != "" && strings.HasPrefix(p, h+string(filepath.Separator)) {
		return "~" + p[len(h):]
	}
	return p
}

func (m *MainWindow) onSaveError(ds *annotate.Dataset, err error) {
	if m.ds != ds || m.closed {
		return
	}
	var ce *annotate.ConflictError
	var le *annotate.LockError
	switch {
	case errors.As(err, &ce):
		m.showConflicts(ds, ce)
	case errors.As(err, &le):
		dialog.ShowConfirm("Another Captune took this folder",
			fmt.Sprintf("Your edits were not saved: %s is now locked by process %d on %s.\n\nTake the folder back and save your edits? The other window will no longer be able to save.", ds.Root(), le.Holder.PID, le.Holder.Host),
			func(ok bool) {
				if !ok {
					m.setStatus("Edits are not being saved: the folder is locked by another Captune.")
					return
				}
				if err := ds.ForceLock(); err != nil {
					m.showError("take the folder back", err, "")
					return
				}
				m.saveNow()
			}, m.Window)
	default:
		m.showError("save the captions", err, "Check that the folder is writable and the disk is not full; Captune keeps trying after each edit, and Ctrl+S tries now.")
	}
}

func (m *MainWindow) showConflicts(ds *annotate.Dataset, ce *annotate.ConflictError) {
	var lines []string
	for i, c := range ce.Conflicts {
		if i == 10 {
			lines = append(lines, fmt.Sprintf("… and %d more", len(ce.Conflicts)-10))
			break
		}
		lines = append(lines, fmt.Sprintf("%s (%s)", c.Path, c.Kind))
	}
	label := widget.NewLabel("Another program changed these caption files since Captune read them:\n\n" + strings.Join(lines, "\n") +
		"\n\nKeep mine: overwrite them with Captune's captions.\nTake theirs: reload them (your edits to them are dropped; Ctrl+Z brings them back).")
	label.Wrapping = fyne.TextWrapWord
	d := dialog.NewCustomConfirm("Caption files changed on disk", "Keep mine", "Take theirs", label, func(keep bool) {
		r := annotate.TakeTheirs
		if keep {
			r = annotate.KeepMine
		}
		if err := ds.Resolve(ce.Conflicts, r); err != nil {
			m.showError("resolve the changed files", err, "")
		}
	}, m.Window)
	d.Resize(fyne.NewSize(560, 420))
	d.Show()
}

// saveNow commits the editor and saves at once, in the background.
func (m *MainWindow) saveNow() {
	if m.ds == nil {
		return
	}
	m.editor.commit()
	ds := m.ds
	m.setStatus("Saving…")
	go func() {
		err := ds.Save()
		onUI(func() {
			if err != nil {
				m.onSaveError(ds, err)
				return
			}
			m.setStatus("Saved " + ds.Root())
			m.refreshStats()
		})
	}()
}

// stopAutosave stops the autosaver, which saves what is pending, and returns that save's error.
func (m *MainWindow) stopAutosave() error {
	if m.autosaver == nil {
		return nil
	}
	err := m.autosaver.Stop()
	m.autosaver = nil
	return err
}

// requestClose saves the dataset and calls then; when saving fails it asks first whether to go on
// and lose the unsaved edits.
func (m *MainWindow) requestClose(then func()) {
	if m.ds == nil {
		then()
		return
	}
	m.editor.commit()
	err := m.ds.Save()
	if err == nil {
		then()
		return
	}
	dialog.ShowConfirm("Unsaved captions",
		fmt.Sprintf("Some captions could not be saved:\n%v\n\nClose anyway and lose them? (Cancel, then Ctrl+S, to try again.)", err),
		func(ok bool) {
			if ok {
				then()
			}
		}, m.Window)
}

// closeIntercept runs when the user closes the window: it asks before stopping a training run,
// saves, and closes.
func (m *MainWindow) closeIntercept() {
	if !m.ft.running {
		m.requestClose(m.Close)
		return
	}
	dialog.ShowConfirm("Fine-tuning is running",
		"Stop it and quit? Resume (Fine-tune tab) continues from the last checkpoint, written at the end of each epoch.",
		func(ok bool) {
			if ok {
				m.requestClose(m.Close)
			}
		}, m.Window)
}

// closeDataset stops the jobs and the autosaver and releases the dataset.
func (m *MainWindow) closeDataset() {
	if m.ds == nil {
		return
	}
	m.editor.commit()
	if m.captioning != nil {
		m.captioning.cancel()
		m.captioning = nil
	}
	if err := m.stopAutosave(); err != nil && !m.closed {
		m.showError("save "+m.ds.Root(), err, "")
	}
	if m.unlisten != nil {
		m.unlisten()
		m.unlisten = nil
	}
	m.ds.Close()
	m.ds = nil
	m.view, m.cur = nil, -1
	m.grid.UnselectAll()
	m.grid.Refresh()
	m.editor.show(-1)
	m.showImage(-1)
	m.refreshStats()
}

// Close saves, stops every job and closes the window.
func (m *MainWindow) Close() {
	if m.closed {
		return
	}
	if m.ft.running {
		m.ft.stop()
	}
	m.images.close() // no image arrives from here on
	m.closeDataset()
	m.closed = true
	m.cancel()
	m.stats.stop()
	m.models.close()
	m.Window.Close()
}

// Shutdown saves and stops every job without touching the window, for when the application quit
// by other means (SIGINT or SIGTERM, which the desktop driver answers by quitting) and the window
// is gone. It returns the error of the last save. It does nothing after Close.
func (m *MainWindow) Shutdown() error {
	if m.closed {
		return nil
	}
	m.closed = true // from here on, listeners and redraws leave the widgets alone
	m.cancel()
	var err error
	if m.ds != nil {
		if m.unlisten != nil {
			m.unlisten()
		}
		m.editor.commit()
		if m.autosaver != nil {
			err = m.autosaver.Stop()
		} else {
			err = m.ds.Save()
		}
		m.ds.Close()
	}
	m.stats.stop()
	m.images.close()
	m.models.close()
	return err
}

// Drop does what dropping files on the window does (the desktop driver calls it); scripts and
// tests call it directly.
func (m *MainWindow) Drop(uris []fyne.URI) { m.handleDrop(uris) }

// handleDrop takes files and folders dropped on the window: images of the dataset are shown,
// other images go to the drop tray and get captions, a lone folder is opened (or its images go to
// the tray, if the user prefers).
func (m *MainWindow) handleDrop(uris []fyne.URI) {
	var dirs, files []string
	for _, u := range uris {
		if u == nil || u.Scheme() != "file" {
			continue
		}
		p := u.Path()
		st, err := os.Stat(p)
		switch {
		case err != nil:
			continue
		case st.IsDir():
			dirs = append(dirs, p)
		case annotate.IsImageName(p):
			files = append(files, p)
		}
	}
	if len(dirs) == 1 && len(files) == 0 {
		dir := dirs[0]
		if m.ds == nil {
			m.OpenFolder(dir)
			return
		}
		label := widget.NewLabel(fmt.Sprintf("Open %s as the dataset, or caption its images in the drop tray without adding them?", dir))
		label.Wrapping = fyne.TextWrapWord
		d := dialog.NewCustomConfirm("A folder was dropped", "Open as dataset", "Caption in the tray", label, func(open bool) {
			if open {
				m.OpenFolder(dir)
			} else {
				m.dropImages(imagesIn(dir))
			}
		}, m.Window)
		d.Resize(fyne.NewSize(520, 200))
		d.Show()
		return
	}
	for _, d := range dirs {
		files = append(files, imagesIn(d)...)
	}
	if len(files) == 0 {
		m.setStatus("Nothing to caption in the drop: drop image files (JPEG, PNG, WebP, GIF, BMP, TIFF) or a folder.")
		return
	}
	m.dropImages(files)
}

func (m *MainWindow) dropImages(files []string) {
	var outside []string
	first := -1
	for _, p := range files {
		if m.ds != nil {
			if rel, err := filepath.Rel(m.ds.Root(), p); err == nil && !strings.HasPrefix(rel, "..") {
				if i, ok := m.ds.Index(filepath.ToSlash(rel)); ok {
					if first < 0 {
						first = i
					}
					continue
				}
			}
		}
		outside = append(outside, p)
	}
	if len(outside) > 0 {
		m.Tabs.SelectIndex(0)
		m.tray.add(outside)
		return
	}
	if first >= 0 {
		m.Tabs.SelectIndex(0)
		if m.posOf(first) < 0 {
			m.filterEntry.SetText("")
		}
		m.selectPos(m.posOf(first))
	}
}

// imagesIn lists the image files directly in dir, sorted.
func imagesIn(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() && annotate.IsImageName(e.Name()) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out
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
