package annotate

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/captune/captune/internal/atomicfile"
	"github.com/captune/captune/internal/atomicfile/atomicfiletest"
)

// Opening a dataset removes the temporary files of killed Captunes (in the folder, in .captune,
// a backup folder of a killed export) and says how many; the file of a Captune that is writing
// now and files that are not Captune's stay.
func TestOpenRemovesStaleTemps(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs unix process ids")
	}
	dead, live := strconv.Itoa(atomicfiletest.DeadPID(t)), strconv.Itoa(os.Getppid())
	dir := t.TempDir()
	stale := []string{
		".a.txt" + atomicfile.Marker + dead + "-0a1b",
		ProjectDir + "/.project.json" + atomicfile.Marker + dead + "-2c3d",
		".export-backup" + atomicfile.Marker + dead + "-4e5f/0",
	}
	kept := []string{"a.png", "a.txt", ".a.txt" + atomicfile.Marker + live + "-6a7b", ".a.txt.tmp-123", "notes" + atomicfile.Marker + dead + "-1"}
	files := map[string]string{}
	for _, f := range append(append([]string(nil), stale...), kept...) {
		files[f] = "x"
	}
	files["a.png"] = tinyPNG(t)
	writeTree(t, dir, files)

	_, rep := openT(t, dir, OpenOptions{})
	if rep.RemovedTemps != 3 {
		t.Errorf("Report.RemovedTemps = %d, want 3", rep.RemovedTemps)
	}
	if want := "; removed 3 leftover temporary files"; !strings.HasSuffix(rep.Summary(), want) {
		t.Errorf("Summary() = %q, want it to end with %q", rep.Summary(), want)
	}
	for _, f := range stale {
		if _, err := os.Lstat(filepath.Join(dir, filepath.Dir(f))); strings.Contains(filepath.Dir(f), atomicfile.Marker) && err == nil {
			t.Errorf("stale backup folder %s kept", filepath.Dir(f))
		}
		if _, err := os.Lstat(filepath.Join(dir, f)); err == nil {
			t.Errorf("stale %s kept", f)
		}
	}
	for _, f := range kept {
		if _, err := os.Lstat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s removed: %v", f, err)
		}
	}
	var warned []string
	for _, w := range rep.Warnings {
		if w.Kind == WarnLeftover {
			warned = append(warned, w.String())
		}
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "writing here now (process "+live+")") {
		t.Errorf("leftover warnings %q, want one about the live writer's file", warned)
	}
}

