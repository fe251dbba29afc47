package annotate

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// errUnsafePath marks a file name in a caption file that would leave the dataset folder.
var errUnsafePath = errors.New("path leaves the dataset folder")

// cleanEntryName turns a file name written in a caption file (metadata.jsonl, COCO, CSV) into a
// slash-separated path relative to dir (itself relative to the root), or refuses it. Absolute
// paths, drive letters, ".." anywhere and NUL bytes are refused even when they would land inside
// the root: such names come from someone else's machine or from an attack, never from an
// imagefolder layout. Backslashes count as separators so that Windows-made files work.
func cleanEntryName(dir, name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", errors.New("empty file name")
	}
	if strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("%q: %w", name, errUnsafePath)
	}
	s := strings.ReplaceAll(name, `\`, "/")
	if strings.HasPrefix(s, "/") || filepath.IsAbs(name) || hasDriveLetter(s) {
		return "", fmt.Errorf("%q is absolute: %w", name, errUnsafePath)
	}
	for _, part := range strings.Split(s, "/") {
		if part == ".." {
			return "", fmt.Errorf("%q: %w", name, errUnsafePath)
		}
	}
	rel := path.Clean(path.Join(dir, s))
	if rel == "." || rel == ".." || strings.HasPrefix(rel, "../") || strings.HasPrefix(rel, "/") {
		return "", fmt.Errorf("%q: %w", name, errUnsafePath)
	}
	return rel, nil
}

func hasDriveLetter(s string) bool {
	return len(s) >= 2 && s[1] == ':' && (s[0]|0x20 >= 'a' && s[0]|0x20 <= 'z')
}

// within reports whether the absolute, symlink-free path p is root or inside it.
func within(root, p string) bool {
	if p == root {
		return true
	}
	r := root
	if !strings.HasSuffix(r, string(filepath.Separator)) {
		r += string(filepath.Separator)
	}
	return strings.HasPrefix(p, r)
}

// resolveInside follows the symlinks of abs and reports whether the result stays inside the real
// root. It is how Open decides whether a symlinked image or caption file may be read.
func resolveInside(realRoot, abs string) (string, bool) {
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", false
	}
	return real, within(realRoot, real)
}

// checkWritable refuses to write rel if a folder on its way has become a symlink that leaves the
// root since Open (Open never follows symlinked folders, so this only happens if someone swapped
// one in), or if rel itself is a symlink: renaming over it would replace the link, not write
// through it, which is safe, but surprising enough to ask the user first.
func (d *Dataset) checkWritable(rel string) error {
	abs := d.abs(rel)
	dir := filepath.Dir(abs)
	if !within(d.realRoot, realPathLoose(dir)) {
		return fmt.Errorf("write %s: folder %s: %w", rel, filepath.Dir(rel), errUnsafePath)
	}
	if fi, err := os.Lstat(abs); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("write %s: it is a symbolic link; replace it by a regular file first", rel)
	}
	return nil
}
