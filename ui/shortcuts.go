package ui

import (
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"
)

// command is one menu entry; the ones with a shortcut are listed in the shortcuts dialog. Menus
// and the dialog are built from one table so that they cannot disagree.
type command struct {
	label    string
	keys     string        // as shown in the help dialog
	shortcut fyne.Shortcut // nil for none
	run      func()
}

func ctrl(k fyne.KeyName) fyne.Shortcut {
	return &desktop.CustomShortcut{KeyName: k, Modifier: fyne.KeyModifierShortcutDefault}
}

func ctrlShift(k fyne.KeyName) fyne.Shortcut {
	return &desktop.CustomShortcut{KeyName: k, Modifier: fyne.KeyModifierShortcutDefault | fyne.KeyModifierShift}
}

func alt(k fyne.KeyName) fyne.Shortcut {
	return &desktop.CustomShortcut{KeyName: k, Modifier: fyne.KeyModifierAlt}
}

// menuGroup is one menu of the main menu.
type menuGroup struct {
	title    string
	commands []command
}

func (m *MainWindow) commandTable() []menuGroup {
	return []menuGroup{
		{"File", []command{
			{"Open Folder…", "Ctrl+O", ctrl(fyne.KeyO), m.openFolderDialog},
			{"Save", "Ctrl+S", ctrl(fyne.KeyS), m.saveNow},
			{"Export…", "Ctrl+E", ctrl(fyne.KeyE), func() { m.Tabs.SelectIndex(3) }},
		}},
		{"Edit", []command{
			{"Undo", "Ctrl+Z", &fyne.ShortcutUndo{}, m.undo},
			{"Redo", "Ctrl+Shift+Z", ctrlShift(fyne.KeyZ), m.redo},
			{"Filter Images", "Ctrl+F", ctrl(fyne.KeyF), m.focusFilter},
			{"Find and Replace…", "Ctrl+H", ctrl(fyne.KeyH), m.findReplaceDialog},
		}},
		{"Image", []command{
			{"Next Image", "Alt+↓", alt(fyne.KeyDown), func() { m.next(1) }},
			{"Previous Image", "Alt+↑", alt(fyne.KeyUp), func() { m.next(-1) }},
			{"Next Uncaptioned", "Ctrl+J", ctrl(fyne.KeyJ), m.nextUncaptioned},
			{"Approve and Next", "Ctrl+Enter", ctrl(fyne.KeyReturn), m.approveAndNext},
			{"Reject Caption", "Ctrl+R", ctrl(fyne.KeyR), m.rejectActive},
			{"New Caption", "Ctrl+N", ctrl(fyne.KeyN), func() { m.editor.addRow() }},
		}},
		{"Caption", []command{
			{"Caption This Image", "Ctrl+G", ctrl(fyne.KeyG), func() { m.startCaptioning(scopeCurrent) }},
			{"Caption Filtered Images", "Ctrl+Shift+G", ctrlShift(fyne.KeyG), func() { m.startCaptioning(scopeFiltered) }},
			{"Caption All Uncaptioned", "", nil, func() { m.startCaptioning(scopeUncaptioned) }},
			{"Caption All Images…", "", nil, func() { m.startCaptioning(scopeAll) }},
			{"Show Dropped Images", "Ctrl+T", ctrl(fyne.KeyT), m.tray.show},
		}},
		{"Model", []command{
			{"Models…", "", nil, m.showModels},
			{"Free Model Memory", "", nil, m.freeModelMemory},
		}},
		{"View", []command{
			{"Annotate", "Ctrl+1", ctrl(fyne.Key1), func() { m.Tabs.SelectIndex(0) }},
			{"Fine-tune", "Ctrl+2", ctrl(fyne.Key2), func() { m.Tabs.SelectIndex(1) }},
			{"Compare", "Ctrl+3", ctrl(fyne.Key3), func() { m.Tabs.SelectIndex(2) }},
			{"Export", "Ctrl+4", ctrl(fyne.Key4), func() { m.Tabs.SelectIndex(3) }},
		}},
		{"Help", []command{
			{"Keyboard Shortcuts", "Ctrl+/", ctrl(fyne.KeySlash), m.showShortcuts},
			{"About Captune", "", nil, m.showAbout},
		}},
	}
}

