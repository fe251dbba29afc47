package annotate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/captune/captune/internal/atomicfile"
)

// AddedImage says where AddImages put one file.
type AddedImage struct {
	Source  string // the file as given
	Name    string // its name in the dataset's folder
	Already bool   // the same bytes were there already under Name: nothing was copied
}

// AddImages copies image files into the dataset's folder, each under its own name or, when that
// is taken, NAME-2.EXT, NAME-3.EXT and so on. A file whose bytes are there already under one of
// those names is not copied again (Already). Copies are written atomically and readable by all
// (0644), whatever the source's mode. The dataset lists its images when opened: open the folder
// again to caption the new ones. It returns what it added in the order given; the error names the
// files it could not add.
func (d *Dataset) AddImages(files []string) ([]AddedImage, error) {
	var out []AddedImage
	var errs []error
	for _, src := range files {
		if !IsImageName(src) {
			errs = append(errs, fmt.Errorf("add %s: not an image name Captune lists (%s)", src, imageExtList()))
			continue
		}
		if name, ok := findCopy(d.root, src); ok {
			out = append(out, AddedImage{Source: src, Name: name, Already: true})
			continue
		}
		name, err := copyInto(d.root, src)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, AddedImage{Source: src, Name: name})
	}
	return out, errors.Join(errs...)
}

// imageExtList lists the image extensions, for messages.
func imageExtList() string {
	var exts []string
	for e := range imageExts {
		exts = append(exts, e)
	}
	sort.Strings(exts)
	return strings.Join(exts, " ")
}

// addNames yields the names AddImages gives a copy of src: its own, then NAME-2.EXT, NAME-3.EXT…
func addNames(src string) func(n int) string {
	base := filepath.Base(src)
	ext := filepath.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	return func(n int) string {
		if n < 2 {
			return base
		}
		return fmt.Sprintf("%s-%d%s", stem, n, ext)
	}
}

// findCopy looks for src in root under the names AddImages gives and returns the one holding the
// same bytes, if any.
func findCopy(root, src string) (string, bool) {
	name := addNames(src)
	for n := 1; ; n++ {
		st, err := os.Lstat(filepath.Join(root, name(n)))
		if err != nil {
			return "", false
		}
		if st.Mode().IsRegular() && sameContent(filepath.Join(root, name(n)), src) {
			return name(n), true
		}
	}
}

// sameContent reports whether files a and b hold the same bytes (false when either is unreadable).
func sameContent(a, b string) bool {
	fa, err := os.Open(a)
	if err != nil {
		return false
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false
	}
	defer fb.Close()
	sa, ea := fa.Stat()
	sb, eb := fb.Stat()
	if ea != nil || eb != nil || sa.Size() != sb.Size() {
		return false
	}
	ba, bb := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false
		}
		if ea != nil || eb != nil {
			return (ea == io.EOF || ea == io.ErrUnexpectedEOF) && (eb == io.EOF || eb == io.ErrUnexpectedEOF)
		}
	}
}

// copyInto copies file src into folder root under a name not taken yet, and returns that name.
func copyInto(root, src string) (string, error) {
	next := addNames(src)
	name := next(1)
	for n := 2; ; n++ {
		if _, err := os.Lstat(filepath.Join(root, name)); errors.Is(err, os.ErrNotExist) {
			break
		}
		name = next(n)
	}
	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("add %s: %w", src, err)
	}
	defer in.Close()
	dst := filepath.Join(root, name)
	if err := atomicfile.Write(dst, 0o644, func(w io.Writer) error { _, err := io.Copy(w, in); return err }); err != nil {
		return "", fmt.Errorf("add %s as %s: %w", src, dst, err)
	}
	return name, nil
}

// SidecarPath returns the caption file of image img (a path), by the rule Open reads and Save
// writes with: NAME.txt beside NAME.jpg, or NAME.EXT.txt when another image of the folder with
// the same name comes first in name order (a.jpg keeps a.txt, a.png gets a.png.txt).
func SidecarPath(img string) (string, error) {
	dir, file := filepath.Split(img)
	entries, err := os.ReadDir(filepath.Clean(dir + "."))
	if err != nil {
		return "", fmt.Errorf("name the caption file of %s: %w", img, err)
	}
	names := []string{file}
	for _, e := range entries {
		if !e.IsDir() && IsImageName(e.Name()) && e.Name() != file {
			names = append(names, e.Name())
		}
	}
	return filepath.Join(dir, sidecarNames(names, ".txt")[0]), nil
}

// WriteSidecar writes captions, one a line, to the caption file of image img (SidecarPath),
// atomically and readable by all (0644), and returns that file's path.
func WriteSidecar(img string, captions []string) (string, error) {
	path, err := SidecarPath(img)
	if err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(path, append(renderSidecar(captions), '\n'), 0o644); err != nil {
		return "", fmt.Errorf("write the captions of %s: %w", img, err)
	}
	return path, nil
}
