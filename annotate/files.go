package annotate

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/captune/captune/internal/atomicfile"
)

// Size limits for files Captune reads whole: a sidecar is a few lines, a caption file of a single
// format may be large (COCO train captions are about 90 MB).
const (
	maxSidecarBytes = 64 << 20
	maxSourceBytes  = 2 << 30
)

// stamp is what a caption file looked like when Captune last read or wrote it, to notice when
// another program changed it in between.
type stamp struct {
	exists bool
	size   int64
	mtime  time.Time
	hash   uint64
}

func hashBytes(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

// readStamped reads a whole file (at most limit bytes) and the stamp that goes with its content.
func readStamped(abs string, limit int64) ([]byte, stamp, error) {
	f, err := os.Open(abs)
	if err != nil {
		return nil, stamp{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, stamp{}, err
	}
	if !fi.Mode().IsRegular() {
		return nil, stamp{}, errors.New("not a regular file")
	}
	if fi.Size() > limit {
		return nil, stamp{}, fmt.Errorf("%d bytes is more than the %d MB Captune reads", fi.Size(), limit>>20)
	}
	var b bytes.Buffer
	b.Grow(int(fi.Size()) + bytes.MinRead)
	if _, err := b.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, stamp{}, err
	}
	if int64(b.Len()) > limit {
		return nil, stamp{}, fmt.Errorf("more than the %d MB Captune reads", limit>>20)
	}
	data := b.Bytes()
	return data, stamp{exists: true, size: fi.Size(), mtime: fi.ModTime(), hash: hashBytes(data)}, nil
}

// changedSince reports whether the file at abs is no longer what st describes. A different size
// or time alone is not enough: the content is hashed again, so a program that rewrites a file
// with the same bytes (or a touch) does not cause a false alarm.
func changedSince(abs string, st stamp) (bool, ConflictKind, error) {
	fi, err := os.Stat(abs)
	if errors.Is(err, fs.ErrNotExist) {
		if st.exists {
			return true, ConflictDeleted, nil
		}
		return false, "", nil
	}
	if err != nil {
		return false, "", err
	}
	if !st.exists {
		return true, ConflictCreated, nil
	}
	if fi.Size() == st.size && fi.ModTime().Equal(st.mtime) {
		return false, "", nil
	}
	data, _, err := readStamped(abs, maxSourceBytes)
	if err != nil {
		return false, "", err
	}
	if hashBytes(data) == st.hash {
		return false, "", nil
	}
	return true, ConflictModified, nil
}

// currentStamp describes the file at abs as it is now.
func currentStamp(abs string) (stamp, error) {
	_, st, err := readStamped(abs, maxSourceBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return stamp{}, nil
	}
	return st, err
}

// writeAtomic replaces abs with data so that a crash at any moment leaves either the old file or
// the new one: the bytes go to a temporary file in the same folder, which is fsynced and then
// renamed over abs (rename is atomic within a file system). The folder itself is fsynced by the
// caller once per save, which makes the renames durable. It returns the new file's stamp.
// It is atomicfile.Write (same temporary names, fsync, 0644 for a new file) but for two things a
// save needs: one folder sync for all the files of a save rather than one per file, and an
// existing file keeps its mode.
func writeAtomic(abs string, data []byte) (stamp, error) {
	dir := filepath.Dir(abs)
	perm := os.FileMode(0o644)
	if fi, err := os.Stat(abs); err == nil {
		perm = fi.Mode().Perm()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return stamp{}, err
	}
	tmp, err := atomicfile.Create(abs)
	if err != nil {
		return stamp{}, err
	}
	cleanup := func(err error) (stamp, error) {
		tmp.Close()
		os.Remove(tmp.Name())
		return stamp{}, err
	}
	if _, err := tmp.Write(data); err != nil {
		return cleanup(err)
	}
	if err := tmp.Chmod(perm); err != nil {
		return cleanup(err)
	}
	if err := tmp.Sync(); err != nil {
		return cleanup(err)
	}
	fi, err := tmp.Stat()
	if err != nil {
		return cleanup(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return stamp{}, err
	}
	if err := os.Rename(tmp.Name(), abs); err != nil {
		os.Remove(tmp.Name())
		return stamp{}, err
	}
	return stamp{exists: true, size: fi.Size(), mtime: fi.ModTime(), hash: hashBytes(data)}, nil
}

// removeFile deletes abs (a sidecar whose last caption was removed); a missing file is fine.
func removeFile(abs string) error {
	if err := os.Remove(abs); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// syncDir makes the renames in a folder durable.
func syncDir(dir string) error { return atomicfile.SyncDir(dir) }

// isTempName reports whether a file name is one of Captune's temporary files.
func isTempName(name string) bool { return atomicfile.IsTemp(name) }
