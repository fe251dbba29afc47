// Package atomicfile writes files so that a crash or a full disk leaves either the old file or
// the new one, and recognises and removes the temporary files that a killed writer left behind.
//
// Every temporary file or folder Captune makes beside a file it writes is named
//
//	.NAME.captune-tmp-PID-RANDOM
//
// where NAME is the file it will become and PID the writing process. The leading dot hides it
// from file managers; the marker lets any later Captune tell it from the user's files; the
// process id tells whether its writer still runs, so CleanStale removes the leftovers of killed
// writers and never the file another running Captune is writing. The pattern .*.captune-tmp-*
// matches every name, for .gitignore and backup exclusions.
//
// A process id is only meaningful on the machine that wrote it: in a folder shared over the
// network, a temporary file of a writer on another machine looks stale here. Removing it makes
// that writer's rename fail with an error; it never loses a finished file.
package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Marker is in the name of every temporary file Captune writes.
const Marker = ".captune-tmp-"

// TempPath returns a new, unused-looking temporary name beside path, for writers that create
// the file themselves (a hard link, a folder). Create and Mkdir use it.
func TempPath(path string) string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	dir, name := filepath.Split(path)
	return filepath.Join(dir, "."+name+Marker+strconv.Itoa(os.Getpid())+"-"+hex.EncodeToString(b[:]))
}

// Create creates a temporary file beside path (mode 0600, like os.CreateTemp), to be renamed
// over path once written.
func Create(path string) (*os.File, error) {
	for range 10 {
		f, err := os.OpenFile(TempPath(path), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, fmt.Errorf("create a temporary file beside %s: too many name collisions", path)
}

// Mkdir creates a temporary folder beside path, to be renamed to path once filled.
func Mkdir(path string) (string, error) {
	for range 10 {
		tmp := TempPath(path)
		err := os.Mkdir(tmp, 0o755)
		if err == nil {
			return tmp, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("create a temporary folder beside %s: too many name collisions", path)
}

// Write writes a file through fill into a temporary file beside path, syncs it, gives it perm
// and renames it over path, then syncs the folder so the rename is durable. A crash or a full
// disk leaves either the old file or the new one; on an error the temporary file is removed.
func Write(path string, perm fs.FileMode, fill func(io.Writer) error) (err error) {
	tmp, err := Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = fill(tmp); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: sync: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: close: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	SyncDir(filepath.Dir(path))
	return nil
}

// Link makes path a hard link to src: a link under a temporary name beside path, renamed over
// path. It fails where hard links cannot be made (another file system, a file system without
// them), leaving path as it was. The caller syncs the folder (SyncDir) when the rename must be
// durable; a later Write in the same folder does.
func Link(src, path string) error {
	tmp := TempPath(path)
	if err := os.Link(src, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// WriteFile is Write of a byte slice.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return Write(path, perm, func(w io.Writer) error { _, err := w.Write(data); return err })
}

// SyncDir makes the renames in a folder durable. File systems that cannot sync a folder are
// not an error.
func SyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// IsTemp reports whether a file name (not a path) is a Captune temporary file: a hidden name
// with the marker, including those of older versions that did not record a process id.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, Marker)
}

// WriterPID returns the process id recorded in a temporary file's name; ok is false for a name
// that is not a temporary file or records none (older versions).
func WriterPID(name string) (pid int, ok bool) {
	if !IsTemp(name) {
		return 0, false
	}
	rest := name[strings.LastIndex(name, Marker)+len(Marker):]
	digits, _, found := strings.Cut(rest, "-")
	if !found {
		return 0, false
	}
	pid, err := strconv.Atoi(digits)
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

// Stale reports whether name is a Captune temporary file whose writer no longer runs on this
// machine. A name without a process id (written by an older Captune) is never stale here:
// nothing says its writer has gone.
func Stale(name string) bool {
	pid, ok := WriterPID(name)
	return ok && pid != os.Getpid() && !ProcessAlive(pid)
}

// CleanStale removes the stale temporary files and folders (see Stale) directly in dir; it does
// not descend into sub-folders, so callers name each folder they write into. It returns how many
// it removed; a missing dir removes nothing. Other files are never touched.
func CleanStale(dir string) (removed int, err error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("remove leftover temporary files in %s: %w", dir, err)
	}
	var errs []error
	for _, e := range entries {
		if !Stale(e.Name()) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	if len(errs) > 0 {
		return removed, fmt.Errorf("remove leftover temporary files in %s: %w", dir, errors.Join(errs...))
	}
	return removed, nil
}
