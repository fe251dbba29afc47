package annotate

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tinyPNG is a 2×2 PNG, as a string for writeTree.
func tinyPNG(t testing.TB) string {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// exportT exports and fails the test on an error.
func exportT(t testing.TB, d *Dataset, opts ExportOptions) ExportSummary {
	t.Helper()
	sum, err := Export(d, opts)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// policyDataset has an approved caption, a rejected one beside it, an image whose only caption is
// rejected, and a file that is not an image.
func policyDataset(t *testing.T) *Dataset {
	t.Helper()
	dir := t.TempDir()
	img := tinyPNG(t)
	writeTree(t, dir, map[string]string{
		"a.png": img, "b.png": img, "broken.png": "not an image", "broken.txt": "a caption of nothing",
	})
	d, _ := openT(t, dir, OpenOptions{})
	for _, e := range []struct {
		i     int
		text  string
		state State
	}{{0, "a good caption", StateApproved}, {0, "a wrong caption", StateRejected}, {1, "only a wrong one", StateRejected}} {
		c, err := d.AddCaption(e.i, e.text, OriginHuman)
		must(t, err)
		must(t, d.SetState(e.i, c, e.state))
	}
	must(t, d.Save())
	return d
}

// What an export leaves out by default (rejected captions, unreadable images, images beside a
// named file), what the options bring back, and what the summary says.
func TestExportPolicy(t *testing.T) {
	d := policyDataset(t)
	tests := []struct {
		name         string
		opts         ExportOptions // Out is relative to a new folder
		file         string        // the caption file to read
		want         []string      // lines it must have
		notWant      []string      // text it must not have
		placed       []string      // images beside the output
		notPlaced    []string
		leftOut      string // ExportSummary.LeftOut
		images, caps int
	}{
		{"csv file: defaults", ExportOptions{Format: ExportCSV, Out: "x.csv"}, "x.csv",
			[]string{"a.png,a good caption,,human,approved", "b.png,,,,"}, []string{"wrong", "broken"},
			nil, []string{"a.png", "b.png"}, "left out: 2 rejected captions, 1 unreadable image (broken.png (not a JPEG, PNG, WebP, GIF, BMP or TIFF image))", 2, 1},
		{"csv file: rejected marked", ExportOptions{Format: ExportCSV, Out: "x.csv", IncludeRejected: true}, "x.csv",
			[]string{"a.png,a wrong caption,,human,rejected", "b.png,only a wrong one,,human,rejected"}, []string{"broken"},
			nil, nil, "left out: 1 unreadable image (broken.png (not a JPEG, PNG, WebP, GIF, BMP or TIFF image))", 2, 3},
		{"csv file: unreadable on request", ExportOptions{Format: ExportCSV, Out: "x.csv", IncludeUnreadable: true}, "x.csv",
			[]string{"broken.png,a caption of nothing,,imported,unreviewed"}, nil,
			nil, nil, "left out: 2 rejected captions", 3, 2},
		{"coco file: images on request", ExportOptions{Format: ExportCOCO, Out: "c.json", Images: ImagesCopy}, "c.json",
			[]string{`"caption":"a good caption"`}, []string{"wrong", "broken"},
			[]string{"a.png", "b.png"}, []string{"broken.png"}, "left out: 2 rejected captions, 1 unreadable image (broken.png (not a JPEG, PNG, WebP, GIF, BMP or TIFF image))", 2, 1},
		{"txt folder: images linked, broken one not", ExportOptions{Format: ExportTxt, Out: "dir"}, "dir/a.txt",
			[]string{"a good caption"}, []string{"wrong"},
			[]string{"dir/a.png", "dir/b.png"}, []string{"dir/broken.png", "dir/b.txt", "dir/broken.txt"}, "left out: 2 rejected captions, 1 unreadable image (broken.png (not a JPEG, PNG, WebP, GIF, BMP or TIFF image))", 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			opts := tt.opts
			opts.Out = filepath.Join(out, opts.Out)
			sum := exportT(t, d, opts)
			data, err := os.ReadFile(filepath.Join(out, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			text := strings.ReplaceAll(string(data), " ", "")
			for _, w := range tt.want {
				if !strings.Contains(text, strings.ReplaceAll(w, " ", "")) {
					t.Errorf("%s lacks %q:\n%s", tt.file, w, data)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(string(data), w) {
					t.Errorf("%s has %q:\n%s", tt.file, w, data)
				}
			}
			for _, p := range tt.placed {
				if _, err := os.Stat(filepath.Join(out, p)); err != nil {
					t.Errorf("%s not placed: %v", p, err)
				}
			}
			for _, p := range tt.notPlaced {
				if _, err := os.Stat(filepath.Join(out, p)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s is in the output (%v), want it left out", p, err)
				}
			}
			if got := sum.LeftOut(); got != tt.leftOut {
				t.Errorf("LeftOut() = %q, want %q", got, tt.leftOut)
			}
			if sum.Images != tt.images || sum.Captions != tt.caps {
				t.Errorf("summary counts %d images and %d captions, want %d and %d", sum.Images, sum.Captions, tt.images, tt.caps)
			}
		})
	}
}

// An image a decoder refused behind a valid header is left out once marked, until the file changes.
func TestExportLeavesOutMarkedUnreadable(t *testing.T) {
	d := policyDataset(t)
	d.MarkUnreadable(0, "truncated JPEG data")
	sum := exportT(t, d, ExportOptions{Format: ExportCSV, Out: filepath.Join(t.TempDir(), "x.csv")})
	if want := "a.png (truncated JPEG data)"; len(sum.Unreadable) != 2 || sum.Unreadable[0] != want {
		t.Errorf("unreadable %q, want %q first", sum.Unreadable, want)
	}
	img := tinyPNG(t) + "\n" // the user replaced the file
	if err := os.WriteFile(d.AbsPath(d.Item(0)), []byte(img), 0o644); err != nil {
		t.Fatal(err)
	}
	sum = exportT(t, d, ExportOptions{Format: ExportCSV, Out: filepath.Join(t.TempDir(), "x.csv")})
	if len(sum.Unreadable) != 1 {
		t.Errorf("after the file changed, unreadable %q, want only broken.png", sum.Unreadable)
	}
}
