package app

import (
	"bytes"
	"log"
	"strings"
	"testing"
)

func TestFyneLogFilterDropsOnlyHarmlessErrors(t *testing.T) {
	tests := []struct {
		name string
		log  func(l *log.Logger)
		want []string // lines kept, each a part of one
	}{
		{"prefs EOF dropped", func(l *log.Logger) {
			l.Println("Fyne error: ", "Preferences load error:")
			l.Println("  Cause:", "EOF")
			l.Printf("  At: %s:%d", "preferences.go", 103)
			l.Println("after")
		}, []string{"after"}},
		{"prefs other cause kept", func(l *log.Logger) {
			l.Println("Fyne error: ", "Preferences load error:")
			l.Println("  Cause:", "invalid character 'x'")
			l.Printf("  At: %s:%d", "preferences.go", 103)
		}, []string{"Preferences load error", "invalid character", "At: preferences.go"}},
		{"other errors kept", func(l *log.Logger) {
			l.Println("Fyne error: ", "Failed to load image")
			l.Println("  Cause:", "EOF")
			l.Printf("  At: %s:%d", "image.go", 1)
		}, []string{"Failed to load image", "Cause: EOF", "At: image.go"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			tc.log(log.New(&fyneLogFilter{out: &out}, "", 0))
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("kept %q, want %d lines", lines, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("line %d %q, want %q", i, lines[i], w)
				}
			}
		})
	}
}
