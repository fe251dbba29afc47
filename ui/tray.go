package ui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/captune/captune/annotate"
)

// trayEntry is one dropped image and its caption, which the user may edit before saving or adding
// it.
type trayEntry struct {
	Path    string
	Caption string // as typed in the field; cleanCaption gives what is written
	Origin  annotate.Origin
	Err     error
	Pending bool
	Added   string // the image's name in the dataset once added; "" before

	model       string // the model's caption, so that an edit can be told apart
	modelOrigin annotate.Origin
}

// text is the caption as it will be written.
func (e *trayEntry) text() string { return cleanCaption(e.Caption) }

// setCaption records what the user typed: a caption that differs from the model's is theirs.
func (e *trayEntry) setCaption(s string) {
	e.Caption = s
	e.Origin = annotate.OriginHuman
	if e.model != "" && cleanCaption(s) == e.model {
		e.Origin = e.modelOrigin
	}
}

// note is the line under the file name: what is happening to the entry, or where its caption
// comes from.
func (e *trayEntry) note() string {
	switch {
	case e.Pending:
		return "captioning…"
	case e.Added != "":
		return "in the dataset as " + e.Added
	case e.Err != nil && e.text() == "":
		return "no caption: " + e.Err.Error()
	case e.Origin == annotate.OriginHuman:
		return "your caption"
	case e.Origin != "":
		return string(e.Origin) + " · edit it below"
	}
	return ""
}

// dropTray is the drawer over the caption column that lists images dropped from outside the
// dataset with the model's captions, and lets the user copy a caption, save captions beside the
// images, or add the images to the dataset.
type dropTray struct {
	m       *MainWindow
	entries []*trayEntry
	list    *widget.List
	title   *widget.Label
	addAll  *widget.Button
	content fyne.CanvasObject
	cancel  context.CancelFunc
	jobs    sync.WaitGroup // captioning goroutines, for tests to wait on
	running int            // captioning goroutines not finished; UI goroutine
}

func (t *dropTray) busy() bool { return t.running > 0 }

func newDropTray(m *MainWindow) *dropTray {
	t := &dropTray{m: m, title: widget.NewLabelWithStyle("Dropped images", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})}
	t.title.Truncation = fyne.TextTruncateEllipsis // "Loading /a/long/model/path…" must not widen the column
	t.list = widget.NewList(func() int { return len(t.entries) }, t.createRow, t.updateRow)
	t.list.HideSeparators = false
	closeBtn := widget.NewButtonWithIcon("", theme.CancelIcon(), t.hide)
	closeBtn.Importance = widget.LowImportance
	t.addAll = widget.NewButtonWithIcon("Add all", theme.ContentAddIcon(), func() { t.addToDataset(t.entries) })
	saveAll := widget.NewButtonWithIcon("Save all", theme.DocumentSaveIcon(), func() { t.saveSidecars(t.entries) })
	clear := widget.NewButtonWithIcon("Clear", theme.DeleteIcon(), t.clear)
	top := container.NewBorder(nil, nil, nil, closeBtn, t.title)
	bottom := container.NewHBox(t.addAll, saveAll, layout.NewSpacer(), clear)
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameBackground))
	t.content = container.NewStack(bg, container.NewBorder(top, bottom, nil, nil, t.list))
	t.content.Hide()
	return t
}

type trayRow struct {
	widget.BaseWidget
	img     *canvas.Image
	name    *widget.Label
	note    *widget.Label // captioning…, the error, where the image went
	caption *captionEntry
	copyBtn *widget.Button
	addBtn  *widget.Button
	saveBtn *widget.Button
	path    string
	entry   *trayEntry // the entry the row shows
}

