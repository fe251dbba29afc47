package ui

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/captune/captune/annotate"
)

// exportFormatHelp explains each format in the format menu.
var exportFormatHelp = map[annotate.ExportFormat]string{
	annotate.ExportTxt:     "NAME.txt beside each image, one caption per line (kohya_ss, taggui)",
	annotate.ExportCaption: "NAME.caption beside each image",
	annotate.ExportJSONL:   "metadata.jsonl, Hugging Face imagefolder (split folders when splits are set)",
	annotate.ExportCOCO:    "COCO captions JSON",
	annotate.ExportCSV:     "CSV: file_name, text, split, origin, state",
}

var imageModeLabels = []string{"link the images (no extra space)", "copy the images", "captions only"}
var imageModes = []annotate.ImageMode{annotate.ImagesLink, annotate.ImagesCopy, annotate.ImagesNone}
var exportSplitLabels = []string{"every image", "train", "val", "test"}

// previewMaxItems bounds the datasets whose folder formats get a preview (it writes one file per
// image into a temporary folder).
const previewMaxItems = 2000

// exportTab writes the dataset in another format: format, destination, approved-only, split, and
// a preview of the first lines that will be written.
type exportTab struct {
	m        *MainWindow
	content  fyne.CanvasObject
	format   *widget.Select
	help     *widget.Label
	out      *widget.Entry
	approved *widget.Check
	split    *widget.Select
	images   *widget.Select
	preview  *widget.Label
	button   *widget.Button
	seq      int
}

func formatLabel(f annotate.ExportFormat) string { return string(f) + ": " + exportFormatHelp[f] }

