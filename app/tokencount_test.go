package app

import (
	"path/filepath"
	"testing"
)

// The caption editor's token count is the training encoding's length, and no count without a
// tokenizer.
func TestTokenCounter(t *testing.T) {
	model := tinyModel(t)
	var c tokenCounter
	tests := []struct {
		dir, text string
		want      int
	}{
		{model, "", 2},
		{model, "  a red cube ", 7}, // the tiny test model's small vocabulary splits words
		{filepath.Join(t.TempDir(), "none"), "a red cube", 0},
	}
	for _, tt := range tests {
		if got := c.Count(tt.dir, tt.text); got != tt.want {
			t.Errorf("Count(%q, %q) = %d, want %d", filepath.Base(tt.dir), tt.text, got, tt.want)
		}
	}
}