// listTree describes every file and folder under dir with its content, for before/after checks.
func listTree(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if de.IsDir() {
			lines = append(lines, rel+"/")
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		lines = append(lines, fmt.Sprintf("%s %x", rel, data))
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// A failed export leaves the destination as it was: what it wrote is removed, the user's files it
// had replaced are restored, folders it made are gone, and the error names the destination.
func TestFailedExportLeavesDestinationAsItWas(t *testing.T) {
	tests := []struct {
		name    string
		before  map[string]string // the destination's files before (nil: it does not exist)
		out     string            // relative to the destination's parent
		setup   func(t *testing.T, d *Dataset)
		opts    ExportOptions
		wantErr string
	}{
		{"a caption file's name is taken by a folder",
			map[string]string{"a.txt": "the user's own caption\n", "b.txt/keep": "x", "notes.md": "mine"}, "dest",
			nil, ExportOptions{Format: ExportTxt}, "b.txt"},
		{"an image vanished mid-export, into a new folder", nil, "dest/new/deeper",
			func(t *testing.T, d *Dataset) { must(t, os.Remove(d.AbsPath(d.Item(1)))) },
			ExportOptions{Format: ExportJSONL, IncludeUnreadable: true}, "b.png"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := t.TempDir()
			img := tinyPNG(t)
			writeTree(t, src, map[string]string{"a.png": img, "b.png": img, "a.txt": "a cat", "b.txt": "a dog"})
			d, _ := openT(t, src, OpenOptions{})
			if tt.setup != nil {
				tt.setup(t, d)
			}
			parent := t.TempDir()
			writeTree(t, filepath.Join(parent, "dest"), tt.before)
			before := listTree(t, parent)
			opts := tt.opts
			opts.Out = filepath.Join(parent, tt.out)
			_, err := Export(d, opts)
			if err == nil {
				t.Fatal("export succeeded, want an error")
			}
			for _, want := range []string{tt.wantErr, "nothing of the export is left in " + opts.Out} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if after := listTree(t, parent); after != before {
				t.Errorf("destination changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// noisePNG is a PNG of w×w random grey pixels: it does not compress, so its size is about w².
func noisePNG(t *testing.T, w int, seed uint64) string {
	t.Helper()
	m := image.NewGray(image.Rect(0, 0, w, w))
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range m.Pix {
		m.Pix[i] = uint8(r.IntN(256))
	}
	var b bytes.Buffer
	must(t, png.Encode(&b, m))
	return b.String()
}

// An export (copying the images) onto a small file system that fills up stops with the disk's
// error, names the destination, and leaves it as it was: the user's files there untouched, none
// of the export's files, no temporary files, the space free again.
func TestExportOntoFullDisk(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("mounts a tmpfs, which needs Linux")
	}
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("cannot mount a 256 kB tmpfs to fill (needs root or CAP_SYS_ADMIN): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, 0) })
	src := t.TempDir()
	files := map[string]string{}
	for i := 0; i < 12; i++ { // 12 × 40 kB of images for 256 kB
		files[fmt.Sprintf("img%02d.png", i)] = noisePNG(t, 200, uint64(i))
		files[fmt.Sprintf("img%02d.txt", i)] = fmt.Sprintf("caption %d", i)
	}
	writeTree(t, src, files)
	d, _ := openT(t, src, OpenOptions{})
	dest := filepath.Join(mnt, "export")
	writeTree(t, dest, map[string]string{"img03.txt": "the user's caption\n", "readme.md": "mine"})
	before := listTree(t, mnt)
	var free syscall.Statfs_t
	must(t, syscall.Statfs(mnt, &free))

	_, err := Export(d, ExportOptions{Format: ExportTxt, Out: dest, Images: ImagesCopy})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("export onto a full disk: %v, want no space left on device", err)
	}
	if want := "nothing of the export is left in " + dest; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if after := listTree(t, mnt); after != before {
		t.Errorf("destination changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	var after syscall.Statfs_t
	must(t, syscall.Statfs(mnt, &after))
	if after.Bfree != free.Bfree {
		t.Errorf("%d blocks free after the failed export, %d before", after.Bfree, free.Bfree)
	}
	t.Logf("export onto a 256 kB tmpfs: %v", err)
}

// A Captune killed while this one has the dataset open leaves a temporary file in a folder the
// next save writes to: the save removes it and RemovedTemps counts it with Open's.
func TestSaveRemovesStaleTemps(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs unix process ids")
	}
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.png": tinyPNG(t), "a.txt": "a cat"})
	d, rep := openT(t, dir, OpenOptions{})
	must(t, d.Lock())
	defer d.Close()
	dead := strconv.Itoa(atomicfiletest.DeadPID(t))
	stale := []string{".a.txt" + atomicfile.Marker + dead + "-0a1b", ProjectDir + "/.project.json" + atomicfile.Marker + dead + "-2c3d"}
	for _, f := range stale {
		writeTree(t, dir, map[string]string{f: "half"})
	}
	must(t, d.SetCaption(0, 0, "a black cat", OriginHuman))
	must(t, d.Save())
	for _, f := range stale {
		if _, err := os.Lstat(filepath.Join(dir, f)); err == nil {
			t.Errorf("save kept %s", f)
		}
	}
	if got := d.RemovedTemps(); got != rep.RemovedTemps+2 {
		t.Errorf("RemovedTemps() = %d, want %d", got, rep.RemovedTemps+2)
	}
}
