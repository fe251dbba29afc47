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
	images   *widget.Select // how images go beside a folder export
	copyImgs *widget.Check  // whether images go beside a named .json / .csv file
	rejected *widget.Check
	broken   *widget.Check
	summary  *widget.Label // what the export writes and leaves out
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
	t.out.OnChanged = func(string) {
		if t.images != nil && t.toFile() != t.images.Hidden {
			t.updatePreview() // the images choice and the summary change with a file destination
		}
	}
	browse := widget.NewButtonWithIcon("", theme.FolderOpenIcon(), func() {
		m.chooseFolder("Export into", func(dir string) { t.out.SetText(dir) }, nil)
	})
	t.approved = widget.NewCheck("approved captions only (images without one are left out)", func(bool) { t.updatePreview() })
	t.split = widget.NewSelect(exportSplitLabels, func(string) { t.updatePreview() })
	t.split.SetSelectedIndex(0)
	t.images = widget.NewSelect(imageModeLabels, func(string) { t.updatePreview() })
	t.images.SetSelectedIndex(0)
	t.copyImgs = widget.NewCheck("Copy images beside the file", func(bool) { t.updatePreview() })
	t.rejected = widget.NewCheck("include rejected captions (CSV and COCO mark them)", func(bool) { t.updatePreview() })
	t.broken = widget.NewCheck("include files that do not read as images", func(bool) { t.updatePreview() })
	t.summary = widget.NewLabel("")
	t.summary.Truncation = fyne.TextTruncateEllipsis // a long list of left-out images must not widen the window
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
		widget.NewFormItem("Captions", container.NewVBox(t.approved, t.rejected)),
		widget.NewFormItem("Split", t.split),
		widget.NewFormItem("Images", container.NewVBox(t.images, t.copyImgs, t.broken)),
	)
	t.syncImages()
	top := container.NewVBox(widget.NewLabelWithStyle("Export", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), form,
		container.NewHBox(t.button), widget.NewSeparator(), widget.NewLabelWithStyle("Preview", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), t.summary)
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

// toFile reports whether the destination names a COCO .json or CSV .csv file rather than a folder.
func (t *exportTab) toFile() bool {
	ext := strings.ToLower(filepath.Ext(strings.TrimSpace(t.out.Text)))
	f := t.selectedFormat()
	return (f == annotate.ExportCOCO && ext == ".json") || (f == annotate.ExportCSV && ext == ".csv")
}

// syncImages shows the image choice that fits the destination: a folder gets the images linked
// (or copied, or not), a named file gets them only when "Copy images beside the file" is ticked.
func (t *exportTab) syncImages() {
	if t.images == nil || t.copyImgs == nil {
		return
	}
	if t.toFile() {
		t.images.Hide()
		t.copyImgs.Show()
	} else {
		t.images.Show()
		t.copyImgs.Hide()
	}
}

func (t *exportTab) options(out string) annotate.ExportOptions {
	sp := annotate.SplitNone
	if i := t.split.SelectedIndex(); i > 0 {
		sp = annotate.Split(exportSplitLabels[i])
	}
	mode := imageModes[max(t.images.SelectedIndex(), 0)]
	if t.toFile() {
		mode = annotate.ImagesNone
		if t.copyImgs.Checked {
			mode = annotate.ImagesCopy
		}
	}
	return annotate.ExportOptions{Format: t.selectedFormat(), Out: out, ApprovedOnly: t.approved.Checked, Split: sp,
		Images: mode, IncludeRejected: t.rejected.Checked, IncludeUnreadable: t.broken.Checked}
}

// describeExport says in one line what an export writes and leaves out, and where images go.
func describeExport(sum annotate.ExportSummary, mode annotate.ImageMode) string {
	msg := fmt.Sprintf("%d images, %d captions", sum.Images, sum.Captions)
	switch mode {
	case annotate.ImagesNone:
		msg += " · images not copied"
	case annotate.ImagesCopy:
		msg += " · images copied"
	default:
		msg += " · images linked"
	}
	if lo := sum.LeftOut(); lo != "" {
		msg += " · " + lo
	}
	if sum.RemovedTemps > 0 {
		msg += " · " + annotate.RemovedTempsNote(sum.RemovedTemps)
	}
	return msg
}

// updatePreview exports captions only into a temporary folder, in the background, and shows the
// first lines of what was written: the preview is what Export writes, not an imitation of it.
func (t *exportTab) updatePreview() {
	m := t.m
	if t.preview == nil || t.summary == nil || t.split == nil || t.images == nil || t.broken == nil {
		return
	}
	t.syncImages()
	t.seq++
	seq := t.seq
	ds := m.ds
	if ds == nil {
		t.summary.SetText("")
		t.preview.SetText("Open a dataset to see a preview.")
		return
	}
	f := t.selectedFormat()
	if (f == annotate.ExportTxt || f == annotate.ExportCaption) && ds.Len() > previewMaxItems {
		t.summary.SetText("")
		t.preview.SetText(fmt.Sprintf("(no preview for %d caption files: one %s file is written beside each image)", ds.Len(), f))
		return
	}
	opts := t.options("")
	mode := opts.Images
	opts.Images = annotate.ImagesNone
	go func() {
		text, sum := previewSummary(ds, opts)
		onUI(func() {
			if t.seq == seq {
				t.summary.SetText(describeExport(sum, mode))
				if lo := sum.LeftOut(); lo != "" {
					text = "(" + lo + ")\n" + text // in full: the summary line may be cut short
				}
				t.preview.SetText(text)
			}
		})
	}()
}

func previewExport(ds *annotate.Dataset, opts annotate.ExportOptions) string {
	text, _ := previewSummary(ds, opts)
	return text
}

// previewSummary exports captions only into a temporary folder and returns the first lines of
// what was written, with the export's summary.
func previewSummary(ds *annotate.Dataset, opts annotate.ExportOptions) (string, annotate.ExportSummary) {
	dir, err := os.MkdirTemp("", "captune-export-preview-")
	if err != nil {
		return "no preview: " + err.Error(), annotate.ExportSummary{}
	}
	defer os.RemoveAll(dir)
	opts.Out = dir
	opts.Images = annotate.ImagesNone
	sum, err := annotate.Export(ds, opts)
	if err != nil {
		return "no preview: " + err.Error(), sum
	}
	return previewFiles(dir), sum
}

// previewFiles reads the first lines of the files written under dir.
func previewFiles(dir string) string {
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
		sum, err := annotate.Export(ds, opts)
		m.job.redraw.settle() // the last progress redraw runs before the end message, not beside it
		onUI(func() {
			m.exporting = false
			if err != nil {
				m.job.end("Export failed.")
				m.showError("export to "+out, err, "Choose a destination outside the dataset folder that you can write to.")
				return
			}
			msg := fmt.Sprintf("Exported %s to %s in %s: %s.", opts.Format, out, formatDuration(time.Since(start)), describeExport(sum, sum.ImageMode))
			m.job.end(msg)
			dialog.ShowInformation("Export finished", msg, m.Window)
		})
	}()
}
