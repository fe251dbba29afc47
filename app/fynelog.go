package app

import (
	"bytes"
	"io"
	"sync"
)

// harmlessFyneErrors are messages Fyne logs that report nothing a user can act on: its preferences
// watcher reads the file while Fyne itself is rewriting it, fails on the half-written file (EOF)
// and keeps the values it holds in memory. Each is dropped only with that cause.
var harmlessFyneErrors = []struct{ reason, cause string }{
	{"Preferences load error:", "EOF"},
}

// fyneLogFilter passes the standard logger's lines to out, less the harmless Fyne errors. Fyne logs
// an error as three lines ("Fyne error: REASON", "  Cause: ERR", "  At: FILE:LINE"); the first is
// held until the second shows whether to drop the three.
type fyneLogFilter struct {
	out    io.Writer
	mu     sync.Mutex
	held   []byte // a reason line waiting for its cause
	cause  string // the cause that makes the held line harmless
	dropAt bool   // the next "At:" line belongs to a dropped error
}

func (f *fyneLogFilter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held != nil {
		held := f.held
		f.held = nil
		if bytes.Contains(p, []byte("  Cause: "+f.cause)) {
			f.dropAt = true
			return len(p), nil
		}
		if _, err := f.out.Write(held); err != nil {
			return 0, err
		}
	}
	if f.dropAt {
		f.dropAt = false
		if bytes.Contains(p, []byte("  At: ")) {
			return len(p), nil
		}
	}
	for _, h := range harmlessFyneErrors {
		if bytes.Contains(p, []byte("Fyne error:  "+h.reason)) {
			f.held, f.cause = append([]byte(nil), p...), h.cause
			return len(p), nil
		}
	}
	return f.out.Write(p)
}
