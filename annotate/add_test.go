package annotate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAddImagesThenOpenListsThem walks what the drop tray does: copy dropped files into a dataset,
// open it again, and find them listed, once each, readable by all.
func TestAddImagesThenOpenListsThem(t *testing.T) {
	root, drops := t.TempDir(), t.TempDir()
	writeTree(t, root, map[string]string{"a.jpg": "image a", "a.txt": "a cat"})
	writeTree(t, drops, map[string]string{"a.jpg": "another image a", "b.png": "image b", "notes.txt": "x"})
	if err := os.Chmod(filepath.Join(drops, "b.png"), 0o600); err != nil {
		t.Fatal(err)
	}
	d, _ := openT(t, root, OpenOptions{})
	defer d.Close()
	files := []string{filepath.Join(drops, "a.jpg"), filepath.Join(drops, "b.png"), filepath.Join(drops, "notes.txt")}
	got, err := d.AddImages(files)
	if err == nil || !strings.Contains(err.Error(), "notes.txt") {
		t.Errorf("error %v, want one naming notes.txt", err)
	}
	want := []AddedImage{{Source: files[0], Name: "a-2.jpg"}, {Source: files[1], Name: "b.png"}}
	if s := diff(want, got); s != "" {
		t.Errorf("added (-want +got):\n%s", s)
	}
	// Adding again copies nothing: the same bytes are there.
	again, err := d.AddImages(files[:2])
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range again {
		if !a.Already || a.Name != want[i].Name {
			t.Errorf("second add of %s: %+v, want already there as %s", a.Source, a, want[i].Name)
		}
	}
	if st, err := os.Stat(filepath.Join(root, "b.png")); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("b.png copied with %v (%v), want mode 0644", st.Mode(), err)
	}
	d2, _ := openT(t, root, OpenOptions{})
	defer d2.Close()
	for _, name := range []string{"a.jpg", "a-2.jpg", "b.png"} {
		if _, ok := d2.Index(name); !ok {
			t.Errorf("the dataset opened again does not list %s", name)
		}
	}
	if d2.Len() != 3 {
		t.Errorf("%d images, want 3", d2.Len())
	}
}

func TestWriteSidecarFollowsOpensRule(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		img   string
		want  string
	}{
		{"alone", []string{"a.png"}, "a.png", "a.txt"},
		{"after a.jpg", []string{"a.jpg", "a.png"}, "a.png", "a.png.txt"},
		{"before a.png", []string{"a.jpg", "a.png"}, "a.jpg", "a.txt"},
		{"other stem", []string{"a.jpg", "b.png"}, "b.png", "b.txt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{}
			for _, f := range tc.files {
				files[f] = ""
			}
			writeTree(t, dir, files)
			path, err := WriteSidecar(filepath.Join(dir, tc.img), []string{"a red\nsneaker", "a shoe"})
			if err != nil {
				t.Fatal(err)
			}
			if path != filepath.Join(dir, tc.want) {
				t.Errorf("wrote %s, want %s", filepath.Base(path), tc.want)
			}
			if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
				t.Errorf("caption file mode %v (%v), want 0644", st.Mode(), err)
			}
			// Opening the folder reads the captions back for the same image.
			d, _ := openT(t, dir, OpenOptions{})
			defer d.Close()
			i, _ := d.Index(tc.img)
			var caps []string
			for _, c := range d.Item(i).Captions {
				caps = append(caps, c.Text)
			}
			if s := diff([]string{"a red sneaker", "a shoe"}, caps); s != "" {
				t.Errorf("captions read back (-want +got):\n%s", s)
			}
		})
	}
}
