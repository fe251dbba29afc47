package ui

import (
	"errors"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/captune/captune/annotate"
)

// captionEntry is a wrapping caption field. Enter commits instead of inserting a newline (caption
// files hold one caption per line), and leaving the field commits too, so an edit is never lost
// between fields.
type captionEntry struct {
	widget.Entry
	onFocus  func()
	onCommit func()
}

func newCaptionEntry() *captionEntry {
	e := &captionEntry{}
	e.MultiLine = true
	e.Wrapping = fyne.TextWrapWord
	e.ExtendBaseWidget(e)
	e.SetMinRowsVisible(2)
	return e
}

// TypedKey commits on Enter and passes every other key to the entry.
func (e *captionEntry) TypedKey(k *fyne.KeyEvent) {
	if k.Name == fyne.KeyReturn || k.Name == fyne.KeyEnter {
		if e.onCommit != nil {
			e.onCommit()
		}
		return
	}
	e.Entry.TypedKey(k)
}

// FocusGained remembers which caption the keyboard works on (Ctrl+R rejects that one).
func (e *captionEntry) FocusGained() {
	e.Entry.FocusGained()
	if e.onFocus != nil {
		e.onFocus()
	}
}

// FocusLost commits the edit.
func (e *captionEntry) FocusLost() {
	e.Entry.FocusLost()
	if e.onCommit != nil {
		e.onCommit()
	}
}

// captionRow is one caption of the current image in the editor.
type captionRow struct {
	c      int // caption index in the item; -1 for a caption not yet in the dataset
	entry  *captionEntry
	icon   *widget.Icon
	meta   *widget.Label
	dirty  bool
	box    *fyne.Container
	accept *widget.Button
	reject *widget.Button
}

// captionEditor shows and edits the captions of the current image. Typing is kept in the fields
// until a commit (Enter, leaving the field, moving to another image, any command), which writes
// every changed field to the dataset: one undo step per caption.
type captionEditor struct {
	m *MainWindow
	// baseModel is the Fine-tune tab's base model folder, whose tokenizer counts tokens; nil or
	// "": no count.
	baseModel func() string
	item      int            // dataset index shown; -1 for none
	shown     *annotate.Item // the snapshot the rows were built from
	rows      []*captionRow
	active    int // row the keyboard last worked in
	list      *fyne.Container
	header    *widget.Label
	split     *widget.Select
	content   fyne.CanvasObject

	committing bool
}

var splitLabels = []string{"no split", "train", "val", "test"}

