package ui

import (
	"context"
	"strings"
	"testing"
)

// The Fine-tune tab's Precision menu starts at fp32, hands bf16 to the run and to the captioning
// model's next load when chosen, and a new window remembers the choice.
func TestFineTunePrecisionMenu(t *testing.T) {
	deps := testDeps(&fakeCaptioner{name: "fake"})
	deps.RunsDir = t.TempDir()
	var loaded []string
	load := deps.LoadModel
	deps.LoadModel = func(ctx context.Context, dir, device, precision string) (Captioner, error) {
		loaded = append(loaded, precision)
		return load(ctx, dir, device, precision)
	}
	ds := makeDataset(t, 4, map[int]string{0: "a", 1: "b", 2: "c", 3: "d"})
	m, _ := openWindow(t, deps, ds)
	onUIWait(func() { m.Tabs.SelectIndex(1) })
	if s, _, err := m.ft.settings(); err != nil || s.Precision != "fp32" {
		t.Fatalf("default settings: precision %q (%v), want fp32", s.Precision, err)
	}
	onUIWait(func() { m.ft.precision.SetSelected(precisionChoices[1]) })
	if s, _, _ := m.ft.settings(); s.Precision != "bf16" {
		t.Errorf("after choosing %q: precision %q, want bf16", precisionChoices[1], s.Precision)
	}
	lm, err := m.models.acquire(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	m.models.release(lm)
	if len(loaded) == 0 || loaded[len(loaded)-1] != "bf16" {
		t.Errorf("captioning model loaded with precisions %v, want bf16 last", loaded)
	}
	if got := loadPrecision(m); got != "bf16" {
		t.Errorf("remembered precision %q, want bf16", got)
	}
}

// Without fast bf16 the menu stays at fp32, disabled, and the tab says why.
func TestFineTunePrecisionUnavailable(t *testing.T) {
	deps := testDeps(&fakeCaptioner{name: "fake"})
	deps.RunsDir = t.TempDir()
	deps.NoBF16 = "this CPU has no bfloat16 instructions; computing in fp32"
	m, _ := openWindow(t, deps, makeDataset(t, 2, nil))
	onUIWait(func() { m.prefs.SetString(prefTrainPrecision, "bf16") })
	onUIWait(func() { m.Tabs.SelectIndex(1) })
	sel := newPrecisionSelect(m)
	if sel.Selected != precisionChoices[0] || !sel.Disabled() {
		t.Errorf("menu shows %q (disabled %v), want fp32 disabled", sel.Selected, sel.Disabled())
	}
	if !strings.Contains(m.ft.deviceInfo.Text, "no bfloat16") {
		t.Errorf("device caption %q does not say why bf16 is unavailable", m.ft.deviceInfo.Text)
	}
}
