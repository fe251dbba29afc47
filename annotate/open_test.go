package annotate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenGolden opens the fixture folders in testdata/datasets and compares the items and the
// report with testdata/golden/open_*.json.
func TestOpenGolden(t *testing.T) {
	tests := []struct {
		name string
		dir  string
		opts OpenOptions
	}{
		{"sidecar_recursive", "sidecar", OpenOptions{Recursive: true}},
		{"sidecar_flat", "sidecar", OpenOptions{}},
		{"sidecar_caption_ext", "sidecar", OpenOptions{SidecarExt: "caption"}},
		{"hf_jsonl_flat", "hf_jsonl", OpenOptions{}},
		{"hf_jsonl_recursive", "hf_jsonl", OpenOptions{Recursive: true}},
		{"coco", "coco", OpenOptions{Recursive: true}},
		{"csv", "csv", OpenOptions{}},
		{"mixed_auto", "mixed", OpenOptions{}},
		{"mixed_sidecar", "mixed", OpenOptions{Source: FormatSidecar}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, rep := openT(t, filepath.Join("testdata", "datasets", tt.dir), tt.opts)
			checkGolden(t, "open_"+tt.name+".json", struct {
				Report Report
				Items  []itemView
			}{rep, view(d.Items())})
			// The counts agree with the items.
			st := d.Stats()
			if st.Images != rep.Images || st.Captioned != rep.Captioned || st.Captions != rep.Captions {
				t.Errorf("stats %+v disagree with report %+v", st, rep)
			}
		})
	}
}

func TestOpenImageExtensions(t *testing.T) {
	dir := t.TempDir()
	names := []string{"a.jpg", "b.JPEG", "c.png", "d.webp", "e.gif", "f.Bmp", "g.tiff", "h.TIF", "i.svg", "j.heic", "k.txt", "l.jpg.bak"}
	files := map[string]string{}
	for _, n := range names {
		files[n] = ""
	}
	writeTree(t, dir, files)
	d, _ := openT(t, dir, OpenOptions{})
	var got []string
	for _, it := range d.Items() {
		got = append(got, it.Path)
	}
	want := []string{"a.jpg", "b.JPEG", "c.png", "d.webp", "e.gif", "f.Bmp", "g.tiff", "h.TIF"}
	if d := diff(want, got); d != "" {
		t.Errorf("images %s", d)
	}
}

// TestOpenRefusesPathsOutsideRoot checks that symlinks leaving the root are neither read nor
// listed, and that such entries are reported by name.
func TestOpenRefusesPathsOutsideRoot(t *testing.T) {
	outside := t.TempDir()
	writeTree(t, outside, map[string]string{"secret.jpg": "", "secret.txt": "SECRET CAPTION", "dir/x.jpg": ""})
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"ok.jpg": "", "ok.txt": "fine", "inner/real.jpg": ""})
	links := map[string]string{
		"escape.jpg":      filepath.Join(outside, "secret.jpg"),
		"ok2.txt":         filepath.Join(outside, "secret.txt"),
		"ok2.jpg":         filepath.Join(dir, "inner", "real.jpg"), // inside: allowed
		"escapedir":       filepath.Join(outside, "dir"),
		"loop":            dir,
		"metadata.jsonl":  filepath.Join(outside, "secret.txt"),
		"passwd.txt":      "/etc/passwd",
		"inner/up.jpg":    "../ok.jpg",
		"dangling.jpg":    filepath.Join(outside, "nope.jpg"),
		"inner/other.txt": filepath.Join(outside, "secret.txt"),
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Skipf("symlinks not supported here: %v", err)
		}
	}
	d, rep := openT(t, dir, OpenOptions{Recursive: true})
	var paths []string
	for _, it := range d.Items() {
		paths = append(paths, it.Path)
		for _, c := range it.Captions {
			if strings.Contains(c.Text, "SECRET") || strings.Contains(c.Text, "root:") {
				t.Errorf("%s got a caption from outside the root: %q", it.Path, c.Text)
			}
		}
	}
	if d := diff([]string{"inner/real.jpg", "inner/up.jpg", "ok.jpg", "ok2.jpg"}, paths); d != "" {
		t.Errorf("items %s", d)
	}
	unsafe := map[string]bool{}
	for _, w := range rep.Warnings {
		if w.Kind == WarnUnsafePath {
			unsafe[w.File] = true
		}
	}
	for _, name := range []string{"escape.jpg", "ok2.txt", "metadata.jsonl", "passwd.txt", "dangling.jpg", "inner/other.txt"} {
		if !unsafe[name] {
			t.Errorf("no unsafe-path warning for %s; warnings: %v", name, rep.Warnings)
		}
	}
	if rep.Source != FormatSidecar {
		t.Errorf("source = %q: the refused metadata.jsonl symlink must not count", rep.Source)
	}
}

