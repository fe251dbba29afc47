package app

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeExportDataset is writeDataset with real images and a broken one: export reads headers.
func writeExportDataset(t *testing.T) string {
	t.Helper()
	dir := writeDataset(t)
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"a.jpg", "b.png", "sub/c.webp", "d.jpg"} {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(rel)), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "broken.png"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestExportCommand exports the dataset of writeExportDataset in every format and checks, with
// captune stats, that the result opens with the counts the defaults promise: rejected captions
// and the broken image left out, no images beside a named file unless --copy-images.
func TestExportCommand(t *testing.T) {
	src := writeExportDataset(t)
	var want statsOutput
	var stdout, stderr bytes.Buffer
	if code := run([]string{"stats", "--data", src, "--json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("stats: exit %d: %s", code, stderr.String())
	}
	json.Unmarshal(stdout.Bytes(), &want)
	const leftOut = "left out: 1 rejected caption, 1 unreadable image (broken.png (not a JPEG, PNG, WebP, GIF, BMP or TIFF image))"
	tests := []struct {
		format, out string
		extra       []string
		images      int // images the export reopens with
		captions    int
		file        string // a file the export must have written
		stdout      string // a line stdout must have
	}{
		{"txt", "", nil, 4, 3, "b.txt", leftOut},
		{"caption", "", nil, 4, 3, "b.caption", leftOut},
		{"jsonl", "", nil, 4, 3, "train/metadata.jsonl", leftOut},
		{"coco", "captions.json", nil, 0, 0, "captions.json", "images not placed"},
		{"coco", "captions.json", []string{"--copy-images"}, 4, 3, "captions.json", leftOut},
		{"csv", "", nil, 4, 3, "metadata.csv", leftOut},
		{"jsonl", "", []string{"--approved-only"}, 1, 1, "train/metadata.jsonl", "exported 1 images and 1 captions"},
		{"csv", "", []string{"--split", "val", "--images", "copy"}, 1, 1, "metadata.csv", "left out: 1 rejected caption"},
		{"csv", "x.csv", []string{"--include-rejected", "--include-unreadable", "--copy-images"}, 5, 4, "x.csv", "exported 5 images and 4 captions"},
	}
	for _, tt := range tests {
		t.Run(tt.format+strings.Join(tt.extra, ""), func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, tt.out)
			args := append([]string{"export", "--data", src, "--format", tt.format, "--out", out}, tt.extra...)
			var stdout, stderr bytes.Buffer
			if code := run(args, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d; stderr: %s", code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.stdout) {
				t.Errorf("stdout %q lacks %q", stdout.String(), tt.stdout)
			}
			if _, err := os.Stat(filepath.Join(dir, tt.file)); err != nil {
				t.Errorf("export did not write %s: %v", tt.file, err)
			}
			stdout.Reset()
			if code := run([]string{"stats", "--data", dir, "--json"}, &stdout, &stderr); code != 0 {
				t.Fatalf("stats of the export: exit %d: %s", code, stderr.String())
			}
			var got statsOutput
			if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Stats.Images != tt.images || got.Stats.Captions != tt.captions {
				t.Errorf("export reopens with %d images and %d captions, want %d and %d", got.Stats.Images, got.Stats.Captions, tt.images, tt.captions)
			}
			if slices.Contains(tt.extra, "--include-rejected") {
				// Everything asked for: states and origins survive, the rejected caption marked.
				if !equalCounts(got.Stats.ByOrigin, want.Stats.ByOrigin) {
					t.Errorf("origins %v, want %v", got.Stats.ByOrigin, want.Stats.ByOrigin)
				}
				if got.Stats.ByState["approved"] != 1 || got.Stats.ByState["rejected"] != 1 {
					t.Errorf("states %v", got.Stats.ByState)
				}
			}
		})
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestExportCommandErrors(t *testing.T) {
	src := writeExportDataset(t)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no format", []string{"export", "--data", src, "--out", t.TempDir()}, 2, "--format and --out are required"},
		{"no data", []string{"export", "--format", "txt", "--out", t.TempDir()}, 2, "--data is required"},
		{"bad format", []string{"export", "--data", src, "--format", "xml", "--out", t.TempDir()}, 2, "unknown export format"},
		{"bad split", []string{"export", "--data", src, "--format", "txt", "--out", t.TempDir(), "--split", "holdout"}, 2, "--split"},
		{"bad images", []string{"export", "--data", src, "--format", "txt", "--out", t.TempDir(), "--images", "symlink"}, 2, "--images"},
		{"inside the dataset", []string{"export", "--data", src, "--format", "jsonl", "--out", filepath.Join(src, "out")}, 1, "inside the dataset"},
		{"own files", []string{"export", "--data", src, "--format", "txt", "--out", src}, 1, "would overwrite the dataset's own"},
		{"help", []string{"export", "--help"}, 0, "Hugging Face imagefolder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, &stdout, &stderr); code != tt.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.want)
			}
		})
	}
}
