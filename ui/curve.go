package ui

import (
	"fmt"
	"image/color"
	"math"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// curveRedrawInterval caps the loss curve at five redraws a second: a training loop may report
// every few milliseconds, and redrawing a few hundred segments that often only costs the CPU
// the training needs.
const curveRedrawInterval = 200 * time.Millisecond

// curveMaxPoints is how many points the curve draws at most; longer runs are averaged into buckets.
const curveMaxPoints = 300

type curvePoint struct {
	step int
	v    float64
}

// LossCurve plots the training loss of every step (faint), its running average, and the
// validation loss after each evaluation (dots). Points may be added from any goroutine; the widget
// redraws itself at most a few times a second.
type LossCurve struct {
	widget.BaseWidget

	mu     sync.Mutex
	loss   []curvePoint
	val    []curvePoint
	redraw *throttle
}

// NewLossCurve makes an empty curve.
func NewLossCurve() *LossCurve {
	c := &LossCurve{}
	c.redraw = newThrottle(curveRedrawInterval, c.Refresh)
	c.ExtendBaseWidget(c)
	return c
}

// Add records the training loss of a step; NaN and infinite values are skipped.
func (c *LossCurve) Add(step int, loss float64) {
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return
	}
	c.mu.Lock()
	c.loss = append(c.loss, curvePoint{step, loss})
	c.mu.Unlock()
	c.redraw.trigger()
}

// AddValidation records a validation loss measured after step.
func (c *LossCurve) AddValidation(step int, loss float64) {
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return
	}
	c.mu.Lock()
	c.val = append(c.val, curvePoint{step, loss})
	c.mu.Unlock()
	c.redraw.trigger()
}

// Restart replaces the curve's points with a resumed run's history (see TrainProgress), dropping
// the points after it that the run repeats. Any goroutine.
func (c *LossCurve) Restart(losses []float64, valSteps []int, vals []float64) {
	c.mu.Lock()
	c.loss, c.val = nil, nil
	for i, l := range losses {
		if !math.IsNaN(l) && !math.IsInf(l, 0) {
			c.loss = append(c.loss, curvePoint{i + 1, l})
		}
	}
	for i := range min(len(valSteps), len(vals)) {
		if !math.IsNaN(vals[i]) && !math.IsInf(vals[i], 0) {
			c.val = append(c.val, curvePoint{valSteps[i], vals[i]})
		}
	}
	c.mu.Unlock()
	c.redraw.trigger()
}

// Reset clears the curve for a new run. UI goroutine.
func (c *LossCurve) Reset() {
	c.mu.Lock()
	c.loss, c.val = nil, nil
	c.mu.Unlock()
	c.Refresh()
}

// Points returns how many training and validation points the curve holds.
func (c *LossCurve) Points() (train, val int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.loss), len(c.val)
}

// CreateRenderer is part of fyne.Widget.
func (c *LossCurve) CreateRenderer() fyne.WidgetRenderer {
	r := &curveRenderer{c: c, bg: canvas.NewRectangle(theme.Color(theme.ColorNameInputBackground)),
		axisX: canvas.NewLine(theme.Color(theme.ColorNameForeground)), axisY: canvas.NewLine(theme.Color(theme.ColorNameForeground)),
		empty: canvas.NewText("The loss curve appears when training starts.", theme.Color(theme.ColorNamePlaceHolder))}
	r.bg.CornerRadius = theme.InputRadiusSize()
	for range 5 {
		t := canvas.NewText("", theme.Color(theme.ColorNameForeground))
		t.TextSize = theme.CaptionTextSize()
		r.labels = append(r.labels, t)
	}
	return r
}

// MinSize is part of fyne.Widget.
func (c *LossCurve) MinSize() fyne.Size {
	c.ExtendBaseWidget(c)
	return fyne.NewSize(320, 200)
}

type curveRenderer struct {
	c            *LossCurve
	bg           *canvas.Rectangle
	axisX, axisY *canvas.Line
	raw, smooth  []*canvas.Line
	dots         []*canvas.Circle
	labels       []*canvas.Text // y max, y mid, y min, x start, x end
	legend       []fyne.CanvasObject
	empty        *canvas.Text
	objects      []fyne.CanvasObject
	size         fyne.Size
}

