package ui

import (
	"bytes"
	"runtime"
	"strconv"
	"sync"

	"fyne.io/fyne/v2"
)

// onUI and onUIWait run f on the UI goroutine: fyne.Do and fyne.DoAndWait. Every callback from a
// worker goroutine goes through them. Fyne's test driver runs f right on the calling goroutine, so
// tests call SerializeForTestDriver, which replaces both with calls serialised by one lock, as the
// real driver's single UI goroutine serialises them.
var (
	onUI     = fyne.Do
	onUIWait = fyne.DoAndWait
)

// uiLock stands in for the real driver's single UI goroutine under the test driver, where two
// workers (an image loader, a throttled redraw) could otherwise lay out the same label at once.
// It is re-entrant, as a callback may queue another (which the real driver runs later). A callback
// queued (onUI) while another goroutine holds it waits in queue, in order, for a drainer goroutine,
// so that a worker never blocks in onUI, as with fyne.Do: the UI side may be waiting for that
// worker (closing a window stops its autosaver, whose last save notifies the window).
var uiLock struct {
	sync.Mutex
	cond     *sync.Cond
	owner    uint64 // goroutine holding it, 0 when free
	depth    int
	queue    []func()
	draining bool
}

// SerializeForTestDriver makes the window's worker callbacks take turns, as they do on the desktop
// driver's UI goroutine, when the app runs on Fyne's test driver (tests, scripted screenshots). A
// test then acts on widgets through RunOnUI. Call it before the window is built.
func SerializeForTestDriver() {
	uiLock.cond = sync.NewCond(&uiLock.Mutex)
	onUI, onUIWait = serialUI, serialUIWait
}

// RunOnUI runs f as a UI callback: on the test driver after SerializeForTestDriver, in turn with
// the workers' callbacks and after those already queued; on the desktop driver, on its UI
// goroutine.
func RunOnUI(f func()) { onUIWait(f) }

// serialUIWait runs f holding uiLock, after the callbacks queued before it.
func serialUIWait(f func()) {
	id := goroutineID()
	uiLock.Lock()
	if uiLock.owner != id {
		for uiLock.owner != 0 || len(uiLock.queue) > 0 {
			uiLock.cond.Wait()
		}
		uiLock.owner = id
	}
	uiLock.depth++
	uiLock.Unlock()
	defer releaseUI()
	f()
}

// serialUI runs f now if uiLock is free (or the caller holds it), else queues it.
func serialUI(f func()) {
	id := goroutineID()
	uiLock.Lock()
	if uiLock.owner == id || (uiLock.owner == 0 && len(uiLock.queue) == 0) {
		uiLock.owner = id
		uiLock.depth++
		uiLock.Unlock()
		defer releaseUI()
		f()
		return
	}
	uiLock.queue = append(uiLock.queue, f)
	if !uiLock.draining {
		uiLock.draining = true
		go drainUI()
	}
	uiLock.Unlock()
}

// drainUI runs the queued callbacks in order, each holding uiLock.
func drainUI() {
	id := goroutineID()
	for {
		uiLock.Lock()
		for uiLock.owner != 0 {
			uiLock.cond.Wait()
		}
		if len(uiLock.queue) == 0 {
			uiLock.draining = false
			uiLock.cond.Broadcast()
			uiLock.Unlock()
			return
		}
		f := uiLock.queue[0]
		uiLock.queue = uiLock.queue[1:]
		uiLock.owner, uiLock.depth = id, 1
		uiLock.Unlock()
		func() {
			defer releaseUI()
			f()
		}()
	}
}

func releaseUI() {
	uiLock.Lock()
	if uiLock.depth--; uiLock.depth == 0 {
		uiLock.owner = 0
		uiLock.cond.Broadcast()
	}
	uiLock.Unlock()
}

// goroutineID reads the calling goroutine's number from its stack header ("goroutine N [").
func goroutineID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	id, _ := strconv.ParseUint(string(b[:bytes.IndexByte(b, ' ')]), 10, 64)
	return id
}
