package ui

import (
	"fmt"
	"image/color"
	"math"
	"strings"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// CaptionPlot draws, per epoch, the CIDEr-D of the validation captions (left axis, ×100) and the
// share of validation images whose caption another image also got (right axis, 0–100%): the
// first falling or the second climbing is a run drifting or collapsing that the loss hides.
// Points may be added from any goroutine; the widget redraws itself at most a few times a second.
type CaptionPlot struct {
	widget.BaseWidget

	mu        sync.Mutex
	cider     []curvePoint // step is the epoch; v is CIDEr-D ×100
	identical []curvePoint // step is the epoch; v is a percentage
	redraw    *throttle
}

// NewCaptionPlot makes an empty plot.
func NewCaptionPlot() *CaptionPlot {
	c := &CaptionPlot{}
	c.redraw = newThrottle(curveRedrawInterval, c.Refresh)
	c.ExtendBaseWidget(c)
	return c
}

// Add records an epoch's validation captions: CIDEr-D on pycocoevalcap's scale and the identical
// share 0–1; NaN and infinite values are skipped. Any goroutine.
func (c *CaptionPlot) Add(epoch int, cider, identical float64) {
	c.mu.Lock()
	if !math.IsNaN(cider) && !math.IsInf(cider, 0) {
		c.cider = append(c.cider, curvePoint{epoch, 100 * cider})
	}
	if !math.IsNaN(identical) && !math.IsInf(identical, 0) {
		c.identical = append(c.identical, curvePoint{epoch, 100 * identical})
	}
	c.mu.Unlock()
	c.redraw.trigger()
}

// Reset clears the plot for a new run. UI goroutine.
func (c *CaptionPlot) Reset() {
	c.mu.Lock()
	c.cider, c.identical = nil, nil
	c.mu.Unlock()
	c.Refresh()
}

// Points returns how many CIDEr-D and identical-share points the plot holds.
func (c *CaptionPlot) Points() (cider, identical int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cider), len(c.identical)
}

// CreateRenderer is part of fyne.Widget.
func (c *CaptionPlot) CreateRenderer() fyne.WidgetRenderer {
	fg := theme.Color(theme.ColorNameForeground)
	r := &captionPlotRenderer{c: c, bg: canvas.NewRectangle(theme.Color(theme.ColorNameInputBackground)),
		axisX: canvas.NewLine(fg), axisL: canvas.NewLine(fg), axisR: canvas.NewLine(fg),
		empty: canvas.NewText("CIDEr-D and identical captions per epoch appear after the first epoch.", theme.Color(theme.ColorNamePlaceHolder))}
	r.bg.CornerRadius = theme.InputRadiusSize()
	for range 8 {
		t := canvas.NewText("", fg)
		t.TextSize = theme.CaptionTextSize()
		r.labels = append(r.labels, t)
	}
	return r
}

// MinSize is part of fyne.Widget.
func (c *CaptionPlot) MinSize() fyne.Size {
	c.ExtendBaseWidget(c)
	return fyne.NewSize(320, 130)
}

type captionPlotRenderer struct {
	c                   *CaptionPlot
	bg                  *canvas.Rectangle
	axisX, axisL, axisR *canvas.Line
	lines               [2][]*canvas.Line
	dots                [2][]*canvas.Circle
	labels              []*canvas.Text // left max, left 0, right 100%, right 0%, x first, x last, legend ×2
	empty               *canvas.Text
	objects             []fyne.CanvasObject
	size                fyne.Size
}

func (r *captionPlotRenderer) Destroy()                     {}
func (r *captionPlotRenderer) MinSize() fyne.Size           { return r.c.MinSize() }
func (r *captionPlotRenderer) Objects() []fyne.CanvasObject { return r.objects }
func (r *captionPlotRenderer) Layout(s fyne.Size)           { r.size = s; r.build() }
func (r *captionPlotRenderer) Refresh()                     { r.build(); canvas.Refresh(r.c) }