func (r *curveRenderer) Destroy()                     {}
func (r *curveRenderer) MinSize() fyne.Size           { return r.c.MinSize() }
func (r *curveRenderer) Objects() []fyne.CanvasObject { return r.objects }
func (r *curveRenderer) Layout(s fyne.Size)           { r.size = s; r.build() }
func (r *curveRenderer) Refresh()                     { r.build(); canvas.Refresh(r.c) }

// downsample averages pts into at most n buckets of consecutive steps.
func downsample(pts []curvePoint, n int) []curvePoint {
	if len(pts) <= n {
		return pts
	}
	out := make([]curvePoint, 0, n)
	for b := range n {
		lo, hi := b*len(pts)/n, (b+1)*len(pts)/n
		var sum float64
		for _, p := range pts[lo:hi] {
			sum += p.v
		}
		out = append(out, curvePoint{pts[hi-1].step, sum / float64(hi-lo)})
	}
	return out
}

// smoothed is the exponential moving average TensorBoard draws over a noisy loss.
func smoothed(pts []curvePoint, weight float64) []curvePoint {
	out := make([]curvePoint, len(pts))
	var last float64
	for i, p := range pts {
		if i == 0 {
			last = p.v
		} else {
			last = weight*last + (1-weight)*p.v
		}
		out[i] = curvePoint{p.step, last}
	}
	return out
}

// build lays the plot out again for the current size and points.
func (r *curveRenderer) build() {
	r.c.mu.Lock()
	loss := downsample(r.c.loss, curveMaxPoints)
	val := append([]curvePoint(nil), r.c.val...)
	r.c.mu.Unlock()

	r.bg.FillColor = theme.Color(theme.ColorNameInputBackground)
	r.bg.Resize(r.size)
	r.objects = []fyne.CanvasObject{r.bg}
	if len(loss) == 0 && len(val) == 0 {
		r.empty.Color = theme.Color(theme.ColorNamePlaceHolder)
		ts := r.empty.MinSize()
		r.empty.Move(fyne.NewPos((r.size.Width-ts.Width)/2, (r.size.Height-ts.Height)/2))
		r.objects = append(r.objects, r.empty)
		return
	}
	a, ok := newPlotArea(r.size, loss, val)
	if !ok {
		return
	}
	primary := theme.Color(theme.ColorNamePrimary)
	valColor := theme.Color(theme.ColorNameWarning)
	r.buildAxes(a)
	r.buildSeries(a, loss, val, primary, valColor)
	r.buildLabels(a)
	r.objects = append(r.objects, r.legendObjects(a.left, primary, valColor, len(val) > 0)...)
}

// plotArea maps steps and losses to positions in the widget: the plot's rectangle and the value
// range it shows (the data's, widened by 5% each way).
type plotArea struct {
	left, top, width, height float32
	lo, hi                   float64
	maxStep                  int
}

