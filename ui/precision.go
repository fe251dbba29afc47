package ui

import (
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

// loadPrecision is the remembered precision, fp32 where the machine has no fast bf16.
func loadPrecision(m *MainWindow) string {
	if m.deps.NoBF16 != "" {
		return "fp32"
	}
	if m.prefs.StringWithFallback(prefTrainPrecision, "fp32") == "bf16" {
		return "bf16"
	}
	return "fp32"
}

// newPrecisionSelect is the Fine-tune tab's Precision menu: it sets the arithmetic of the runs it
// starts and of the captioning model's next load, and is remembered. Where the machine has no fast
// bf16 it stays at fp32, disabled, and the caption below the device says why.
func newPrecisionSelect(m *MainWindow) *widget.Select {
	s := widget.NewSelect(precisionChoices, nil)
	if loadPrecision(m) == "bf16" {
		s.SetSelected(precisionChoices[1])
	} else {
		s.SetSelected(precisionChoices[0])
	}
	s.OnChanged = func(c string) {
		m.prefs.SetString(prefTrainPrecision, precisionOf(c))
		m.models.setPrecision(precisionOf(c))
	}
	if m.deps.NoBF16 != "" {
		s.Disable()
	}
	return s
}