func newExportTab(m *MainWindow) *exportTab {
	t := &exportTab{m: m}
	var labels []string
	for _, f := range annotate.ExportFormats {
		labels = append(labels, formatLabel(f))
	}
	t.help = widget.NewLabel("")
	t.format = widget.NewSelect(labels, func(string) { m.prefs.SetString(prefExportFormat, string(t.selectedFormat())); t.updatePreview() })
	t.out = widget.NewEntry()
	t.out.SetPlaceHolder("destination folder (or a .json / .csv file for COCO and CSV)")
	t.out.SetText(m.prefs.String(prefExportOut))
	browse := widget.NewButtonWithIcon("", theme.FolderOpenIcon(), func() {
		m.chooseFolder("Export into", func(dir string) { t.out.SetText(dir) }, nil)
	})
	t.approved = widget.NewCheck("approved captions only (images without one are left out)", func(bool) { t.updatePreview() })
	t.split = widget.NewSelect(exportSplitLabels, func(string) { t.updatePreview() })
	t.split.SetSelectedIndex(0)
	t.images = widget.NewSelect(imageModeLabels, nil)
	t.images.SetSelectedIndex(0)
	t.preview = widget.NewLabel("")
	t.preview.TextStyle.Monospace = true
	t.button = widget.NewButtonWithIcon("Export", theme.DocumentSaveIcon(), t.export)
	t.button.Importance = widget.HighImportance
	sel := annotate.ExportFormat(m.prefs.StringWithFallback(prefExportFormat, string(annotate.ExportJSONL)))
	idx := 0
	for i, f := range annotate.ExportFormats {
		if f == sel {
			idx = i
		}
	}
	t.format.SetSelectedIndex(idx)
	form := widget.NewForm(
		widget.NewFormItem("Format", t.format),
		widget.NewFormItem("Destination", container.NewBorder(nil, nil, nil, browse, t.out)),
		widget.NewFormItem("Captions", t.approved),
		widget.NewFormItem("Split", t.split),
		widget.NewFormItem("Images", t.images),
	)
	top := container.NewVBox(widget.NewLabelWithStyle("Export", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), form,
		container.NewHBox(t.button), widget.NewSeparator(), widget.NewLabelWithStyle("Preview", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	t.content = container.NewPadded(container.NewBorder(top, nil, nil, nil, container.NewScroll(t.preview)))
	return t
}

func (t *exportTab) selectedFormat() annotate.ExportFormat {
	i := t.format.SelectedIndex()
	if i < 0 {
		return annotate.ExportJSONL
	}
	return annotate.ExportFormats[i]
}

func (t *exportTab) options(out string) annotate.ExportOptions {
	sp := annotate.SplitNone
	if i := t.split.SelectedIndex(); i > 0 {
		sp = annotate.Split(exportSplitLabels[i])
	}
	return annotate.ExportOptions{Format: t.selectedFormat(), Out: out, ApprovedOnly: t.approved.Checked, Split: sp,
		Images: imageModes[max(t.images.SelectedIndex(), 0)]}
}

// updatePreview exports captions only into a temporary folder, in the background, and shows the
// first lines of what was written: the preview is what Export writes, not an imitation of it.
func (t *exportTab) updatePreview() {
	m := t.m
	if t.preview == nil || t.split == nil || t.images == nil {
		return
	}
	t.seq++
	seq := t.seq
	ds := m.ds
	if ds == nil {
		t.preview.SetText("Open a dataset to see a preview.")
		return
	}
	f := t.selectedFormat()
	if (f == annotate.ExportTxt || f == annotate.ExportCaption) && ds.Len() > previewMaxItems {
		t.preview.SetText(fmt.Sprintf("(no preview for %d caption files: one %s file is written beside each image)", ds.Len(), f))
		return
	}
	opts := t.options("")
	opts.Images = annotate.ImagesNone
	go func() {
		text := previewExport(ds, opts)
		fyne.Do(func() {
			if t.seq == seq {
				t.preview.SetText(text)
			}
		})
	}()
}

func previewExport(ds *annotate.Dataset, opts annotate.ExportOptions) string {
	dir, err := os.MkdirTemp("", "captune-export-preview-")
	if err != nil {
		return "no preview: " + err.Error()
	}
	defer os.RemoveAll(dir)
	opts.Out = dir
	if _, err := annotate.Export(ds, opts); err != nil {
		return "no preview: " + err.Error()
	}
	var files []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && d.Name() == annotate.ProjectDir {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	if len(files) == 0 {
		return "(nothing would be written: no image has a caption that matches)"
	}
	var b strings.Builder
	lines := 0
	for _, p := range files {
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(&b, "── %s\n", filepath.ToSlash(rel))
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for n := 0; sc.Scan() && n < 12; n++ {
			line := sc.Text()
			if len(line) > 160 {
				line = line[:160] + "…"
			}
			b.WriteString(line + "\n")
			lines++
		}
		f.Close()
		if lines >= 12 {
			break
		}
	}
	if len(files) > 1 {
		fmt.Fprintf(&b, "… %d files in all\n", len(files))
	}
	return b.String()
}

func (t *exportTab) export() {
	m := t.m
	if m.ds == nil {
		m.showError("export", errors.New("no dataset is open"), "Open a folder first (Ctrl+O).")
		return
	}
	out := strings.TrimSpace(t.out.Text)
	if out == "" {
		m.showError("export", errors.New("no destination"), "Type a destination folder or choose one with the folder button.")
		return
	}
	if m.job.running() {
		m.setStatus("Another job is running: export when it is done.")
		return
	}
	m.editor.commit()
	m.prefs.SetString(prefExportOut, out)
	opts := t.options(out)
	ds := m.ds
	m.exporting = true
	m.job.begin("Exporting "+string(opts.Format), "img", ds.Len(), nil)
	opts.OnProgress = func(done, total int) {
		m.job.mu.Lock()
		m.job.total = total
		m.job.mu.Unlock()
		m.job.set(done)
	}
	start := time.Now()
	go func() {
		_, err := annotate.Export(ds, opts)
		fyne.Do(func() {
			m.exporting = false
			if err != nil {
				m.job.end("Export failed.")
				m.showError("export to "+out, err, "Choose a destination outside the dataset folder that you can write to.")
				return
			}
			msg := fmt.Sprintf("Exported %s to %s in %s.", opts.Format, out, formatDuration(time.Since(start)))
			m.job.end(msg)
			dialog.ShowInformation("Export finished", msg, m.Window)
		})
	}()
}
