package ui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
)

// The status bar gives its message the room first: the message is shown whole while it fits, the
// file name and counts give way, and only text that cannot fit is cut, at its end.
func TestStatusBarMessageWins(t *testing.T) {
	dir := makeDataset(t, 2, nil)
	m, _ := openWindow(t, testDeps(&fakeCaptioner{name: "fake"}), dir)
	onUIWait(func() { m.Window.Resize(fyne.NewSize(900, 600)) })
	onUIWait(func() { m.itemInfo.SetText(strings.Repeat("a-long-file-name-", 6) + ".png · 4000×3000 · train") })
	tests := []struct {
		name  string
		msg   string
		whole bool // the message fits in full
	}{
		{"short", "Saved.", true},
		{"long", "Opened /home/someone/datasets/products: 1204 images, 1031 captioned, 173 uncaptioned", true},
		{"too long", strings.Repeat("Captioning failed for a reason that takes a long time to explain. ", 4), false},
	}
	for _, tt := range tests {
		onUIWait(func() { m.setStatus(tt.msg) })
		bar := m.statusBar.box.Size().Width
		msgW := m.Status.Size().Width
		if need := labelWidth(m.Status); tt.whole && msgW < need {
			t.Errorf("%s: the message has %v px, needs %v", tt.name, msgW, need)
		}
		if !tt.whole && (msgW < bar-1 || m.itemInfo.Size().Width > 0) {
			t.Errorf("%s: the message has %v of %v px (item line %v), want all of it", tt.name, msgW, bar, m.itemInfo.Size().Width)
		}
		if got := m.Status.Truncation; got != fyne.TextTruncateEllipsis {
			t.Errorf("%s: truncation %v, want an ellipsis at the end", tt.name, got)
		}
		if w := m.statusBar.box.MinSize().Width; w > 0 {
			t.Errorf("%s: the status bar asks for %v px with no job running, want none", tt.name, w)
		}
	}
}

// An idle progress bar is not drawn (its empty track looks like a full bar); a job's bar starts
// empty and goes away when the job ends.
func TestProgressBarIdleHidden(t *testing.T) {
	dir := makeDataset(t, 1, nil)
	m, _ := openWindow(t, testDeps(&fakeCaptioner{name: "fake"}), dir)
	j := m.job
	steps := []struct {
		name    string
		do      func()
		visible bool
		value   float64
	}{
		{"idle", func() {}, false, 0},
		{"job of unknown size", func() { j.begin("Loading model…", "img", 0, func() {}) }, false, 0},
		{"job of 10", func() { j.begin("Captioning", "img", 10, func() {}) }, true, 0},
		{"halfway", func() { j.set(5); j.redraw.settle() }, true, 5},
		{"ended", func() { j.end("Captioned 10 images.") }, false, 5},
		{"next job starts empty", func() { j.begin("Exporting", "img", 4, nil) }, true, 0},
	}
	for _, s := range steps {
		s.do()
		shown := j.Box.Visible() && j.barBox.Visible() && j.bar.Visible()
		if shown != s.visible {
			t.Errorf("%s: bar shown %v, want %v", s.name, shown, s.visible)
		}
		if s.visible && j.bar.Value != s.value {
			t.Errorf("%s: bar value %v of %v, want %v", s.name, j.bar.Value, j.bar.Max, s.value)
		}
	}
	j.end("")
}
