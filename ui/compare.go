package ui

import (
	"context"
	"errors"
	"fmt"
	"github.com/captune/captune/annotate"
	"github.com/captune/captune/finetune/runinfo"
	"github.com/captune/captune/internal/hub"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/captune/captune/finetune/metrics"
)

// compareSort is a column the before/after table can be sorted by.
type compareSort int

const (
	sortImprovement compareSort = iota // CIDEr-D after minus before
	sortImage                          // file name
	sortBefore                         // base model's CIDEr-D
	sortAfter                          // fine-tuned model's CIDEr-D
)

// sortRows orders rows by key, largest first when desc; equal keys keep file-name order, so the
// table does not shuffle between sorts.
func sortRows(rows []runinfo.ImageComparison, key compareSort, desc bool) {
	val := func(r runinfo.ImageComparison) float64 {
		switch key {
		case sortBefore:
			return r.BaseCIDEr
		case sortAfter:
			return r.TunedCIDEr
		default:
			return r.Improvement()
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if key != sortImage {
			if va, vb := val(a), val(b); va != vb {
				if desc {
					return va > vb
				}
				return va < vb
			}
		}
		if desc && key == sortImage {
			return a.Image > b.Image
		}
		return a.Image < b.Image
	})
}

var compareColumns = []struct {
	title string
	width float32
	sort  compareSort
	can   bool
}{
	{"Image", 170, sortImage, true},
	{"References", 260, 0, false},
	{"Base model", 230, 0, false},
	{"Fine-tuned", 230, 0, false},
	{"CIDEr-D base → tuned", 170, sortAfter, true},
	{"Change", 90, sortImprovement, true},
}

// compareTab shows a run's before/after evaluation: corpus metrics and one row per image.
// finishedRun is what the Compare tab needs of the Fine-tune tab: the run it last finished (tuned
// "" when none) with the base model to compare it with, and the choices it trained with, so that
// the same images are evaluated as were held out.
type finishedRun interface {
	lastRun() (base, tuned string)
	evalChoices() (device string, c annotate.TrainingCaptions, h annotate.Holdout)
}

type compareTab struct {
	m       *MainWindow
	runs    finishedRun
	content fyne.CanvasObject
	info    *widget.Label
	scores  *fyne.Container
	table   *widget.Table
	rows    []runinfo.ImageComparison
	key     compareSort
	desc    bool
	cmp     *runinfo.Comparison
	openBtn *widget.Button
	useBtn  *widget.Button
	runBtn  *widget.Button
	empty   *widget.Label
	running bool
	done    chan struct{}
}

func newCompareTab(m *MainWindow, runs finishedRun) *compareTab {
	t := &compareTab{m: m, runs: runs, key: sortImprovement, desc: true}
	t.info = widget.NewLabel("")
	t.info.Truncation = fyne.TextTruncateEllipsis
	t.scores = container.NewGridWithColumns(4)
	t.table = widget.NewTable(func() (int, int) { return len(t.rows), len(compareColumns) }, t.createCell, t.updateCell)
	t.table.ShowHeaderRow = true
	t.table.CreateHeader = func() fyne.CanvasObject {
		b := widget.NewButton("", nil)
		b.Importance = widget.LowImportance
		b.Alignment = widget.ButtonAlignLeading
		return b
	}
	t.table.UpdateHeader = t.updateHeader
	for c, col := range compareColumns {
		t.table.SetColumnWidth(c, col.width)
	}
	t.openBtn = widget.NewButtonWithIcon("Open report", theme.DocumentIcon(), t.openReport)
	t.useBtn = widget.NewButtonWithIcon("Use fine-tuned model", theme.ConfirmIcon(), t.useTuned)
	t.useBtn.Importance = widget.HighImportance
	t.runBtn = widget.NewButtonWithIcon("Evaluate again", theme.ViewRefreshIcon(), func() {
		if t.cmp != nil {
			t.run(t.cmp.BaseModel, t.cmp.Tuned)
		} else if base, tuned := t.runs.lastRun(); tuned != "" {
			t.run(base, tuned)
		}
	})
	t.empty = widget.NewLabel("No comparison yet.\nFine-tune a model (Fine-tune tab): when the run ends, its captions and the base model's\nare compared here on the validation images.")
	top := container.NewVBox(t.info, container.NewHBox(t.scores, layout.NewSpacer()), container.NewHBox(t.openBtn, t.useBtn, layout.NewSpacer(), t.runBtn))
	t.content = container.NewPadded(container.NewBorder(top, nil, nil, nil, container.NewStack(t.table, t.empty)))
	t.sync()
	return t
}

