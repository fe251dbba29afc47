package ui

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// aboutTextWidth is the column at which the license texts are wrapped: they are shown as a list
// of one-line texts (the notices run to 12,000 lines, which a list draws only where visible), so a
// longer line would be cut off at the dialog's edge. Most texts are wrapped at 80 or 100 already.
const aboutTextWidth = 100

// showAbout opens Help › About: the version captune version prints, the license, and the texts of
// LICENSE and THIRD_PARTY_NOTICES.md in tabs.
func (m *MainWindow) showAbout() {
	d := dialog.NewCustom("About Captune", "Close", m.aboutContent(), m.Window)
	d.Resize(fyne.NewSize(960, 640))
	d.Show()
}

func (m *MainWindow) aboutContent() fyne.CanvasObject {
	version := m.deps.Version
	if version == "" {
		version = "(development build)"
	}
	license := m.deps.License
	if license == "" {
		license = "see LICENSE"
	}
	prefs := fmt.Sprintf("Preferences: Fyne preferences of %s", m.App.UniqueID())
	summary := container.NewVBox(
		widget.NewLabelWithStyle("Captune "+version, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		widget.NewLabel("Build image-caption datasets and fine-tune BLIP on them."),
		widget.NewLabel("License: "+license),
		widget.NewLabel("Third-party software: see the Third-party notices tab."),
		widget.NewLabel(prefs),
	)
	tabs := container.NewAppTabs(container.NewTabItem("About", summary))
	if m.deps.LicenseText != "" {
		tabs.Append(container.NewTabItem("License", textView(m.deps.LicenseText)))
	}
	if m.deps.Notices != "" {
		tabs.Append(container.NewTabItem("Third-party notices", textView(m.deps.Notices)))
	}
	return tabs
}

// textView shows a long text read-only in a scrolling list of monospace lines, drawn as plain
// texts without separators so that it reads as one page.
func textView(text string) fyne.CanvasObject {
	lines := wrapLines(text, aboutTextWidth)
	l := widget.NewList(
		func() int { return len(lines) },
		func() fyne.CanvasObject {
			t := canvas.NewText(strings.Repeat("m", aboutTextWidth), theme.Color(theme.ColorNameForeground))
			t.TextStyle = fyne.TextStyle{Monospace: true}
			return t
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			t := o.(*canvas.Text)
			t.Text, t.Color = lines[id], theme.Color(theme.ColorNameForeground)
			t.Refresh()
		},
	)
	l.HideSeparators = true
	l.OnSelected = func(id widget.ListItemID) { l.Unselect(id) } // text to read, nothing to choose
	return l
}

// wrapLines splits text into lines of at most width runes, breaking a longer line at its last
// space before the limit (or at the limit when it has none), and expanding tabs to 4 columns.
func wrapLines(text string, width int) []string {
	var out []string
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		line = strings.TrimRight(strings.ReplaceAll(line, "\t", "    "), " \r")
		for utf8.RuneCountInString(line) > width {
			r := []rune(line)
			cut := width
			if i := strings.LastIndex(string(r[:width+1]), " "); i > 0 {
				cut = utf8.RuneCountInString(string(r[:width+1])[:i])
			}
			out = append(out, strings.TrimRight(string(r[:cut]), " "))
			line = strings.TrimLeft(string(r[cut:]), " ")
		}
		out = append(out, line)
	}
	return out
}
