package app

import (
	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"github.com/captune/captune/assets"
	"github.com/captune/captune/ui"
)

// runGUI opens the main window and returns when it closes.
func runGUI(env *Env, args []string) int {
	a := fyneapp.NewWithID("io.captune.app")
	a.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon))
	m := ui.NewMainWindow(a)
	m.Window.ShowAndRun()
	return 0
}