// newPlotArea fits the points into a widget of size s, leaving room for the labels; false when
// the widget is too small to plot in.
func newPlotArea(s fyne.Size, series ...[]curvePoint) (plotArea, bool) {
	const left, right, top, bottom = 52, 16, 28, 26
	a := plotArea{left: left, top: top, width: s.Width - left - right, height: s.Height - top - bottom}
	if a.width < 10 || a.height < 10 {
		return a, false
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	a.maxStep = 1
	for _, ps := range series {
		for _, p := range ps {
			lo, hi = math.Min(lo, p.v), math.Max(hi, p.v)
			a.maxStep = max(a.maxStep, p.step)
		}
	}
	if hi-lo < 1e-9 {
		lo, hi = lo-0.5, hi+0.5
	}
	margin := (hi - lo) * 0.05
	a.lo, a.hi = lo-margin, hi+margin
	return a, true
}

func (a plotArea) pos(p curvePoint) fyne.Position {
	x := a.left + a.width*float32(p.step)/float32(a.maxStep)
	y := a.top + a.height*float32((a.hi-p.v)/(a.hi-a.lo))
	return fyne.NewPos(x, y)
}

func (r *curveRenderer) buildAxes(a plotArea) {
	fg := theme.Color(theme.ColorNameForeground)
	bottom := a.top + a.height
	r.axisX.StrokeColor, r.axisY.StrokeColor = fg, fg
	r.axisY.Position1, r.axisY.Position2 = fyne.NewPos(a.left, a.top), fyne.NewPos(a.left, bottom)
	r.axisX.Position1, r.axisX.Position2 = fyne.NewPos(a.left, bottom), fyne.NewPos(a.left+a.width, bottom)
	r.objects = append(r.objects, r.axisX, r.axisY)
}

// buildSeries draws the training loss, raw (faint) and smoothed, and the validation losses as dots.
func (r *curveRenderer) buildSeries(a plotArea, loss, val []curvePoint, primary, valColor color.Color) {
	faint := theme.Color(theme.ColorNameDisabled)
	r.raw = r.lines(r.raw, loss, a.pos, faint, 1)
	r.smooth = r.lines(r.smooth, smoothed(loss, 0.8), a.pos, primary, 2)
	for _, l := range r.raw[:max(len(loss)-1, 0)] {
		r.objects = append(r.objects, l)
	}
	for _, l := range r.smooth[:max(len(loss)-1, 0)] {
		r.objects = append(r.objects, l)
	}
	for len(r.dots) < len(val) {
		r.dots = append(r.dots, canvas.NewCircle(valColor))
	}
	for i, p := range val {
		d := r.dots[i]
		d.FillColor = valColor
		c := a.pos(p)
		d.Move(c.SubtractXY(4, 4))
		d.Resize(fyne.NewSize(8, 8))
		r.objects = append(r.objects, d)
	}
}

// buildLabels writes the loss at the top, middle and bottom of the y axis, and the first and last
// step under the x axis.
func (r *curveRenderer) buildLabels(a plotArea) {
	fg := theme.Color(theme.ColorNameForeground)
	lo, hi := a.lo, a.hi
	texts := []string{fmt.Sprintf("%.3g", hi), fmt.Sprintf("%.3g", (hi+lo)/2), fmt.Sprintf("%.3g", lo), "0", fmt.Sprintf("step %d", a.maxStep)}
	for i, t := range r.labels {
		t.Text = texts[i]
		t.Color = fg
		ts := t.MinSize()
		switch i {
		case 0, 1, 2:
			y := a.top + a.height*float32(i)/2 - ts.Height/2
			t.Move(fyne.NewPos(a.left-ts.Width-4, y))
		case 3:
			t.Move(fyne.NewPos(a.left-ts.Width/2, a.top+a.height+4))
		case 4:
			t.Move(fyne.NewPos(a.left+a.width-ts.Width, a.top+a.height+4))
		}
		t.Refresh()
		r.objects = append(r.objects, t)
	}
}

// lines positions len(pts)-1 segments joining pts, reusing the line objects of the last draw.
func (r *curveRenderer) lines(pool []*canvas.Line, pts []curvePoint, pos func(curvePoint) fyne.Position, col color.Color, width float32) []*canvas.Line {
	for len(pool) < len(pts)-1 {
		pool = append(pool, canvas.NewLine(col))
	}
	for i := 0; i+1 < len(pts); i++ {
		l := pool[i]
		l.StrokeColor, l.StrokeWidth = col, width
		l.Position1, l.Position2 = pos(pts[i]), pos(pts[i+1])
	}
	return pool
}

func (r *curveRenderer) legendObjects(x float32, primary, valColor color.Color, withVal bool) []fyne.CanvasObject {
	fg := theme.Color(theme.ColorNameForeground)
	if r.legend == nil {
		line := canvas.NewLine(primary)
		line.StrokeWidth = 2
		t1 := canvas.NewText("training loss (smoothed)", fg)
		dot := canvas.NewCircle(valColor)
		t2 := canvas.NewText("validation loss", fg)
		t1.TextSize, t2.TextSize = theme.CaptionTextSize(), theme.CaptionTextSize()
		r.legend = []fyne.CanvasObject{line, t1, dot, t2}
	}
	line, t1, dot, t2 := r.legend[0].(*canvas.Line), r.legend[1].(*canvas.Text), r.legend[2].(*canvas.Circle), r.legend[3].(*canvas.Text)
	line.StrokeColor, dot.FillColor, t1.Color, t2.Color = primary, valColor, fg, fg
	y := float32(10)
	line.Position1, line.Position2 = fyne.NewPos(x, y), fyne.NewPos(x+20, y)
	s1 := t1.MinSize()
	t1.Move(fyne.NewPos(x+24, y-s1.Height/2))
	out := []fyne.CanvasObject{line, t1}
	if withVal {
		dx := x + 24 + s1.Width + 16
		dot.Move(fyne.NewPos(dx, y-4))
		dot.Resize(fyne.NewSize(8, 8))
		t2.Move(fyne.NewPos(dx+12, y-t2.MinSize().Height/2))
		out = append(out, dot, t2)
	}
	return out
}