// TestSaveNeverWritesOutsideRoot swaps a folder for a symlink to another place after Open and
// checks that Save refuses to write through it.
func TestSaveNeverWritesOutsideRoot(t *testing.T) {
	outside := t.TempDir()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"sub/a.jpg": "", "sub/a.txt": "old"})
	d, _ := openT(t, dir, OpenOptions{Recursive: true})
	if err := d.SetCaption(0, 0, "new", OriginHuman); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "sub"), filepath.Join(outside, "sub")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "sub"), filepath.Join(dir, "sub")); err != nil {
		t.Skipf("symlinks not supported here: %v", err)
	}
	err := d.Save()
	if err == nil || !strings.Contains(err.Error(), "leaves the dataset folder") {
		t.Fatalf("Save through a symlinked folder: err = %v", err)
	}
	if got := readFileT(t, filepath.Join(outside, "sub", "a.txt")); got != "old" {
		t.Errorf("file outside the root was written: %q", got)
	}
}

func TestOpenLongCaptionAndManyLines(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("word ", 1<<18) // 1.25 MB
	writeTree(t, dir, map[string]string{"a.jpg": "", "a.txt": long})
	d, rep := openT(t, dir, OpenOptions{})
	if got := d.Item(0).Captions[0].Text; got != strings.TrimSpace(long) {
		t.Errorf("caption of %d bytes read as %d bytes", len(long), len(got))
	}
	found := false
	for _, w := range rep.Warnings {
		found = found || w.Kind == WarnLongCaption && w.File == "a.txt"
	}
	if !found {
		t.Errorf("no long-caption warning: %v", rep.Warnings)
	}
}

func TestOpenErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f.jpg")
	writeTree(t, filepath.Dir(file), map[string]string{"f.jpg": ""})
	for _, root := range []string{filepath.Join(t.TempDir(), "missing"), file} {
		if _, _, err := Open(root, OpenOptions{}); err == nil {
			t.Errorf("Open(%s) succeeded", root)
		}
	}
	if _, _, err := Open(t.TempDir(), OpenOptions{Source: "yaml"}); err == nil {
		t.Error("Open with an unknown format succeeded")
	}
}

func TestOpenEmptyFolderWritesSidecars(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.png": ""})
	d, rep := openT(t, dir, OpenOptions{})
	if rep.Source != FormatSidecar || rep.SidecarExt != ".txt" {
		t.Fatalf("source %q %q, want sidecar .txt", rep.Source, rep.SidecarExt)
	}
	if _, err := d.AddCaption(0, "first caption", OriginHuman); err != nil {
		t.Fatal(err)
	}
	if err := d.Save(); err != nil {
		t.Fatal(err)
	}
	if got := readFileT(t, filepath.Join(dir, "a.txt")); got != "first caption" {
		t.Errorf("a.txt = %q", got)
	}
}

// An open without Recursive counts the images it leaves out in sub-folders (not in hidden ones),
// so that the window can say they exist; a recursive open reads them and counts none.
func TestOpenCountsImagesInSubfolders(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"a.jpg": "", "sub/b.png": "", "sub/deeper/c.webp": "", "sub/notes.txt": "",
		".git/d.jpg": "", "other/.hidden/e.jpg": "", "other/f.JPG": "",
	})
	tests := []struct {
		name         string
		opts         OpenOptions
		images, left int
	}{
		{"top folder only", OpenOptions{}, 1, 3},
		{"recursive", OpenOptions{Recursive: true}, 4, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, rep := openT(t, dir, tt.opts)
			if rep.Images != tt.images || rep.InSubfolders != tt.left {
				t.Errorf("%d images read, %d left out in sub-folders; want %d and %d", rep.Images, rep.InSubfolders, tt.images, tt.left)
			}
		})
	}
}
