package ui

import "testing"

// The Fine-tune tab's Precision menu starts at fp32, hands bf16 to the run when chosen, and a new
// window remembers the choice.
func TestFineTunePrecisionMenu(t *testing.T) {
	deps := testDeps(&fakeCaptioner{name: "fake"})
	deps.RunsDir = t.TempDir()
	ds := makeDataset(t, 4, map[int]string{0: "a", 1: "b", 2: "c", 3: "d"})
	m, _ := openWindow(t, deps, ds)
	m.Tabs.SelectIndex(1)
	if s, _, err := m.ft.settings(); err != nil || s.Precision != "fp32" {
		t.Fatalf("default settings: precision %q (%v), want fp32", s.Precision, err)
	}
	m.ft.precision.SetSelected(precisionChoices[1])
	if s, _, _ := m.ft.settings(); s.Precision != "bf16" {
		t.Errorf("after choosing %q: precision %q, want bf16", precisionChoices[1], s.Precision)
	}
	if got := newPrecisionSelect(m.prefs, prefTrainPrecision).Selected; got != precisionChoices[1] {
		t.Errorf("a new Precision menu shows %q, want the remembered bf16 choice", got)
	}
}
