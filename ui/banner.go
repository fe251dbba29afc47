package ui

import (
	"image"
	"os"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/captune/captune/annotate"
)

// demoBanner is the note at the top of the Annotate tab shown when the bundled demo model is
// chosen for a folder outside its domain. It never blocks: the user reads it, opens the Models
// dialog from it, or closes it (for that folder, until Captune restarts).
//
// The rule, kept simple on purpose: the demo model was trained on 64×64 synthetic shapes (the
// bundled sample is such a set), so a folder is in its domain when none of its first three
// readable images is larger than 64 pixels on a side. Any photo is larger.
type demoBanner struct {
	content   *fyne.Container
	text      *widget.Label
	get       *widget.Button
	close     *widget.Button
	plain     fyne.CanvasObject // the Annotate tab's content without the banner
	shown     bool
	dismissed map[string]bool // dataset roots whose banner was closed
	demoRoot  string          // the dataset root demo describes
	demo      bool
}

// demoBannerText is the banner's message.
const demoBannerText = "The bundled model is " + demoModelText + ". Get a real captioning model (BLIP, trained on millions of photos) to auto-caption this folder."

func newDemoBanner(m *MainWindow) *demoBanner {
	b := &demoBanner{dismissed: map[string]bool{}}
	b.text = widget.NewLabel(demoBannerText)
	b.text.Wrapping = fyne.TextWrapWord
	b.get = widget.NewButton("Get a real model…", m.showModels)
	b.get.Importance = widget.HighImportance
	b.close = widget.NewButtonWithIcon("", theme.CancelIcon(), func() {
		if m.ds != nil {
			b.dismissed[m.ds.Root()] = true
		}
		m.models.updateBanner()
	})
	b.close.Importance = widget.LowImportance
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameHeaderBackground))
	row := container.NewBorder(nil, nil, widget.NewIcon(theme.InfoIcon()), container.NewHBox(b.get, b.close), b.text)
	b.content = container.NewStack(bg, container.NewPadded(row))
	return b
}

// updateBanner shows or hides the demo-model banner for the open folder and the chosen model.
// UI goroutine.
func (p *modelPicker) updateBanner() {
	m, b := p.m, p.banner
	if m.Tabs == nil || b == nil || len(m.Tabs.Items) == 0 {
		return // still building the window
	}
	want := m.ds != nil && m.ds.Len() > 0 && p.chosen() != "" && p.chosen() == m.deps.DefaultModel &&
		!b.dismissed[m.ds.Root()] && !b.inDemoDomain(m.ds)
	tab := m.Tabs.Items[0]
	if b.plain == nil {
		b.plain = tab.Content
	}
	if want == b.shown {
		return
	}
	b.shown = want
	if want {
		tab.Content = container.NewBorder(b.content, nil, nil, nil, b.plain)
	} else {
		tab.Content = b.plain
	}
	m.Tabs.Refresh()
}

// inDemoDomain applies the rule of demoBanner to ds, reading the headers of at most three images
// once per folder.
func (b *demoBanner) inDemoDomain(ds *annotate.Dataset) bool {
	if b.demoRoot == ds.Root() {
		return b.demo
	}
	b.demoRoot, b.demo = ds.Root(), true
	read := 0
	for _, it := range ds.Items() {
		if read == 3 {
			break
		}
		f, err := os.Open(ds.AbsPath(it))
		if err != nil {
			continue
		}
		cfg, _, err := image.DecodeConfig(f)
		f.Close()
		if err != nil {
			continue
		}
		read++
		if cfg.Width > 64 || cfg.Height > 64 {
			b.demo = false
			break
		}
	}
	return b.demo
}
