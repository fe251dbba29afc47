package ui

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/captune/captune/annotate"
	"github.com/captune/captune/internal/atomicfile"
	"github.com/captune/captune/internal/atomicfile/atomicfiletest"
)

// The Export tab as a user walks it: CSV to a named file says what it leaves out (the rejected
// caption, the broken image) and writes neither, nor any image beside the file; ticking the boxes
// brings them back, rejected captions marked.
func TestExportTabLeavesOut(t *testing.T) {
	dir := makeDataset(t, 3, map[int]string{0: "a red cube", 1: "a blue ball", 2: "a broken file"})
	if err := os.WriteFile(filepath.Join(dir, "img02.png"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, ds := openWindow(t, testDeps(&fakeCaptioner{name: "fake"}), dir)
	c, err := ds.AddCaption(0, "a wrong caption", annotate.OriginHuman)
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.SetState(0, c, annotate.StateRejected); err != nil {
		t.Fatal(err)
	}
	e := m.exp
	out := t.TempDir()
	onUIWait(func() {
		m.Tabs.SelectIndex(3)
		for i, f := range annotate.ExportFormats {
			if f == annotate.ExportCSV {
				e.format.SetSelectedIndex(i)
			}
		}
		e.out.SetText(filepath.Join(out, "captions.csv"))
	})
	if e.images.Visible() || !e.copyImgs.Visible() || e.copyImgs.Checked {
		t.Errorf("a .csv destination shows the images menu %v and an unticked %q %v; want only the check box, unticked",
			e.images.Visible(), e.copyImgs.Text, e.copyImgs.Visible())
	}
	summary := func() string {
		var s string
		onUIWait(func() { s = e.summary.Text })
		return s
	}
	wantSummary := "2 images, 2 captions · images not copied · left out: 1 rejected caption, 1 unreadable image (img02.png ("
	waitFor(t, "the summary", func() bool { return strings.HasPrefix(summary(), wantSummary) })

	export := func() string {
		t.Helper()
		tap(e.button)
		waitFor(t, "the export", func() bool {
			var busy bool
			onUIWait(func() { busy = m.exporting })
			return !busy
		})
		if m.lastErr != nil {
			t.Fatalf("export: %v", m.lastErr)
		}
		data, err := os.ReadFile(filepath.Join(out, "captions.csv"))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	csv := export()
	for _, bad := range []string{"a wrong caption", "img02.png"} {
		if strings.Contains(csv, bad) {
			t.Errorf("captions.csv has %q by default:\n%s", bad, csv)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "img00.png")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an image was placed beside captions.csv unasked (%v)", err)
	}

	tap(e.copyImgs)
	tap(e.rejected)
	tap(e.broken)
	waitFor(t, "the summary", func() bool { return summary() == "3 images, 4 captions · images copied" })
	csv = export()
	for _, want := range []string{"img00.png,a wrong caption,,human,rejected", "img02.png,a broken file"} {
		if !strings.Contains(csv, want) {
			t.Errorf("captions.csv lacks %q when asked for:\n%s", want, csv)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "img00.png")); err != nil {
		t.Errorf("Copy images beside the file did not copy img00.png: %v", err)
	}
}

// Exporting into a folder where a killed Captune left a temporary file removes it and says so in
// the end message; a temporary file of a Captune still running there is left alone.
func TestExportTabRemovesLeftovers(t *testing.T) {
	dir := makeDataset(t, 2, map[int]string{0: "a red cube", 1: "a blue ball"})
	m, _ := openWindow(t, testDeps(&fakeCaptioner{name: "fake"}), dir)
	out := t.TempDir()
	stale := filepath.Join(out, ".img00.txt"+atomicfile.Marker+strconv.Itoa(atomicfiletest.DeadPID(t))+"-0a1b")
	live := filepath.Join(out, ".img01.txt"+atomicfile.Marker+strconv.Itoa(os.Getppid())+"-2c3d")
	for _, p := range []string{stale, live} {
		if err := os.WriteFile(p, []byte("half a caption"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	onUIWait(func() { m.Tabs.SelectIndex(3) })
	e := m.exp
	for i, f := range annotate.ExportFormats {
		if f == annotate.ExportTxt {
			e.format.SetSelectedIndex(i)
		}
	}
	e.out.SetText(out)
	tap(e.button)
	var msg string
	waitFor(t, "the export", func() bool {
		onUIWait(func() { msg = m.job.label.Text })
		return strings.HasPrefix(msg, "Exported")
	})
	if !strings.Contains(msg, "removed 1 leftover temporary file") {
		t.Errorf("end message %q does not say it removed the leftover", msg)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the killed Captune's temporary file is still there (%v)", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("the running Captune's temporary file was removed: %v", err)
	}
}
