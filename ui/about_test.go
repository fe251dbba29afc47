package ui

import (
	"reflect"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// clickMenu runs the main menu item labelled label in the menu titled menu, as a click does.
func clickMenu(t *testing.T, m *MainWindow, menu, label string) {
	t.Helper()
	for _, mu := range m.Window.MainMenu().Items {
		if mu.Label != menu {
			continue
		}
		for _, it := range mu.Items {
			if it.Label == label && it.Action != nil {
				it.Action()
				return
			}
		}
	}
	t.Fatalf("no menu item %s › %s", menu, label)
}

// visibleTexts returns the text of every visible label under o, in drawing order.
func visibleTexts(o fyne.CanvasObject) []string {
	if o == nil || !o.Visible() {
		return nil
	}
	var out []string
	switch x := o.(type) {
	case *widget.Label:
		return []string{x.Text}
	case *canvas.Text:
		return []string{x.Text}
	case *fyne.Container:
		for _, c := range x.Objects {
			out = append(out, visibleTexts(c)...)
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(x).Objects() {
			out = append(out, visibleTexts(c)...)
		}
	}
	return out
}

func findTabs(o fyne.CanvasObject) *container.AppTabs {
	switch x := o.(type) {
	case *container.AppTabs:
		return x
	case *fyne.Container:
		for _, c := range x.Objects {
			if t := findTabs(c); t != nil {
				return t
			}
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(x).Objects() {
			if t := findTabs(c); t != nil {
				return t
			}
		}
	}
	return nil
}

// TestAboutShowsVersionLicenseAndNotices opens Help › About as the user does and reads what the
// dialog shows: the version captune version prints, the license, and the notices in their tab.
func TestAboutShowsVersionLicenseAndNotices(t *testing.T) {
	deps := testDeps(nil)
	deps.Version = "0.1.0"
	deps.License = "GPL-3.0-or-later"
	deps.LicenseText = "Captune\nSPDX-License-Identifier: GPL-3.0-or-later\n\n    GNU GENERAL PUBLIC LICENSE\n"
	deps.Notices = "# Third-party notices\n\n| `fyne.io/fyne/v2` | v2.7.1 | BSD-3-Clause |\n"
	m, _ := openWindow(t, deps, "")

	clickMenu(t, m, "Help", "About Captune")
	top := m.Window.Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("Help › About opened no dialog")
	}
	capture(t, m, "about")
	shown := strings.Join(visibleTexts(top), "\n")
	for _, want := range []string{"About Captune", "Captune 0.1.0", "License: GPL-3.0-or-later"} {
		if !strings.Contains(shown, want) {
			t.Errorf("the About dialog does not show %q; it shows:\n%s", want, shown)
		}
	}

	tabs := findTabs(top)
	if tabs == nil || len(tabs.Items) != 3 {
		t.Fatalf("want the tabs About, License, Third-party notices; got %v", tabs)
	}
	for i, want := range map[int]string{1: "GNU GENERAL PUBLIC LICENSE", 2: "| `fyne.io/fyne/v2` | v2.7.1 | BSD-3-Clause |"} {
		tabs.SelectIndex(i)
		relayout(top)
		capture(t, m, "about-"+strings.ToLower(strings.Fields(tabs.Items[i].Text)[0]))
		if shown := strings.Join(visibleTexts(tabs.Items[i].Content), "\n"); !strings.Contains(shown, want) {
			t.Errorf("tab %q does not show %q; it shows:\n%s", tabs.Items[i].Text, want, shown)
		}
	}
}

func TestWrapLines(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		width      int
		want       []string
	}{
		{"short lines stay", "a b\n\nc\n", 10, []string{"a b", "", "c"}},
		{"break at the last space", "aaa bbb ccc", 8, []string{"aaa bbb", "ccc"}},
		{"no space: break at the width", "abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"tabs expand", "\tx", 10, []string{"    x"}},
		{"runes, not bytes", "ééé ééé", 4, []string{"ééé", "ééé"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := wrapLines(tc.text, tc.width); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("wrapLines(%q, %d) = %q, want %q", tc.text, tc.width, got, tc.want)
			}
		})
	}
}
