package ui

import (
	"fmt"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// throttle runs fn on the UI goroutine at most once per interval however often it is triggered,
// and always once after the last trigger, so that a training loop reporting every few
// milliseconds redraws the window only a few times a second (fyne-io/terminal does the same).
type throttle struct {
	interval time.Duration
	fn       func()

	mu        sync.Mutex
	last      time.Time
	scheduled bool
	stopped   bool
}

func newThrottle(interval time.Duration, fn func()) *throttle {
	return &throttle{interval: interval, fn: fn}
}

// trigger asks for a run; it may be called from any goroutine.
func (t *throttle) trigger() {
	t.mu.Lock()
	if t.scheduled || t.stopped {
		t.mu.Unlock()
		return
	}
	t.scheduled = true
	wait := t.interval - time.Since(t.last)
	if wait <= 0 {
		t.last = time.Now()
		t.mu.Unlock()
		t.fire()
		return
	}
	t.mu.Unlock()
	time.AfterFunc(wait, func() {
		t.mu.Lock()
		t.last = time.Now()
		t.mu.Unlock()
		t.fire()
	})
}

func (t *throttle) fire() {
	onUI(func() {
		t.mu.Lock()
		stopped := t.stopped
		t.mu.Unlock()
		if !stopped {
			t.fn()
		}
		t.mu.Lock()
		t.scheduled = false
		t.mu.Unlock()
	})
}

// settle waits until no run is pending (tests, screenshots).
func (t *throttle) settle() {
	for {
		t.mu.Lock()
		busy := t.scheduled
		t.mu.Unlock()
		if !busy {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// stop makes pending and later triggers do nothing (the window is closing).
func (t *throttle) stop() {
	t.mu.Lock()
	t.stopped = true
	t.mu.Unlock()
}

// jobBar is the status bar's progress line for long work: "Captioning 41/173 ▓▓▓░░ 2.1 img/s ·
// ETA 1:03 [Cancel]". Counts may be set from any goroutine; the widgets are redrawn through a
// throttle on the UI goroutine.
type jobBar struct {
	Box    *fyne.Container
	label  *widget.Label
	bar    *widget.ProgressBar
	barBox *fyne.Container // the bar at a fixed width; hidden when there is no count to show
	cancel *widget.Button

	mu       sync.Mutex
	active   bool // between begin and end: redraws show the counts
	title    string
	unit     string
	done     int
	total    int
	start    time.Time
	onCancel func()
	redraw   *throttle
	onChange func() // after the line's text or parts changed (the status bar lays itself out again)
}

func newJobBar() *jobBar {
	j := &jobBar{label: widget.NewLabel(""), bar: widget.NewProgressBar()}
	j.bar.TextFormatter = func() string {
		j.mu.Lock()
		defer j.mu.Unlock()
		return fmt.Sprintf("%d/%d", j.done, j.total)
	}
	j.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), func() {
		j.mu.Lock()
		f := j.onCancel
		j.mu.Unlock()
		if f != nil {
			f()
			j.cancel.Disable()
			j.cancel.SetText("Cancelling…")
		}
	})
	j.redraw = newThrottle(100*time.Millisecond, j.draw)
	j.barBox = container.NewGridWrap(fyne.NewSize(180, j.bar.MinSize().Height), j.bar)
	j.label.Truncation = fyne.TextTruncateEllipsis
	label := container.New(&cappedWidth{label: j.label, max: maxJobLabelWidth}, j.label)
	j.Box = container.NewHBox(label, j.barBox, j.cancel)
	j.Box.Hide()
	return j
}

// maxJobLabelWidth bounds the job line's text ("Loading /a/long/path/to/a/model…"), so that a long
// one is cut at its end instead of pushing the status bar's message out or widening the window.
const maxJobLabelWidth = 420

// cappedWidth gives a truncating label the width of its whole text, up to max.
type cappedWidth struct {
	label *widget.Label
	max   float32
}

// Layout is part of fyne.Layout.
func (c *cappedWidth) Layout(objects []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objects {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

// MinSize is part of fyne.Layout.
func (c *cappedWidth) MinSize([]fyne.CanvasObject) fyne.Size {
	return fyne.NewSize(min(labelWidth(c.label), c.max), c.label.MinSize().Height)
}

// begin shows the bar for a job of total units; cancel (may be nil) is called by the Cancel button.
// UI goroutine only.
func (j *jobBar) begin(title, unit string, total int, cancel func()) {
	j.mu.Lock()
	j.title, j.unit, j.done, j.total, j.start, j.onCancel = title, unit, 0, total, time.Now(), cancel
	j.active = true
	j.mu.Unlock()
	j.cancel.SetText("Cancel")
	j.cancel.Enable()
	j.cancel.Show()
	if cancel == nil {
		j.cancel.Hide()
	}
	// An idle bar would draw its full-width track, which reads as "done": it shows only while a
	// job with a known size runs, and starts empty.
	j.bar.Max, j.bar.Value = float64(max(total, 1)), 0
	j.showBar(false)
	j.Box.Show()
	j.draw()
}

// set records progress; any goroutine.
func (j *jobBar) set(done int) {
	j.mu.Lock()
	j.done = min(done, j.total)
	j.mu.Unlock()
	j.redraw.trigger()
}

// setTitle changes what the line says the job is doing ("Loading model…"); any goroutine.
func (j *jobBar) setTitle(title string) {
	j.mu.Lock()
	j.title = title
	j.mu.Unlock()
	j.redraw.trigger()
}

// end stops the job and leaves msg in the line. UI goroutine only.
func (j *jobBar) end(msg string) {
	j.draw()
	j.mu.Lock()
	j.onCancel = nil
	j.active = false // a redraw still pending must not bring the counts back
	j.mu.Unlock()
	j.showBar(false)
	j.cancel.Hide()
	j.label.SetText(msg)
	j.changed()
}

// showBar shows or hides the progress bar and the room it takes.
func (j *jobBar) showBar(on bool) {
	if on {
		j.bar.Show()
		j.barBox.Show()
	} else {
		j.bar.Hide()
		j.barBox.Hide()
	}
}

func (j *jobBar) changed() {
	if j.onChange != nil {
		j.onChange()
	}
}

// running reports whether a job is in progress.
func (j *jobBar) running() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.onCancel != nil
}

func (j *jobBar) draw() {
	j.mu.Lock()
	done, total, title, unit, active := j.done, j.total, j.title, j.unit, j.active
	elapsed := time.Since(j.start)
	j.mu.Unlock()
	if !active {
		return
	}
	j.label.SetText(title + " " + rateAndETA(done, total, elapsed, unit))
	defer j.changed()
	if total <= 0 {
		j.showBar(false)
		return
	}
	j.bar.Max = float64(total)
	j.bar.SetValue(float64(done))
	j.showBar(true)
}

// rateAndETA formats "2.1 img/s · ETA 1:03" for done of total units after elapsed.
func rateAndETA(done, total int, elapsed time.Duration, unit string) string {
	if done <= 0 || elapsed <= 0 {
		return ""
	}
	rate := float64(done) / elapsed.Seconds()
	if done >= total {
		return fmt.Sprintf("· %.1f %s/s", rate, unit)
	}
	eta := time.Duration(float64(total-done) / rate * float64(time.Second))
	return fmt.Sprintf("· %.1f %s/s · ETA %s", rate, unit, formatDuration(eta))
}

// formatDuration prints m:ss or h:mm:ss.
func formatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}
