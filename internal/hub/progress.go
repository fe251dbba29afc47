package hub

import "time"

// Progress reports a pull: the file being fetched, and the bytes of the whole model.
type Progress struct {
	Repo      string
	File      string // path in the repo of the file being fetched
	FileIndex int    // 1-based position of File among Files
	Files     int
	FileDone  int64 // bytes of File on disk, resumed ones included
	FileSize  int64
	Done      int64 // bytes of the model on disk, files already cached included
	Total     int64
	// BytesPerSecond is the rate of this pull's transfers, since its first byte.
	BytesPerSecond float64
	// ETA is the time left at that rate; negative when unknown.
	ETA time.Duration
	// Resumes counts the transfers resumed after a dropped or stalled connection; Note says why the
	// last one was.
	Resumes int
	Note    string
}

// progress accumulates a pull's Progress and calls back at most every 100 ms. A nil *progress
// ignores everything, for files fetched outside a pull's accounting (the shard index).
type progress struct {
	Progress
	callback      func(Progress)
	first         time.Time // first byte received
	receivedBytes int64
	fileBase      int64 // Done when the current file started
	last          time.Time
}

func newProgress(repo string, pl plan, callback func(Progress)) *progress {
	p := &progress{Progress: Progress{Repo: repo, Files: len(pl.files), ETA: -1}, callback: callback}
	for _, f := range pl.files {
		p.Total += f.size
	}
	return p
}

func (p *progress) startFile(f remoteFile) {
	if p == nil {
		return
	}
	p.FileIndex++
	p.File, p.FileSize, p.FileDone = f.name, f.size, 0
	p.fileBase = p.Done
}

// setFileDone sets how much of the current file is on disk (a resumed partial file, or 0 when the
// server restarts it).
func (p *progress) setFileDone(n int64) {
	if p == nil {
		return
	}
	p.FileDone = n
	p.Done = p.fileBase + n
	p.emit(false)
}

func (p *progress) received(n int64) {
	if p == nil {
		return
	}
	if p.first.IsZero() {
		p.first = time.Now()
	}
	p.receivedBytes += n
	p.FileDone += n
	p.Done += n
	p.emit(false)
}

func (p *progress) resumed(err error) {
	if p == nil {
		return
	}
	p.Resumes++
	p.Note = "resuming " + p.File + " after: " + err.Error()
	p.emit(true)
}

func (p *progress) endFile() {
	if p == nil {
		return
	}
	p.FileDone = p.FileSize
	p.Done = p.fileBase + p.FileSize
	p.emit(false)
}

func (p *progress) finish() {
	if p == nil {
		return
	}
	p.emit(true)
}

func (p *progress) emit(force bool) {
	if p.callback == nil {
		return
	}
	now := time.Now()
	if !force && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	p.BytesPerSecond, p.ETA = 0, -1
	if secs := now.Sub(p.first).Seconds(); !p.first.IsZero() && secs > 0 {
		p.BytesPerSecond = float64(p.receivedBytes) / secs
	}
	switch {
	case p.Done >= p.Total:
		p.ETA = 0
	case p.BytesPerSecond > 0:
		p.ETA = time.Duration(float64(p.Total-p.Done) / p.BytesPerSecond * float64(time.Second))
	}
	p.callback(p.Progress)
}