func (r *captionPlotRenderer) build() {
	r.c.mu.Lock()
	series := [2][]curvePoint{append([]curvePoint(nil), r.c.cider...), append([]curvePoint(nil), r.c.identical...)}
	r.c.mu.Unlock()

	r.bg.FillColor = theme.Color(theme.ColorNameInputBackground)
	r.bg.Resize(r.size)
	r.objects = []fyne.CanvasObject{r.bg}
	if len(series[0]) == 0 && len(series[1]) == 0 {
		r.empty.Color = theme.Color(theme.ColorNamePlaceHolder)
		ts := r.empty.MinSize()
		r.empty.Move(fyne.NewPos((r.size.Width-ts.Width)/2, (r.size.Height-ts.Height)/2))
		r.objects = append(r.objects, r.empty)
		return
	}
	const left, right, top, bottom = 52, 44, 28, 22
	pw, ph := r.size.Width-left-right, r.size.Height-top-bottom
	if pw < 10 || ph < 10 {
		return
	}
	first, last, ciderMax := math.MaxInt, 1, 1.0
	for _, ps := range series {
		for _, p := range ps {
			first, last = min(first, p.step), max(last, p.step)
		}
	}
	for _, p := range series[0] {
		ciderMax = math.Max(ciderMax, p.v*1.1)
	}
	tops := [2]float64{ciderMax, 100}
	pos := func(s int, p curvePoint) fyne.Position {
		x := left + pw/2
		if last > first {
			x = left + pw*float32(p.step-first)/float32(last-first)
		}
		return fyne.NewPos(x, top+ph*float32(1-p.v/tops[s]))
	}
	fg := theme.Color(theme.ColorNameForeground)
	for _, a := range []*canvas.Line{r.axisX, r.axisL, r.axisR} {
		a.StrokeColor = fg
	}
	r.axisL.Position1, r.axisL.Position2 = fyne.NewPos(left, top), fyne.NewPos(left, top+ph)
	r.axisR.Position1, r.axisR.Position2 = fyne.NewPos(left+pw, top), fyne.NewPos(left+pw, top+ph)
	r.axisX.Position1, r.axisX.Position2 = fyne.NewPos(left, top+ph), fyne.NewPos(left+pw, top+ph)
	r.objects = append(r.objects, r.axisX, r.axisL, r.axisR)
	cols := [2]color.Color{theme.Color(theme.ColorNamePrimary), theme.Color(theme.ColorNameError)}
	for s, pts := range series {
		r.drawSeries(s, pts, func(p curvePoint) fyne.Position { return pos(s, p) }, cols[s])
	}
	r.placeLabels(left, top, pw, ph, ciderMax, first, last, cols)
}

// drawSeries joins pts with lines and marks each with a dot, reusing the objects of the last draw.
func (r *captionPlotRenderer) drawSeries(s int, pts []curvePoint, pos func(curvePoint) fyne.Position, col color.Color) {
	for len(r.lines[s]) < len(pts)-1 {
		r.lines[s] = append(r.lines[s], canvas.NewLine(col))
	}
	for len(r.dots[s]) < len(pts) {
		r.dots[s] = append(r.dots[s], canvas.NewCircle(col))
	}
	for i, p := range pts {
		if i+1 < len(pts) {
			l := r.lines[s][i]
			l.StrokeColor, l.StrokeWidth = col, 2
			l.Position1, l.Position2 = pos(p), pos(pts[i+1])
			r.objects = append(r.objects, l)
		}
		d := r.dots[s][i]
		d.FillColor = col
		d.Move(pos(p).SubtractXY(3.5, 3.5))
		d.Resize(fyne.NewSize(7, 7))
		r.objects = append(r.objects, d)
	}
}

// placeLabels writes both axes' ends, the first and last epoch and the legend.
func (r *captionPlotRenderer) placeLabels(left, top, pw, ph float32, ciderMax float64, first, last int, cols [2]color.Color) {
	fg := theme.Color(theme.ColorNameForeground)
	texts := []string{fmt.Sprintf("%.3g", ciderMax), "0", "100%", "0%", fmt.Sprintf("epoch %d", first), fmt.Sprintf("epoch %d", last),
		"validation CIDEr-D (×100, left)", "identical captions (%, right)"}
	if first == last {
		texts[4] = ""
	}
	var legendX float32 = left
	for i, t := range r.labels {
		t.Text, t.Color = texts[i], fg
		ts := t.MinSize()
		switch i {
		case 0, 1:
			t.Move(fyne.NewPos(left-ts.Width-4, top+ph*float32(i)-ts.Height/2))
		case 2, 3:
			t.Move(fyne.NewPos(left+pw+4, top+ph*float32(i-2)-ts.Height/2))
		case 4:
			t.Move(fyne.NewPos(left, top+ph+2))
		case 5:
			if first == last {
				t.Move(fyne.NewPos(left+(pw-ts.Width)/2, top+ph+2))
			} else {
				t.Move(fyne.NewPos(left+pw-ts.Width, top+ph+2))
			}
		case 6, 7:
			t.Color = cols[i-6]
			t.TextStyle.Bold = true
			t.Move(fyne.NewPos(legendX, 10-ts.Height/2))
			legendX += ts.Width + 16
		}
		t.Refresh()
		r.objects = append(r.objects, t)
	}
}

// examplesText lists an epoch's example captions ("image: caption") one a line, each caption quoted.
func examplesText(epoch int, examples []string) string {
	if len(examples) == 0 {
		return ""
	}
	lines := []string{fmt.Sprintf("Epoch %d validation captions:", epoch)}
	for _, e := range examples[:min(len(examples), 3)] {
		if img, caption, ok := strings.Cut(e, ": "); ok {
			e = fmt.Sprintf("%s: “%s”", img, caption)
		}
		lines = append(lines, "  "+e)
	}
	return strings.Join(lines, "\n")
}
