package ui

import (
	"image"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
)

// This file is the window's test hook: what tests and the screenshot script (app's
// TestGUIEndToEnd with CAPTUNE_SCREENSHOTS) need and users never reach. Nothing else in the
// package calls it.

// Capture renders the window as an image once the thumbnails and previews being decoded have
// arrived, for scripted screenshots and tests with Fyne's test driver (whose software renderer
// draws the canvas; the desktop driver's Capture must run on its UI goroutine instead).
func (m *MainWindow) Capture() image.Image {
	m.images.wait()
	for _, th := range []*throttle{m.stats, m.job.redraw, m.ft.redraw, m.ft.curve.redraw} {
		th.settle()
	}
	var img image.Image
	onUIWait(func() {
		relayout(m.Window.Content())
		img = m.Window.Canvas().Capture()
	})
	return img
}

// relayout lays every container out again, as the desktop driver does when a child's minimum
// size changes (the test driver does not). It descends through the containers this window uses.
func relayout(o fyne.CanvasObject) {
	switch c := o.(type) {
	case *fyne.Container:
		c.Refresh()
		for _, ch := range c.Objects {
			relayout(ch)
		}
	case *container.Split:
		relayout(c.Leading)
		relayout(c.Trailing)
		c.Refresh()
	case *container.AppTabs:
		for _, it := range c.Items {
			relayout(it.Content)
		}
		c.Refresh()
	case *container.Scroll:
		relayout(c.Content)
		c.Refresh()
	case fyne.Widget:
		c.Refresh()
	}
}

// Busy reports whether background work is running: captioning, training, evaluating, exporting,
// or captioning dropped images.
func (m *MainWindow) Busy() bool {
	return m.captioning != nil || m.ft.running || m.cmp.running || m.exporting || m.tray.busy()
}