func (t *compareTab) sync() {
	has := t.cmp != nil
	if has {
		t.empty.Hide()
		t.table.Show()
	} else {
		t.empty.Show()
		t.table.Hide()
	}
	enable := func(b *widget.Button, on bool) {
		if on {
			b.Enable()
		} else {
			b.Disable()
		}
	}
	enable(t.openBtn, has && t.cmp.ReportPath != "")
	enable(t.useBtn, has && t.cmp.Tuned != "")
	_, lastRun := t.runs.lastRun()
	enable(t.runBtn, !t.running && t.m.deps.Evaluator != nil && (has || lastRun != ""))
}

// SetComparison shows c. UI goroutine.
func (t *compareTab) SetComparison(c runinfo.Comparison) {
	t.cmp = &c
	t.rows = append([]runinfo.ImageComparison(nil), c.Images...)
	sortRows(t.rows, t.key, t.desc)
	for i := range t.rows {
		t.table.SetRowHeight(i, 84)
	}
	tuned := hub.ModelName(c.Tuned)
	if c.TunedEpoch != "" {
		tuned += " (" + c.TunedEpoch + ")"
	}
	t.info.SetText(fmt.Sprintf("%s → %s · %s · %s", hub.ModelName(c.BaseModel), tuned, c.Split, c.Decoding))
	t.scores.RemoveAll()
	head := func(s string) fyne.CanvasObject {
		return widget.NewLabelWithStyle(s, fyne.TextAlignTrailing, fyne.TextStyle{Bold: true})
	}
	t.scores.Add(widget.NewLabelWithStyle("Metric (×100)", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	t.scores.Add(head("Base"))
	t.scores.Add(head("Fine-tuned"))
	t.scores.Add(head("Change"))
	for _, r := range scoreRows(c.Before, c.After) {
		t.scores.Add(widget.NewLabel(r.name))
		t.scores.Add(widget.NewLabelWithStyle(metrics.Percent(r.before), fyne.TextAlignTrailing, fyne.TextStyle{Monospace: true}))
		t.scores.Add(widget.NewLabelWithStyle(metrics.Percent(r.after), fyne.TextAlignTrailing, fyne.TextStyle{Monospace: true}))
		ch := widget.NewLabelWithStyle(signedPercent(r.after-r.before), fyne.TextAlignTrailing, fyne.TextStyle{Monospace: true})
		ch.Importance = changeImportance(r.after - r.before)
		t.scores.Add(ch)
	}
	t.table.Refresh()
	t.table.ScrollToTop()
	t.sync()
}

type scoreRow struct {
	name          string
	before, after float64
}

func scoreRows(b, a metrics.Scores) []scoreRow {
	return []scoreRow{
		{"BLEU-1", b.Bleu[0], a.Bleu[0]}, {"BLEU-4", b.Bleu[3], a.Bleu[3]},
		{"ROUGE-L", b.RougeL, a.RougeL}, {"CIDEr-D", b.CIDErD, a.CIDErD},
	}
}

// signedPercent formats a score difference ×100 with its sign, as "+12.3".
func signedPercent(d float64) string {
	s := metrics.Percent(d)
	if !strings.HasPrefix(s, "-") {
		s = "+" + s
	}
	return s
}

func changeImportance(d float64) widget.Importance {
	switch {
	case d > 0:
		return widget.SuccessImportance
	case d < 0:
		return widget.DangerImportance
	}
	return widget.MediumImportance
}

type compareCell struct {
	widget.BaseWidget
	img   *canvas.Image
	label *widget.Label
	path  string
}

func (t *compareTab) createCell() fyne.CanvasObject {
	c := &compareCell{img: &canvas.Image{FillMode: canvas.ImageFillContain}, label: widget.NewLabel("")}
	c.img.SetMinSize(fyne.NewSize(64, 64))
	c.label.Wrapping = fyne.TextWrapWord
	c.ExtendBaseWidget(c)
	return c
}

// CreateRenderer is part of fyne.Widget.
func (c *compareCell) CreateRenderer() fyne.WidgetRenderer { return &compareCellRenderer{c} }

// compareCellRenderer shows the thumbnail (image column only) left of the text. It lays out by
// hand because one cell template serves every column and showing or hiding the thumbnail does
// not change the cell's size, so a container would keep the old layout.
type compareCellRenderer struct{ c *compareCell }

func (r *compareCellRenderer) Destroy() {}
func (r *compareCellRenderer) Objects() []fyne.CanvasObject {
	return []fyne.CanvasObject{r.c.img, r.c.label}
}
func (r *compareCellRenderer) Refresh() { r.Layout(r.c.Size()); canvas.Refresh(r.c) }
func (r *compareCellRenderer) MinSize() fyne.Size {
	return fyne.NewSize(r.c.img.MinSize().Width, r.c.img.MinSize().Height)
}
func (r *compareCellRenderer) Layout(s fyne.Size) {
	x := float32(0)
	if r.c.img.Visible() {
		w := r.c.img.MinSize().Width
		r.c.img.Move(fyne.NewPos(0, 0))
		r.c.img.Resize(fyne.NewSize(w, min(w, s.Height)))
		x = w + theme.Padding()
	}
	r.c.label.Move(fyne.NewPos(x, 0))
	r.c.label.Resize(fyne.NewSize(s.Width-x, s.Height))
}

func (t *compareTab) updateCell(id widget.TableCellID, o fyne.CanvasObject) {
	c := o.(*compareCell)
	if id.Row >= len(t.rows) {
		return
	}
	r := t.rows[id.Row]
	c.label.Importance = widget.MediumImportance
	c.label.TextStyle = fyne.TextStyle{}
	c.label.Wrapping = fyne.TextWrapWord
	if id.Col >= 4 {
		c.label.Wrapping = fyne.TextWrapOff
	}
	if id.Col != 0 {
		c.img.Hide()
		c.path = ""
	}
	defer c.Refresh()
	switch id.Col {
	case 0:
		c.img.Show()
		c.label.SetText(filepath.Base(r.Image))
		if c.path != r.Image {
			c.path = r.Image
			c.img.Image = nil
			c.img.Refresh()
			p := r.Image
			if l, ok := t.m.images.cachedThumbnail(p); ok {
				c.img.Image = l.img
				c.img.Refresh()
			} else {
				t.m.images.thumbnail(p, func(l loaded, err error) {
					if err == nil {
						onUI(func() {
							if c.path == p {
								c.img.Image = l.img
								c.img.Refresh()
							}
						})
					}
				})
			}
		}
	case 1:
		c.label.SetText("• " + strings.Join(r.References, "\n• "))
	case 2:
		c.label.SetText(r.Base)
	case 3:
		c.label.SetText(r.Tuned)
	case 4:
		c.label.TextStyle.Monospace = true
		c.label.SetText(metrics.Percent(r.BaseCIDEr) + " → " + metrics.Percent(r.TunedCIDEr))
	case 5:
		c.label.TextStyle.Monospace = true
		c.label.Importance = changeImportance(r.Improvement())
		c.label.SetText(signedPercent(r.Improvement()))
	}
}

func (t *compareTab) updateHeader(id widget.TableCellID, o fyne.CanvasObject) {
	b := o.(*widget.Button)
	if id.Col < 0 || id.Col >= len(compareColumns) {
		b.SetText("")
		b.OnTapped = nil
		return
	}
	col := compareColumns[id.Col]
	text := col.title
	if col.can && col.sort == t.key {
		if t.desc {
			text += " ▼"
		} else {
			text += " ▲"
		}
	}
	b.SetText(text)
	if !col.can {
		b.OnTapped = nil
		return
	}
	b.OnTapped = func() { t.sortBy(col.sort) }
}

// sortBy sorts by key; choosing the current key again flips the direction.
func (t *compareTab) sortBy(key compareSort) {
	if t.key == key {
		t.desc = !t.desc
	} else {
		t.key, t.desc = key, key != sortImage
	}
	sortRows(t.rows, t.key, t.desc)
	t.table.Refresh()
}

func (t *compareTab) openReport() {
	if t.cmp == nil || t.cmp.ReportPath == "" {
		return
	}
	if _, err := os.Stat(t.cmp.ReportPath); err != nil {
		t.m.showError("open the report", err, "Evaluate again to write the report into the run folder.")
		return
	}
	u, err := url.Parse(storage.NewFileURI(t.cmp.ReportPath).String())
	if err == nil {
		err = t.m.App.OpenURL(u)
	}
	if err != nil {
		t.m.showError("open the report "+t.cmp.ReportPath, err, "Open the file in a web browser yourself.")
	}
}

func (t *compareTab) useTuned() {
	if t.cmp == nil || t.cmp.Tuned == "" {
		return
	}
	t.m.models.choose(t.cmp.Tuned)
	t.m.setStatus("Auto-captioning now uses the fine-tuned model " + t.cmp.Tuned)
}

// run evaluates base against tuned in the background and shows the result.
func (t *compareTab) run(base, tuned string) {
	m := t.m
	if t.running || m.deps.Evaluator == nil {
		return
	}
	if m.ds == nil {
		m.showError("compare the models", errors.New("no dataset is open"), "Open the dataset the model was fine-tuned on.")
		return
	}
	if m.job.running() {
		m.setStatus("Another job is running: the comparison starts when you press Evaluate again (Compare tab).")
		t.sync()
		return
	}
	gen, err := m.gen.settings()
	if err != nil {
		gen = DefaultGeneration()
	}
	ctx, cancel := context.WithCancel(m.ctx)
	t.running = true
	t.done = make(chan struct{})
	t.sync()
	m.job.begin("Evaluating base and fine-tuned captions", "captions", 1, cancel)
	device, captions, holdout := t.runs.evalChoices()
	req := CompareRequest{Dataset: m.ds, BaseModel: base, TunedModel: tuned, RunDir: tuned, Generation: gen,
		Device: device, Captions: captions, Holdout: holdout}
	start := time.Now()
	done := t.done
	go func() {
		defer close(done)
		defer cancel()
		c, err := m.deps.Evaluator.Compare(ctx, req, func(d, total int) {
			m.job.mu.Lock()
			m.job.total = total
			m.job.mu.Unlock()
			m.job.set(d)
		})
		cancelled := ctx.Err() != nil
		onUI(func() {
			t.running = false
			switch {
			case cancelled:
				m.job.end("Evaluation cancelled.")
			case err != nil:
				m.job.end("Evaluation failed.")
				m.showError("compare "+filepath.Base(base)+" with "+filepath.Base(tuned), err,
					"Check that the dataset has captioned validation images and that both model folders load.")
			default:
				m.job.end(fmt.Sprintf("Evaluated in %s: CIDEr-D %s → %s (Compare tab).", formatDuration(time.Since(start)),
					metrics.Percent(c.Before.CIDErD), metrics.Percent(c.After.CIDErD)))
				t.SetComparison(c)
			}
			t.sync()
		})
	}()
}