// buildMenu sets the window's main menu; it is rebuilt when the recent folders change.
func (m *MainWindow) buildMenu() {
	var menus []*fyne.Menu
	for gi, g := range m.commandTable() {
		var items []*fyne.MenuItem
		for _, c := range g.commands {
			it := fyne.NewMenuItem(c.label, c.run)
			it.Shortcut = c.shortcut
			items = append(items, it)
			if gi == 0 && c.label == "Open Folder…" {
				items = append(items, m.recentMenu())
				if m.deps.SampleDir != nil {
					items = append(items, fyne.NewMenuItem("Open Sample Dataset", m.openSample))
				}
			}
		}
		if gi == 0 {
			// Our own Quit (the driver adds one otherwise) so that quitting saves like closing.
			quit := fyne.NewMenuItem("Quit", m.closeIntercept)
			quit.IsQuit = true
			quit.Shortcut = ctrl(fyne.KeyQ)
			items = append(items, fyne.NewMenuItemSeparator(), quit)
		}
		menus = append(menus, fyne.NewMenu(g.title, items...))
	}
	m.Window.SetMainMenu(fyne.NewMainMenu(menus...))
	// Ctrl+Y is the other common redo; it reaches the canvas when no text field has the focus.
	m.Window.Canvas().AddShortcut(&fyne.ShortcutRedo{}, func(fyne.Shortcut) { m.redo() })
}

func (m *MainWindow) recentMenu() *fyne.MenuItem {
	it := fyne.NewMenuItem("Open Recent", nil)
	var sub []*fyne.MenuItem
	for _, d := range m.prefs.StringList(prefRecentFolders) {
		dir := d
		sub = append(sub, fyne.NewMenuItem(dir, func() { m.OpenFolder(dir) }))
	}
	if len(sub) == 0 {
		none := fyne.NewMenuItem("(none yet)", nil)
		none.Disabled = true
		sub = append(sub, none)
	}
	it.ChildMenu = fyne.NewMenu("", sub...)
	return it
}

func (m *MainWindow) showShortcuts() {
	grid := container.NewGridWithColumns(2)
	for _, g := range m.commandTable() {
		for _, c := range g.commands {
			if c.keys == "" {
				continue
			}
			grid.Add(widget.NewLabelWithStyle(c.keys, fyne.TextAlignTrailing, fyne.TextStyle{Monospace: true}))
			grid.Add(widget.NewLabel(c.label))
		}
	}
	grid.Add(widget.NewLabelWithStyle("Enter", fyne.TextAlignTrailing, fyne.TextStyle{Monospace: true}))
	grid.Add(widget.NewLabel("Keep the caption being typed"))
	for _, k := range [][2]string{
		{"↑ ↓ ← →", "Move through the thumbnails (after a click in the grid)"},
		{"PgUp PgDn Home End", "Move a screenful, to the first, to the last"},
		{"Enter (in the grid)", "Edit the captions of the image"},
	} {
		grid.Add(widget.NewLabelWithStyle(k[0], fyne.TextAlignTrailing, fyne.TextStyle{Monospace: true}))
		grid.Add(widget.NewLabel(k[1]))
	}
	help := widget.NewLabel("Filter box:\n  " + strings.ReplaceAll(FilterHelp, " · ", "\n  "))
	content := container.NewBorder(nil, help, nil, nil, container.NewVScroll(grid))
	d := dialog.NewCustom("Keyboard shortcuts", "Close", content, m.Window)
	d.Resize(fyne.NewSize(560, 640))
	d.Show()
}

func (m *MainWindow) focusFilter() {
	m.Tabs.SelectIndex(0)
	m.editor.commit()
	m.Window.Canvas().Focus(m.filterEntry)
}

func (m *MainWindow) findReplaceDialog() {
	if m.ds == nil {
		m.setStatus("Open a folder first (Ctrl+O).")
		return
	}
	m.editor.commit()
	find, repl := widget.NewEntry(), widget.NewEntry()
	re := widget.NewCheck("regular expression ($1 in the replacement)", nil)
	icase := widget.NewCheck("ignore case", nil)
	only := widget.NewCheck(fmt.Sprintf("only the %d images the filter shows", len(m.view)), nil)
	only.SetChecked(!isEmptyFilter(m.filter))
	items := []*widget.FormItem{
		widget.NewFormItem("Find", find), widget.NewFormItem("Replace with", repl),
		widget.NewFormItem("", re), widget.NewFormItem("", icase), widget.NewFormItem("", only),
	}
	d := dialog.NewForm("Find and replace in captions", "Replace all", "Cancel", items, func(ok bool) {
		if !ok || find.Text == "" {
			return
		}
		fr := annotateFindReplace(find.Text, repl.Text, re.Checked, icase.Checked)
		if only.Checked {
			fr.Items = append([]int(nil), m.view...)
		}
		n, err := m.ds.FindReplace(fr)
		if err != nil {
			m.showError("replace "+find.Text, err, "Check the regular expression (RE2 syntax).")
			return
		}
		m.setStatus(fmt.Sprintf("Replaced text in %d captions (Ctrl+Z undoes it).", n))
	}, m.Window)
	d.Resize(fyne.NewSize(520, 320))
	d.Show()
}
