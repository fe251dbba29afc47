package ui

import (
	"strings"
	"testing"
)

// The caption editor shows each caption's token count against the training length, and says when
// training cuts it.
func TestEditorShowsTokenCount(t *testing.T) {
	deps := testDeps(&fakeCaptioner{name: "fake"})
	var counted []string
	deps.CountTokens = func(modelDir, text string) int {
		counted = append(counted, modelDir)
		return len(strings.Fields(text)) + 2 // [CLS] words [SEP]
	}
	deps.TokenLimit = 6
	dir := makeDataset(t, 2, map[int]string{0: "a blue square with a red cube", 1: "a cat"})
	m, _ := openWindow(t, deps, dir)
	tests := []struct {
		image int
		want  string
	}{
		{0, "1 · imported · unreviewed · 9/6 tokens, cut in training"},
		{1, "1 · imported · unreviewed · 4/6 tokens"},
	}
	for _, tt := range tests {
		onUIWait(func() { m.editor.show(tt.image) })
		if got := m.editor.rows[0].meta.Text; got != tt.want {
			t.Errorf("image %d: caption line %q, want %q", tt.image, got, tt.want)
		}
	}
	if len(counted) == 0 || counted[0] != m.ft.baseDir() {
		t.Errorf("counted with models %q, want the Fine-tune tab's base model %q", counted, m.ft.baseDir())
	}
}
