package ui

// Files and folders dropped on the window (or passed on the command line): images of the open
// dataset are shown, other images go to the drop tray, a lone folder is opened.

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/captune/captune/annotate"
)

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
