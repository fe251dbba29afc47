package ui

// The window's session with one dataset folder: choosing and opening it, locking it against a
// second Captune, listening to its changes, autosaving, showing save errors and conflicts, and
// closing it (saving what is pending) when another folder opens or the window closes.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/widget"

	"github.com/captune/captune/annotate"
)

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
