package ui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
)

// The Generation panel decodes with the chosen model's generation_config.json where the user has
// not typed a value, Captune's defaults for a model that sets none, and what the user typed always;
// only typed values are remembered.
func TestGenerationFollowsModelUnlessTyped(t *testing.T) {
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "config.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	deps := testDeps(&fakeCaptioner{name: "fake"})
	one := 1
	deps.AdviseGeneration = func(dir string) (GenerationAdvice, bool) {
		if dir != deps.DefaultModel {
			return GenerationAdvice{}, false
		}
		return GenerationAdvice{MinLength: &one}, true
	}
	m, _ := openWindow(t, deps, makeDataset(t, 2, nil))
	g := m.gen
	check := func(when string, wantMin, wantMax, wantTitle string, noteShown bool) {
		t.Helper()
		if g.minLen.Text != wantMin || g.maxLen.Text != wantMax {
			t.Errorf("%s: length %s–%s, want %s–%s", when, g.minLen.Text, g.maxLen.Text, wantMin, wantMax)
		}
		if !strings.Contains(g.item.Title, wantTitle) {
			t.Errorf("%s: panel title %q, want %q in it", when, g.item.Title, wantTitle)
		}
		if g.note.Visible() != noteShown {
			t.Errorf("%s: note %q shown %v, want %v", when, g.note.Text, g.note.Visible(), noteShown)
		}
	}
	check("bundled model", "1", "20", "1–20", true)
	if !strings.Contains(g.note.Text, "min length 1") {
		t.Errorf("note %q: want it to say the model gave min length 1", g.note.Text)
	}
	if s, err := g.settings(); err != nil || s.MinLength != 1 {
		t.Errorf("captioning settings %+v (%v), want min length 1", s, err)
	}
	onUIWait(func() { m.models.choose(other) })
	check("model without generation config", "5", "20", "5–20", false)

	g.minLen.SetText("") // the user clears the field and types 3
	test.Type(g.minLen, "3")
	onUIWait(func() { m.models.choose(deps.DefaultModel) })
	check("bundled model after typing a min length", "3", "20", "3–20", false)

	if c := chosenGeneration(m.prefs); !c[prefGenMin] || c[prefGenMax] || c[prefGenBeams] || c[prefGenRepetition] {
		t.Errorf("remembered as typed: %v, want the min length only", c)
	}
	if got := m.prefs.IntWithFallback(prefGenMin, -1); got != 3 {
		t.Errorf("stored min length %d, want 3", got)
	}
}

// Preferences from versions that stored every number: a value equal to the default is taken for
// one the user never typed; once values are stored only when typed, every stored value counts.
func TestChosenGenerationPreferences(t *testing.T) {
	tests := []struct {
		name      string
		typedOnly bool
		min       int
		want      bool
	}{
		{"old prefs, default", false, 5, false},
		{"old prefs, changed", false, 7, true},
		{"typed default", true, 5, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := test.NewTempApp(t).Preferences()
			p.SetInt(prefGenMin, tc.min)
			p.SetInt(prefGenMax, 20)
			p.SetBool(prefGenTypedOnly, tc.typedOnly)
			c := chosenGeneration(p)
			if c[prefGenMin] != tc.want || c[prefGenMax] != tc.typedOnly {
				t.Errorf("chosen %v, want min length %v, max length %v", c, tc.want, tc.typedOnly)
			}
		})
	}
}