func (t *dropTray) createRow() fyne.CanvasObject {
	r := &trayRow{img: &canvas.Image{FillMode: canvas.ImageFillContain}, name: widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		note: widget.NewLabel(""), caption: newCaptionEntry()}
	r.img.SetMinSize(fyne.NewSize(88, 88))
	r.name.Truncation = fyne.TextTruncateEllipsis
	r.note.Truncation = fyne.TextTruncateEllipsis
	r.note.TextStyle.Italic = true
	r.note.SizeName = theme.SizeNameCaptionText
	r.caption.PlaceHolder = "Type a caption…"
	r.copyBtn = widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), nil)
	r.addBtn = widget.NewButtonWithIcon("Add", theme.ContentAddIcon(), nil)
	r.saveBtn = widget.NewButtonWithIcon("Save .txt", theme.DocumentSaveIcon(), nil)
	for _, b := range []*widget.Button{r.copyBtn, r.addBtn, r.saveBtn} {
		b.Importance = widget.LowImportance
	}
	r.ExtendBaseWidget(r)
	return r
}

// CreateRenderer is part of fyne.Widget.
func (r *trayRow) CreateRenderer() fyne.WidgetRenderer {
	buttons := container.NewHBox(r.copyBtn, r.addBtn, r.saveBtn)
	text := container.NewBorder(container.NewVBox(r.name, r.note), buttons, nil, nil, r.caption)
	return widget.NewSimpleRenderer(container.NewBorder(nil, nil, container.NewVBox(r.img), nil, text))
}

// syncButtons enables what the entry's state allows: copying and saving a caption there is,
// adding an image not yet added.
func (r *trayRow) syncButtons() {
	e := r.entry
	has := !e.Pending && e.text() != ""
	for _, b := range []*widget.Button{r.copyBtn, r.addBtn, r.saveBtn} {
		if has && (b != r.addBtn || e.Added == "") {
			b.Enable()
		} else {
			b.Disable()
		}
	}
}

func (t *dropTray) updateRow(id widget.ListItemID, o fyne.CanvasObject) {
	if id >= len(t.entries) {
		return
	}
	r, e := o.(*trayRow), t.entries[id]
	r.name.SetText(filepath.Base(e.Path))
	r.note.SetText(e.note())
	// Rebinding the row that is being typed in must leave its text (and cursor) alone.
	r.caption.OnChanged = nil
	if r.entry != e || r.caption.Text != e.Caption {
		r.caption.SetText(e.Caption)
	}
	r.entry = e
	r.caption.OnChanged = func(s string) {
		e.setCaption(s)
		r.note.SetText(e.note())
		r.syncButtons()
	}
	if e.Pending {
		r.caption.Disable()
	} else {
		r.caption.Enable()
	}
	r.syncButtons()
	r.copyBtn.OnTapped = func() {
		t.m.App.Clipboard().SetContent(e.text())
		t.m.setStatus("Caption copied.")
	}
	r.addBtn.OnTapped = func() { t.addToDataset([]*trayEntry{e}) }
	r.saveBtn.OnTapped = func() { t.saveSidecars([]*trayEntry{e}) }
	if r.path != e.Path {
		r.path = e.Path
		r.img.Image = nil
		r.img.Refresh()
		p := e.Path
		t.m.images.thumbnail(p, func(l loaded, err error) {
			if err == nil {
				onUI(func() {
					if r.path == p {
						r.img.Image = l.img
						r.img.Refresh()
					}
				})
			}
		})
	}
}

func (t *dropTray) show() {
	t.title.SetText(fmt.Sprintf("Dropped images (%d)", len(t.entries)))
	t.content.Show()
	t.list.Refresh()
}

func (t *dropTray) hide() { t.content.Hide() }

func (t *dropTray) clear() {
	if t.cancel != nil {
		t.cancel()
	}
	t.entries = nil
	t.list.Refresh()
	t.hide()
}

