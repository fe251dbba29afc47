package app

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progressLine draws one self-overwriting progress line on a terminal stream (stderr): count,
// bar, rate and ETA, redrawn at most every 100 ms.
type progressLine struct {
	w     io.Writer
	label string
	unit  string
	total int
	start time.Time
	last  time.Time
	extra string
}

func newProgressLine(w io.Writer, label, unit string, total int) *progressLine {
	return &progressLine{w: w, label: label, unit: unit, total: total, start: time.Now()}
}

// Update redraws the line for done items (forced when done == total).
func (p *progressLine) Update(done int, extra string) {
	now := time.Now()
	if done < p.total && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	p.extra = extra
	elapsed := now.Sub(p.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(done) / elapsed
	}
	eta := "--:--"
	if rate > 0 && done < p.total {
		eta = formatDuration(time.Duration(float64(p.total-done) / rate * float64(time.Second)))
	} else if done >= p.total {
		eta = formatDuration(now.Sub(p.start))
	}
	fmt.Fprintf(p.w, "\r%s %d/%d %s %.1f %s/s ETA %s %s\x1b[K", p.label, done, p.total, drawBar(done, p.total), rate, p.unit, eta, extra)
	if done >= p.total {
		fmt.Fprintln(p.w)
	}
}

// Finish ends the line if it was not completed (cancel, error).
func (p *progressLine) Finish() {
	if !p.last.IsZero() {
		fmt.Fprintln(p.w)
	}
}

func formatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}

// drawBar draws a 20-cell bar for done out of total.
func drawBar(done, total int) string {
	const width = 20
	filled := 0
	if total > 0 {
		filled = min(done, total) * width / total
	}
	return strings.Repeat("█", filled) + strings.Repeat("░", width-filled)
}
