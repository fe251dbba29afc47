package ui

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"fyne.io/fyne/v2"

	"github.com/captune/captune/annotate"
)

// waitCaptioned waits until the captioning job has finished and the window knows it. The job is
// taken on the UI goroutine where it started (startCaptioningJob, tapDialogJob): a fast job may
// have finished and cleared m.captioning before the test goroutine could read it.
func waitCaptioned(t *testing.T, m *MainWindow, job *captionJob) {
	t.Helper()
	if job == nil {
		t.Fatal("no captioning job started")
	}
	<-job.done
	waitFor(t, "the job to finish", func() bool {
		var done bool
		onUIWait(func() { done = m.captioning == nil })
		return done
	})
}

// Caption All Images… asks first, says what it skips, leaves images a person approved or wrote
// alone (captions and sidecars), and one Ctrl+Z takes the whole job back.
func TestCaptionAllAsksAndSkipsReviewed(t *testing.T) {
	tests := []struct {
		name        string
		includeThem bool
		wantText    string // in the question
		want        [][]string
	}{
		{"default skips reviewed", false, "The model will caption 3 of 5 images.\nSkipped: 2 with approved or hand-written captions (img00.png, img01.png).",
			[][]string{{"approved by me"}, {"typed by me"}, {"a picture of img02"}, {"a picture of img03"}, {"an old model caption", "a picture of img04"}}},
		{"check box includes them", true, "The model will caption 5 of 5 images.",
			[][]string{{"approved by me", "a picture of img00"}, {"typed by me", "a picture of img01"}, {"a picture of img02"}, {"a picture of img03"}, {"an old model caption", "a picture of img04"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := makeDataset(t, 5, map[int]string{0: "approved by me", 1: "typed by me"})
			m, ds := openWindow(t, testDeps(&fakeCaptioner{name: "fake"}), dir)
			must := func(err error) {
				if err != nil {
					t.Fatal(err)
				}
			}
			must(ds.SetState(0, 0, annotate.StateApproved))
			_, err := ds.AddCaption(4, "an old model caption", annotate.ModelOrigin("old"))
			must(err)
			must(ds.Save())
			before := ds.Items()
			sidecars := map[string][]byte{}
			for _, n := range []string{"img00.txt", "img01.txt"} {
				sidecars[n], _ = os.ReadFile(filepath.Join(dir, n))
			}

			if startCaptioningJob(m, scopeAll) != nil {
				t.Fatal("Caption All started without asking")
			}
			c := m.gen.confirm
			if c == nil {
				t.Fatal("no question before captioning all images")
			}
			if tt.includeThem {
				tap(c.include)
			}
			if !strings.Contains(c.text.Text, tt.wantText) {
				t.Errorf("question %q, want it to say %q", c.text.Text, tt.wantText)
			}
			waitCaptioned(t, m, tapDialogJob(t, m, "Caption"))

			for i, want := range tt.want {
				if got := captionTexts(ds.Item(i)); !reflect.DeepEqual(got, want) {
					t.Errorf("image %d captions %q, want %q", i, got, want)
				}
			}
			if !tt.includeThem {
				must(ds.Save())
				for n, want := range sidecars {
					if got, _ := os.ReadFile(filepath.Join(dir, n)); string(got) != string(want) {
						t.Errorf("%s changed from %q to %q", n, want, got)
					}
				}
			}
			press(t, m, &fyne.ShortcutUndo{})
			for i, it := range before {
				if got := ds.Item(i); !reflect.DeepEqual(got.Captions, it.Captions) {
					t.Errorf("after one Ctrl+Z image %d has %+v, want %+v", i, got.Captions, it.Captions)
				}
			}
		})
	}
}

// badCaptioner is a fakeCaptioner that cannot read the images named in bad.
type badCaptioner struct {
	fakeCaptioner
	bad map[string]bool
}

func (b *badCaptioner) Caption(ctx context.Context, paths []string, gen GenerationSettings, onProgress func(int)) ([]string, error) {
	out, err := b.fakeCaptioner.Caption(ctx, paths, gen, onProgress)
	if err != nil {
		return nil, err
	}
	var ie ImageError
	for k, p := range paths {
		if b.bad[filepath.Base(p)] {
			out[k] = ""
			ie.Paths = append(ie.Paths, p)
			ie.Errs = append(ie.Errs, errors.New("read image "+p+": unreadable image: not a JPEG, PNG, WebP, GIF, BMP or TIFF image"))
		}
	}
	if len(ie.Paths) > 0 {
		return out, &ie
	}
	return out, nil
}

// An image the model cannot read is not counted as captioned: the status line names it and why.
func TestCaptionReportsUnreadable(t *testing.T) {
	dir := makeDataset(t, 3, nil)
	bc := &badCaptioner{fakeCaptioner: fakeCaptioner{name: "fake"}, bad: map[string]bool{"img01.png": true}}
	m, ds := openWindow(t, testDeps(bc), dir)
	waitCaptioned(t, m, startCaptioningJob(m, scopeUncaptioned))
	want := "Captioned 2 of 3 images · 1 could not be read: img01.png (unreadable image: not a JPEG, PNG, WebP, GIF, BMP or TIFF image)"
	if got := m.job.label.Text; !strings.HasPrefix(got, want) {
		t.Errorf("status line %q, want it to start with %q", got, want)
	}
	if ds.Item(1).HasCaption() {
		t.Errorf("the unreadable image got captions %q", captionTexts(ds.Item(1)))
	}
	if m.lastErr == nil || !strings.Contains(m.lastErr.Error(), "img01.png") {
		t.Errorf("error dialog %v, want it to name img01.png", m.lastErr)
	}
	// Its header reads as a PNG, but the model could not read it: export leaves it out.
	sum, err := annotate.Export(ds, annotate.ExportOptions{Format: annotate.ExportCSV, Out: filepath.Join(t.TempDir(), "x.csv")})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Unreadable) != 1 || !strings.HasPrefix(sum.Unreadable[0], "img01.png (") {
		t.Errorf("export leaves out %q, want img01.png", sum.Unreadable)
	}
}