// add puts image files into the tray and captions them in the background.
func (t *dropTray) add(paths []string) {
	var fresh []*trayEntry
	for _, p := range paths {
		dup := false
		for _, e := range t.entries {
			dup = dup || e.Path == p
		}
		if !dup {
			e := &trayEntry{Path: p, Pending: true}
			t.entries = append(t.entries, e)
			fresh = append(fresh, e)
		}
	}
	t.show()
	if len(fresh) == 0 {
		return
	}
	gen, err := t.m.gen.settings()
	if err != nil {
		gen = DefaultGeneration()
	}
	ctx, cancel := context.WithCancel(t.m.ctx)
	prev := t.cancel
	t.cancel = cancel
	_ = prev // an earlier drop keeps captioning its own images
	t.jobs.Add(1)
	t.running++
	go func() {
		defer t.jobs.Done()
		defer onUI(func() { t.running-- })
		defer cancel()
		finish := func(caps []string, origin annotate.Origin, err error) {
			onUI(func() {
				for k, e := range fresh {
					e.Pending = false
					var ie *ImageError
					switch {
					case err != nil && errors.As(err, &ie):
						for j, p := range ie.Paths {
							if p == e.Path {
								e.Err = ie.Errs[j]
							}
						}
					case err != nil:
						e.Err = err
					}
					if e.Err == nil && k < len(caps) {
						e.model = cleanCaption(caps[k])
						if e.model == "" {
							e.Err = errors.New("the model returned an empty caption")
						}
					}
					e.modelOrigin = origin
					if e.Caption == "" && e.model != "" {
						e.Caption, e.Origin = e.model, origin
					}
				}
				t.list.Refresh()
				if err != nil && errors.Is(err, errNoModel) {
					t.m.setStatus("Dropped images wait for a model: choose one in the model menu.")
				}
			})
		}
		lm, err := t.m.models.acquire(ctx, func(s string) { onUI(func() { t.title.SetText(s) }) })
		if err != nil {
			finish(nil, "", err)
			return
		}
		defer t.m.models.release(lm)
		paths := make([]string, len(fresh))
		for k, e := range fresh {
			paths[k] = e.Path
		}
		onUI(func() { t.title.SetText(fmt.Sprintf("Dropped images (%d): captioning…", len(t.entries))) })
		caps, err := lm.c.Caption(ctx, paths, gen, nil)
		finish(caps, annotate.ModelOrigin(lm.c.Name()), err)
		onUI(func() { t.title.SetText(fmt.Sprintf("Dropped images (%d)", len(t.entries))) })
	}()
}

// ready returns the entries with a caption to save or add.
func ready(entries []*trayEntry) []*trayEntry {
	var out []*trayEntry
	for _, e := range entries {
		if !e.Pending && e.text() != "" {
			out = append(out, e)
		}
	}
	return out
}

// saveSidecars writes each caption to the caption file beside its image (NAME.txt, or NAME.EXT.txt
// when another image takes NAME.txt: annotate's rule), asking before replacing files.
func (t *dropTray) saveSidecars(entries []*trayEntry) {
	entries = ready(entries)
	if len(entries) == 0 {
		return
	}
	var existing []string
	for _, e := range entries {
		if p, err := annotate.SidecarPath(e.Path); err == nil {
			if _, err := os.Stat(p); err == nil {
				existing = append(existing, filepath.Base(p))
			}
		}
	}
	write := func() {
		var errs []error
		for _, e := range entries {
			if _, err := annotate.WriteSidecar(e.Path, []string{e.text()}); err != nil {
				errs = append(errs, err)
			}
		}
		if err := errors.Join(errs...); err != nil {
			t.m.showError("save the captions beside the images", err, "Check that the folders are writable.")
			return
		}
		t.m.setStatus(fmt.Sprintf("Saved %d caption files beside the images.", len(entries)))
	}
	if len(existing) == 0 {
		write()
		return
	}
	dialog.ShowConfirm("Replace caption files?",
		fmt.Sprintf("%d caption files exist already (%s).\nReplace them with the captions of the tray?", len(existing), strings.Join(firstN(existing, 3), ", ")),
		func(ok bool) {
			if ok {
				write()
			}
		}, t.m.Window)
}

