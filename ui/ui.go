// Package ui holds Captune's Fyne screens. It depends only on small interfaces of the domain
// packages (see deps.go), so every screen can be built and tested with fakes; package app wires the
// real dataset, model and trainer in.
package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// MainWindow is Captune's single window: the Annotate, Fine-tune, Compare and Export tabs above a status bar.
type MainWindow struct {
	Window fyne.Window
	Tabs   *container.AppTabs
	Status *widget.Label
}

// NewMainWindow builds the main window of app a.
func NewMainWindow(a fyne.App) *MainWindow {
	w := a.NewWindow("Captune")
	m := &MainWindow{Window: w, Status: widget.NewLabel("No folder open: File › Open Folder… (Ctrl+O)")}
	m.Tabs = container.NewAppTabs(
		container.NewTabItem("Annotate", widget.NewLabel("Open a folder of images to start captioning.")),
		container.NewTabItem("Fine-tune", widget.NewLabel("Fine-tuning needs a dataset with captions.")),
		container.NewTabItem("Compare", widget.NewLabel("Before/after captions appear here after a fine-tuning run.")),
		container.NewTabItem("Export", widget.NewLabel("Export the dataset's captions.")),
	)
	w.SetContent(container.NewBorder(nil, m.Status, nil, nil, m.Tabs))
	w.Resize(fyne.NewSize(1200, 780))
	return m
}
