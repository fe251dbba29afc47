package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// precisionChoices are the Precision menu's entries, fp32 first (the default): what each costs
// and gives, in the words of the menu.
var precisionChoices = []string{
	"fp32 (exact)",
	"bf16 (about twice as fast on CPUs with AVX512-BF16 or AMX and recent GPUs)",
}

// precisionOf maps a Precision menu entry to its setting, "fp32" or "bf16".
func precisionOf(choice string) string {
	if choice == precisionChoices[1] {
		return "bf16"
	}
	return "fp32"
}

// newPrecisionSelect is the Precision menu, remembering the choice under the preference key.
func newPrecisionSelect(p fyne.Preferences, key string) *widget.Select {
	s := widget.NewSelect(precisionChoices, func(c string) { p.SetString(key, precisionOf(c)) })
	if p.StringWithFallback(key, "fp32") == "bf16" {
		s.SetSelected(precisionChoices[1])
	} else {
		s.SetSelected(precisionChoices[0])
	}
	return s
}
