package annotate

import (
	"context"
	"sync"
	"time"
)

// DefaultAutosaveDelay is how long an Autosaver waits after the last edit before saving: long
// enough that typing does not write on every key, short enough that a crash loses little.
const DefaultAutosaveDelay = 2 * time.Second

// Autosaver saves a dataset a short while after each burst of edits (debounced), and once more
// when stopped. It runs one goroutine between Start and Stop.
type Autosaver struct {
	// OnError, if set, receives every failed save (e.g. a *ConflictError or *LockError for the UI
	// to ask about). It runs on the autosaver's goroutine. The autosaver does not retry on its
	// own; the next edit, or Resolve, triggers the next attempt.
	OnError func(error)

	d     *Dataset
	delay time.Duration
	poke  chan struct{}

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	final  error
}

// NewAutosaver makes an autosaver for d that saves delay after the last change (0 means
// DefaultAutosaveDelay).
func NewAutosaver(d *Dataset, delay time.Duration) *Autosaver {
	if delay <= 0 {
		delay = DefaultAutosaveDelay
	}
	return &Autosaver{d: d, delay: delay, poke: make(chan struct{}, 1)}
}

// Start begins watching for changes. It returns at once; the autosaver stops when ctx is done or
// Stop is called, saving pending edits first. Starting a started autosaver does nothing.
func (a *Autosaver) Start(ctx context.Context) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done != nil {
		return
	}
	ctx, a.cancel = context.WithCancel(ctx)
	a.done = make(chan struct{})
	remove := a.d.OnChange(func(c Change) {
		if c.Saved {
			return
		}
		select {
		case a.poke <- struct{}{}:
		default: // a save is already due
		}
	})
	go a.run(ctx, remove)
}

func (a *Autosaver) run(ctx context.Context, remove func()) {
	defer close(a.done)
	defer remove()
	timer := time.NewTimer(a.delay)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			var err error
			if a.d.Dirty() {
				err = a.d.Save()
			}
			a.mu.Lock()
			a.final = err
			a.mu.Unlock()
			return
		case <-a.poke:
			timer.Reset(a.delay)
		case <-timer.C:
			if err := a.d.Save(); err != nil && a.OnError != nil {
				a.OnError(err)
			}
		}
	}
}

// Stop saves pending edits, stops the goroutine and returns the error of that last save.
func (a *Autosaver) Stop() error {
	a.mu.Lock()
	cancel, done := a.cancel, a.done
	a.mu.Unlock()
	if done == nil {
		return nil
	}
	cancel()
	<-done
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cancel, a.done = nil, nil
	return a.final
}
