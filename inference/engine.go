package inference

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// Engine runs all libtorch work for the models it owns on one goroutine locked to one OS thread.
//
// Why: libtorch keeps grad mode and gotch's last-error slot in thread-locals, and Go moves
// goroutines between OS threads freely, so a no-grad section begun on one thread can end on
// another, leaving gradients off (or on) for whatever runs there next; and one model used from
// several threads at once has produced double frees (gotch issue #117). Callers on any goroutine
// send closures with Do; they run one at a time, in order, on the engine's thread.
type Engine struct {
	reqs      chan request
	closeOnce sync.Once
	done      chan struct{}
}

type request struct {
	ctx  context.Context
	fn   func() error
	resp chan error
}

// ErrEngineClosed is returned by Do after Close.
var ErrEngineClosed = errors.New("model engine closed")

// NewEngine starts the engine goroutine.
func NewEngine() *Engine {
	e := &Engine{reqs: make(chan request), done: make(chan struct{})}
	go e.loop()
	return e
}

func (e *Engine) loop() {
	runtime.LockOSThread()
	defer close(e.done)
	for r := range e.reqs {
		if err := r.ctx.Err(); err != nil {
			r.resp <- err
			continue
		}
		r.resp <- runSafely(r.fn)
	}
}

// runSafely turns a panic in model code (a gotch Must* on an unexpected shape) into an error, so
// one bad request does not end the program.
func runSafely(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("model error: %v", r)
		}
	}()
	return fn()
}

// Do runs fn on the engine's thread and returns its error. It waits for earlier requests; a request
// whose ctx ends before it starts is not run. fn itself should watch ctx for long work.
func (e *Engine) Do(ctx context.Context, fn func() error) (err error) {
	r := request{ctx: ctx, fn: fn, resp: make(chan error, 1)}
	defer func() {
		if recover() != nil { // send on closed channel
			err = ErrEngineClosed
		}
	}()
	select {
	case e.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-e.done:
		return ErrEngineClosed
	}
	return <-r.resp
}

// Close stops the engine after the requests already accepted; it does not free models (do that
// with a last Do).
func (e *Engine) Close() {
	e.closeOnce.Do(func() { close(e.reqs) })
	<-e.done
}
