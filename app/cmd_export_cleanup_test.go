package app

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/captune/captune/internal/atomicfile"
	"github.com/captune/captune/internal/atomicfile/atomicfiletest"
)

// captune export after a killed one: the temporary files it left in the dataset and in the
// destination are removed, and the command says how many, for each folder.
func TestExportCommandRemovesLeftovers(t *testing.T) {
	src := writeExportDataset(t)
	pid := strconv.Itoa(atomicfiletest.DeadPID(t))
	out := t.TempDir()
	for _, p := range []string{
		filepath.Join(src, ".b.txt"+atomicfile.Marker+pid+"-0a1b"),
		filepath.Join(src, "sub", ".c.txt"+atomicfile.Marker+pid+"-2c3d"),
		filepath.Join(out, ".a.txt"+atomicfile.Marker+pid+"-4e5f"),
	} {
		if err := os.WriteFile(p, []byte("half a caption"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"export", "--data", src, "--format", "txt", "--out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("export: exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{src + ": removed 2 leftover temporary files", out + ": removed 1 leftover temporary file"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	for _, dir := range []string{src, out} {
		filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
			if err == nil && atomicfile.IsTemp(de.Name()) {
				t.Errorf("temporary file left: %s", p)
			}
			return nil
		})
	}
}
