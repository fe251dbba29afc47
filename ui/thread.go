package ui

import "fyne.io/fyne/v2"

// onUI and onUIWait run f on the UI goroutine: fyne.Do and fyne.DoAndWait. Every callback from a
// worker goroutine goes through them. Fyne's test driver runs f right on the calling goroutine, so
// the package's tests replace both with calls serialised by one lock, as the real driver's single
// UI goroutine serialises them.
var (
	onUI     = fyne.Do
	onUIWait = fyne.DoAndWait
)