// addToDataset copies the images into the dataset folder (annotate's AddImages) and adds their
// captions (the model's, unreviewed, or the user's own). Images already listed (the same content
// under the name AddImages gives them) get no caption again. The dataset is saved and opened
// again, since it lists its images when opened.
func (t *dropTray) addToDataset(entries []*trayEntry) {
	m := t.m
	entries = ready(entries)
	if len(entries) == 0 {
		return
	}
	if m.ds == nil {
		m.showError("add the images to the dataset", errors.New("no dataset is open"), "Open a folder first (Ctrl+O), then add the dropped images.")
		return
	}
	if m.captioning != nil || m.exporting {
		m.showError("add the images to the dataset", errors.New("a job is running"), "Wait for it to finish (or cancel it in the status bar), then add the images.")
		return
	}
	m.editor.commit()
	var srcs []string
	for _, e := range entries {
		srcs = append(srcs, e.Path)
	}
	added, addErr := m.ds.AddImages(srcs)
	bySource := map[string]annotate.AddedImage{}
	for _, a := range added {
		bySource[a.Source] = a
	}
	var fresh, already []*trayEntry
	for _, e := range entries {
		a, ok := bySource[e.Path]
		if !ok {
			continue
		}
		e.Added = a.Name
		if _, listed := m.ds.Index(a.Name); listed {
			already = append(already, e)
		} else {
			fresh = append(fresh, e)
		}
	}
	t.list.Refresh()
	if addErr != nil {
		m.showError("add some of the images", addErr, "")
	}
	if len(fresh) == 0 {
		if len(already) > 0 {
			m.setStatus(alreadyMessage(already))
		}
		return
	}
	if err := m.stopAutosave(); err != nil {
		m.showError("save the dataset before adding images", err, "Resolve the problem (see the message), then add the images again.")
		return
	}
	errs := t.reopenWith(m.ds.Root(), fresh)
	t.list.Refresh()
	if err := errors.Join(errs...); err != nil {
		m.showError("add some of the images", err, "")
	}
	msg := fmt.Sprintf("Added %s to the dataset.", plural(len(fresh), "image"))
	if len(already) > 0 {
		msg += " " + alreadyMessage(already)
	}
	m.setStatus(msg)
}

// reopenWith opens the dataset in root again, so that it lists the images just copied in, adds
// their captions and shows the first of them.
func (t *dropTray) reopenWith(root string, copied []*trayEntry) []error {
	m := t.m
	ds, report, err := annotate.Open(root, annotate.OpenOptions{Source: m.ds.Format()})
	if err != nil {
		m.showError("open "+root+" again", err, "Open the folder again with File › Open Folder.")
		return nil
	}
	m.closeDataset()
	if err := ds.Lock(); err != nil {
		ds.Close()
		m.showError("lock "+root, err, "Close the other Captune using this folder, then open it again.")
		return nil
	}
	m.SetDataset(ds, report)
	var errs []error
	first := -1
	for _, e := range copied {
		i, ok := ds.Index(e.Added)
		if !ok {
			errs = append(errs, fmt.Errorf("%s was copied but is not listed: is its extension an image one?", e.Added))
			continue
		}
		if _, err := ds.AddCaption(i, e.text(), e.Origin); err != nil {
			errs = append(errs, err)
		}
		if first < 0 {
			first = i
		}
	}
	if first >= 0 {
		if p := m.posOf(first); p >= 0 {
			m.selectPos(p)
		}
	}
	return errs
}

// alreadyMessage says which images were not added again.
func alreadyMessage(already []*trayEntry) string {
	var names []string
	for _, e := range already {
		names = append(names, e.Added)
	}
	verb := "is"
	if len(already) > 1 {
		verb = "are"
	}
	return fmt.Sprintf("%s %s already in the dataset (%s).", plural(len(already), "image"), verb, strings.Join(firstN(names, 3), ", "))
}
