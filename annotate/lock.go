package annotate

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/captune/captune/internal/atomicfile"
)

// lockRel is the lock file, relative to the root.
const lockRel = ProjectDir + "/lock"

// ErrLocked is matched (errors.Is) by a *LockError.
var ErrLocked = errors.New("dataset is open in another Captune")

// LockInfo says who holds a dataset's lock file.
type LockInfo struct {
	PID   int       `json:"pid"`
	Host  string    `json:"host"`
	Since time.Time `json:"since"`
	Token string    `json:"token"` // tells two windows of one process apart
}

// LockError is returned by Lock and Save when another Captune (another process, or another
// window of this one) holds the dataset's lock file. The UI should warn, and may offer ForceLock.
type LockError struct {
	Root   string
	Holder LockInfo
}

// Error names the holder, for the warning the UI shows.
func (e *LockError) Error() string {
	return fmt.Sprintf("%s is open in another Captune (process %d on %s since %s)",
		e.Root, e.Holder.PID, e.Holder.Host, e.Holder.Since.Local().Format("2006-01-02 15:04"))
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockError) Is(target error) bool { return target == ErrLocked }

// Lock takes the dataset's lock file (.captune/lock), so that a second Captune on the same folder
// is warned instead of overwriting this one's saves. A lock left by a process that no longer runs
// on this machine is taken over. Taking the lock also removes the temporary files of saves that
// were interrupted. Locking twice is fine; Close releases it.
func (d *Dataset) Lock() error {
	return d.lock(false)
}

// ForceLock takes the lock file even from a running Captune, for when the user says the other one
// is gone (e.g. it runs on a machine that crashed).
func (d *Dataset) ForceLock() error {
	return d.lock(true)
}

func (d *Dataset) lock(force bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	abs := d.abs(lockRel)
	if _, err := os.Lstat(d.abs(ProjectDir)); err == nil {
		if _, inside := resolveInside(d.realRoot, d.abs(ProjectDir)); !inside {
			return fmt.Errorf("lock %s: %s: %w", d.root, ProjectDir, errUnsafePath)
		}
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return fmt.Errorf("lock %s: %w", d.root, err)
	}
	token := d.lockToken
	if token == "" {
		var b [12]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
		token = hex.EncodeToString(b[:])
	}
	host, _ := os.Hostname()
	info := LockInfo{PID: os.Getpid(), Host: host, Since: time.Now().UTC().Truncate(time.Second), Token: token}
	data, _ := json.Marshal(info)
	for attempt := 0; attempt < 3; attempt++ {
		err := createExclusive(abs, append(data, '\n'))
		if err == nil {
			d.lockToken = token
			d.removeLeftovers()
			return nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("lock %s: %w", d.root, err)
		}
		holder, err := readLock(abs)
		if err == nil && holder.Token == d.lockToken && d.lockToken != "" {
			return nil
		}
		if err == nil && !force && holderAlive(holder) {
			return &LockError{Root: d.root, Holder: holder}
		}
		// Stale (its process is gone), unreadable (a crash while writing it) or forced.
		if err := os.Remove(abs); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("lock %s: remove stale lock: %w", d.root, err)
		}
	}
	return fmt.Errorf("lock %s: another Captune keeps taking the lock", d.root)
}

// removeLeftovers deletes the temporary files Open found but could not prove stale: those of an
// older Captune, whose names record no process id. Only the lock holder does it, since such a
// file could belong to a save in progress of another Captune; a file whose writer still runs is
// kept.
func (d *Dataset) removeLeftovers() {
	for _, rel := range d.leftovers {
		if pid, ok := atomicfile.WriterPID(path.Base(rel)); ok && atomicfile.ProcessAlive(pid) {
			continue
		}
		os.Remove(d.abs(rel))
	}
	d.leftovers = nil
}

// createExclusive creates abs with data unless it exists. The content is written to a temporary
// file first and hard-linked into place, so nobody ever sees a lock file without its content;
// where hard links are not supported it falls back to O_EXCL.
func createExclusive(abs string, data []byte) error {
	tmp, err := atomicfile.Create(abs)
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(data)
	serr := tmp.Sync()
	if err := errors.Join(werr, serr, tmp.Close()); err != nil {
		return err
	}
	err = os.Link(tmp.Name(), abs)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	f, err := os.OpenFile(abs, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, werr = f.Write(data)
	serr = f.Sync()
	return errors.Join(werr, serr, f.Close())
}

func readLock(abs string) (LockInfo, error) {
	var info LockInfo
	data, err := os.ReadFile(abs)
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return info, err
	}
	if info.PID <= 0 || info.Token == "" {
		return info, errors.New("incomplete lock file")
	}
	return info, nil
}

// holderAlive says whether the lock's owner may still be running. A process on another machine
// (a shared network folder) cannot be checked and is assumed to run.
func holderAlive(h LockInfo) bool {
	host, _ := os.Hostname()
	if h.Host != host {
		return true
	}
	return atomicfile.ProcessAlive(h.PID)
}

// checkLock lets Save write unless another live Captune holds the lock.
func (d *Dataset) checkLock() error {
	d.mu.Lock()
	token := d.lockToken
	d.mu.Unlock()
	holder, err := readLock(d.abs(lockRel))
	if err != nil {
		return nil // no lock, or a broken one nobody can be holding
	}
	if holder.Token == token || !holderAlive(holder) {
		return nil
	}
	return &LockError{Root: d.root, Holder: holder}
}

// Close releases the lock file if this Dataset holds it. It does not save.
func (d *Dataset) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lockToken == "" {
		return nil
	}
	abs := d.abs(lockRel)
	token := d.lockToken
	d.lockToken = ""
	if holder, err := readLock(abs); err != nil || holder.Token != token {
		return nil // someone forced it away from us; it is theirs now
	}
	if err := os.Remove(abs); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("unlock %s: %w", d.root, err)
	}
	return nil
}
