package annotate

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/captune/captune/internal/atomicfile"
)

// exportTx records what an export changes in its destination, so that a failed export (a full
// disk, a permission, an unreadable image) can leave the destination as it was: files it created
// are removed, files it replaced are put back from backups, folders it created are removed. The
// backups are hard links where the file system allows it (no space needed, which matters on a
// full disk), else copies, in one temporary folder in the destination: if Captune is killed, the
// next run removes that folder as a leftover, and the export's new files stay in place.
type exportTx struct {
	root    string            // the destination, where the backup folder goes
	bakDir  string            // the backup folder, made on the first backup
	created map[string]bool   // files that did not exist before
	backups map[string]string // replaced file -> its backup
	order   []string          // created and replaced files, in the order they were first touched
	dirs    []string          // folders created, parents before children
}

func newExportTx(root string) *exportTx {
	return &exportTx{root: root, created: map[string]bool{}, backups: map[string]string{}}
}

// mkdirAll creates dir and its missing parents, recording those it created.
func (tx *exportTx) mkdirAll(dir string) error {
	var missing []string
	for p := dir; ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil || filepath.Dir(p) == p {
			break
		}
		missing = append(missing, p)
	}
	err := os.MkdirAll(dir, 0o755)
	for i := len(missing) - 1; i >= 0; i-- {
		if _, serr := os.Lstat(missing[i]); serr == nil {
			tx.dirs = append(tx.dirs, missing[i])
		}
	}
	return err
}

// prepare must be called before the export writes abs: it backs up a file the user has there,
// or records that there was none.
func (tx *exportTx) prepare(abs string) error {
	if _, ok := tx.backups[abs]; ok || tx.created[abs] {
		return nil
	}
	fi, err := os.Lstat(abs)
	if errors.Is(err, fs.ErrNotExist) {
		tx.created[abs] = true
		tx.order = append(tx.order, abs)
		return nil
	}
	if err != nil {
		return err
	}
	if tx.bakDir == "" {
		if tx.bakDir, err = atomicfile.Mkdir(filepath.Join(tx.root, "export-backup")); err != nil {
			return fmt.Errorf("keep %s to restore it if the export fails: %w", abs, err)
		}
	}
	bak := filepath.Join(tx.bakDir, strconv.Itoa(len(tx.backups)))
	if err := os.Link(abs, bak); err != nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("keep %s to restore it if the export fails: %w", abs, err)
		}
		if err := copyBackup(abs, bak, fi.Mode().Perm()); err != nil {
			return fmt.Errorf("keep %s to restore it if the export fails: %w", abs, err)
		}
	}
	tx.backups[abs] = bak
	tx.order = append(tx.order, abs)
	return nil
}

// copyBackup copies src to bak, removing bak if it cannot be written whole.
func copyBackup(src, bak string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(bak, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(bak)
	}
	return err
}

// commit keeps what the export wrote and drops the backups.
func (tx *exportTx) commit() {
	if tx.bakDir != "" {
		os.RemoveAll(tx.bakDir)
	}
}

// rollback undoes the export, newest change first. It returns what it could not undo.
func (tx *exportTx) rollback() error {
	var errs []error
	for i := len(tx.order) - 1; i >= 0; i-- {
		abs := tx.order[i]
		if bak, ok := tx.backups[abs]; ok {
			if err := os.Rename(bak, abs); err != nil {
				errs = append(errs, fmt.Errorf("restore %s (its copy is %s): %w", abs, bak, err))
			}
			continue
		}
		if err := os.Remove(abs); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if tx.bakDir != "" && len(errs) == 0 {
		if err := os.RemoveAll(tx.bakDir); err != nil {
			errs = append(errs, err)
		}
	}
	for i := len(tx.dirs) - 1; i >= 0; i-- {
		if err := os.Remove(tx.dirs[i]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	for _, dir := range parentsOf(tx.order) {
		syncDir(dir)
	}
	return errors.Join(errs...)
}

// parentsOf lists the folders of files, once each.
func parentsOf(files []string) []string {
	seen := map[string]bool{}
	var dirs []string
	for _, f := range files {
		if d := filepath.Dir(f); !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	return dirs
}