func newCaptionEditor(m *MainWindow) *captionEditor {
	ed := &captionEditor{m: m, item: -1}
	ed.header = widget.NewLabelWithStyle("No image", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	ed.header.Truncation = fyne.TextTruncateEllipsis
	ed.split = widget.NewSelect(splitLabels, func(s string) {
		if ed.item < 0 || m.ds == nil {
			return
		}
		sp := annotate.SplitNone
		if s != splitLabels[0] {
			sp = annotate.Split(s)
		}
		if m.ds.Item(ed.item).Split == sp {
			return
		}
		if err := m.ds.SetSplit(ed.item, sp); err != nil {
			m.showError("set the split", err, "")
		}
	})
	ed.split.Disable()
	ed.list = container.NewVBox()
	add := widget.NewButtonWithIcon("Caption", theme.ContentAddIcon(), func() { ed.addRow() })
	caption := widget.NewButtonWithIcon("Generate ⌃G", theme.ComputerIcon(), func() { m.startCaptioning(scopeCurrent) })
	approve := widget.NewButtonWithIcon("Approve ⌃↵", theme.ConfirmIcon(), m.approveAndNext)
	approve.Importance = widget.HighImportance
	buttons := container.NewHBox(add, layout.NewSpacer(), caption, approve)
	top := container.NewBorder(nil, nil, nil, ed.split, ed.header)
	ed.content = container.NewBorder(top, buttons, nil, nil, container.NewVScroll(ed.list))
	return ed
}

// show builds the rows for dataset item i (-1: none), committing pending edits of the last one.
func (ed *captionEditor) show(i int) {
	ed.commit()
	ed.item = i
	ed.active = 0
	ed.rebuild()
}

func (ed *captionEditor) rebuild() {
	ed.rows = nil
	ed.list.RemoveAll()
	m := ed.m
	if ed.item < 0 || m.ds == nil {
		ed.shown = nil
		ed.header.SetText("No image")
		ed.split.Disable()
		return
	}
	it := m.ds.Item(ed.item)
	ed.shown = it
	ed.header.SetText(it.Path)
	ed.split.Enable()
	if it.Split == annotate.SplitNone {
		ed.split.SetSelected(splitLabels[0])
	} else {
		ed.split.SetSelected(string(it.Split))
	}
	for c := range it.Captions {
		ed.appendRow(c)
	}
	if len(it.Captions) == 0 {
		ed.appendRow(-1)
	}
	ed.list.Refresh()
}

func (ed *captionEditor) appendRow(c int) *captionRow {
	r := &captionRow{c: c, entry: newCaptionEntry(), icon: widget.NewIcon(nil), meta: widget.NewLabel("")}
	n := len(ed.rows)
	r.meta.TextStyle.Italic = true
	r.meta.Truncation = fyne.TextTruncateEllipsis // a long model name must not widen the column
	r.entry.onFocus = func() { ed.active = n }
	r.entry.onCommit = func() { ed.commit() }
	r.entry.OnChanged = func(string) { r.dirty = true }
	r.accept = widget.NewButtonWithIcon("", theme.ConfirmIcon(), func() { ed.setState(r, annotate.StateApproved) })
	r.reject = widget.NewButtonWithIcon("", theme.CancelIcon(), func() { ed.setState(r, annotate.StateRejected) })
	remove := widget.NewButtonWithIcon("", theme.DeleteIcon(), func() { ed.remove(r) })
	for _, b := range []*widget.Button{r.accept, r.reject, remove} {
		b.Importance = widget.LowImportance
	}
	ed.fill(r)
	actions := container.NewBorder(nil, nil, nil, container.NewHBox(r.accept, r.reject, remove), r.meta)
	r.box = container.NewBorder(nil, actions, container.NewVBox(r.icon), nil, r.entry)
	if n > 0 {
		ed.list.Add(widget.NewSeparator())
	}
	ed.rows = append(ed.rows, r)
	ed.list.Add(r.box)
	return r
}

// fill sets a row's widgets from the snapshot without marking it edited.
func (ed *captionEditor) fill(r *captionRow) {
	if r.c < 0 || ed.shown == nil || r.c >= len(ed.shown.Captions) {
		r.entry.PlaceHolder = "Type a caption, Enter to keep it…"
		r.icon.SetResource(nil)
		r.meta.SetText("new caption")
		return
	}
	cp := ed.shown.Captions[r.c]
	changed := r.entry.OnChanged
	r.entry.OnChanged = nil
	if r.entry.Text != cp.Text {
		r.entry.SetText(cp.Text)
	}
	r.entry.OnChanged = changed
	r.dirty = false
	r.icon.SetResource(originIcon(cp.Origin))
	r.meta.SetText(fmt.Sprintf("%d · %s · %s", r.c+1, cp.Origin, cp.State) + ed.tokenNote(cp.Text))
	r.accept.Enable()
	r.reject.Enable()
	if cp.State == annotate.StateApproved {
		r.accept.Disable()
	}
	if cp.State == annotate.StateRejected {
		r.reject.Disable()
	}
}

// refresh follows a change of the dataset: rows are updated in place when the number of captions
// stayed the same (so the field being typed in keeps its focus), rebuilt otherwise.
func (ed *captionEditor) refresh() {
	if ed.item < 0 || ed.m.ds == nil || ed.committing || ed.m.closed {
		return
	}
	it := ed.m.ds.Item(ed.item)
	if it == ed.shown {
		return
	}
	if ed.hasEdits() {
		ed.commit()
		it = ed.m.ds.Item(ed.item)
	}
	sameShape := len(it.Captions) == len(ed.rows) && len(it.Captions) > 0
	for i, r := range ed.rows {
		sameShape = sameShape && r.c == i
	}
	ed.shown = it
	if !sameShape {
		focused := ed.m.Window.Canvas().Focused()
		hadFocus := false
		for _, r := range ed.rows {
			if focused == fyne.Focusable(r.entry) {
				hadFocus = true
			}
		}
		active := ed.active
		ed.rebuild()
		if hadFocus && len(ed.rows) > 0 {
			ed.focusRow(min(active, len(ed.rows)-1))
		}
		return
	}
	for _, r := range ed.rows {
		ed.fill(r)
	}
	if it.Split == annotate.SplitNone {
		ed.split.SetSelected(splitLabels[0])
	} else {
		ed.split.SetSelected(string(it.Split))
	}
}

func (ed *captionEditor) hasEdits() bool {
	for _, r := range ed.rows {
		if r.dirty {
			return true
		}
	}
	return false
}

// commit writes every edited field to the dataset: changed captions become human-written, emptied
// ones are removed, new ones are added.
func (ed *captionEditor) commit() {
	m := ed.m
	if ed.item < 0 || m.ds == nil || ed.committing || !ed.hasEdits() {
		return
	}
	ed.committing = true
	defer func() { ed.committing = false; ed.refresh() }()
	it := m.ds.Item(ed.item)
	var remove []int
	var errs []error
	for _, r := range ed.rows {
		if !r.dirty {
			continue
		}
		r.dirty = false
		text := cleanCaption(r.entry.Text)
		switch {
		case r.c < 0 && text == "":
		case r.c < 0:
			c, err := m.ds.AddCaption(ed.item, text, annotate.OriginHuman)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			r.c = c
		case r.c >= len(it.Captions):
		case text == "":
			remove = append(remove, r.c)
		case text != it.Captions[r.c].Text:
			if err := m.ds.SetCaption(ed.item, r.c, text, annotate.OriginHuman); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for k := len(remove) - 1; k >= 0; k-- {
		if err := m.ds.RemoveCaption(ed.item, remove[k]); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		m.showError("save the caption of "+it.Path, err, "")
	}
}

// cleanCaption joins pasted lines: a caption file holds one caption per line.
func cleanCaption(s string) string {
	return strings.TrimSpace(strings.Join(strings.Fields(s), " "))
}

func (ed *captionEditor) addRow() {
	if ed.item < 0 {
		return
	}
	ed.commit()
	for i, r := range ed.rows {
		if r.c < 0 {
			ed.focusRow(i)
			return
		}
	}
	r := ed.appendRow(-1)
	ed.list.Refresh()
	ed.m.Window.Canvas().Focus(r.entry)
}

func (ed *captionEditor) focusRow(i int) {
	if i < 0 || i >= len(ed.rows) {
		return
	}
	ed.active = i
	ed.m.Window.Canvas().Focus(ed.rows[i].entry)
}

func (ed *captionEditor) setState(r *captionRow, s annotate.State) {
	ed.commit()
	if r.c < 0 || ed.item < 0 {
		return
	}
	if err := ed.m.ds.SetState(ed.item, r.c, s); err != nil {
		ed.m.showError("set the review state", err, "")
	}
}

func (ed *captionEditor) remove(r *captionRow) {
	ed.commit()
	if r.c < 0 {
		ed.rebuild()
		return
	}
	if err := ed.m.ds.RemoveCaption(ed.item, r.c); err != nil {
		ed.m.showError("remove the caption", err, "")
	}
}

// activeCaption is the caption index the keyboard works on, or -1.
func (ed *captionEditor) activeCaption() int {
	if ed.active >= 0 && ed.active < len(ed.rows) && ed.rows[ed.active].c >= 0 {
		return ed.rows[ed.active].c
	}
	for _, r := range ed.rows {
		if r.c >= 0 {
			return r.c
		}
	}
	return -1
}

// originIcon is the badge of a caption's origin: pencil for human, gear for a model, document for
// captions read from files.
func originIcon(o annotate.Origin) fyne.Resource {
	switch {
	case o.IsModel():
		return theme.NewWarningThemedResource(theme.SettingsIcon())
	case o == annotate.OriginHuman:
		return theme.NewPrimaryThemedResource(theme.DocumentCreateIcon())
	default:
		return theme.DocumentIcon()
	}
}

// tokenNote counts a caption's tokens with the Fine-tune tab's base model against the training
// length, as " · 12/40 tokens" (", cut in training" when longer); "" without a tokenizer.
func (ed *captionEditor) tokenNote(text string) string {
	d := ed.m.deps
	if d.CountTokens == nil || d.TokenLimit <= 0 || ed.baseModel == nil {
		return ""
	}
	dir := ed.baseModel()
	if dir == "" {
		return ""
	}
	n := d.CountTokens(dir, text)
	if n <= 0 {
		return ""
	}
	note := fmt.Sprintf(" · %d/%d tokens", n, d.TokenLimit)
	if n > d.TokenLimit {
		note += ", cut in training"
	}
	return note
}
