package ui

import (
	"testing"

	"fyne.io/fyne/v2/test"
)

func TestMainWindowHasTabsAndStatus(t *testing.T) {
	a := test.NewTempApp(t)
	m := NewMainWindow(a)
	defer m.Window.Close()
	var got []string
	for _, it := range m.Tabs.Items {
		got = append(got, it.Text)
	}
	want := []string{"Annotate", "Fine-tune", "Compare", "Export"}
	if len(got) != len(want) {
		t.Fatalf("tabs = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("tab %d = %q, want %q", i, got[i], want[i])
		}
	}
	if m.Status == nil || m.Status.Text == "" {
		t.Errorf("status bar is empty")
	}
	if m.Window.Content() == nil {
		t.Errorf("window has no content")
	}
}
