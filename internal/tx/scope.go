package tx

import (
	"errors"
	"sync/atomic"

	lib "github.com/sugarme/gotch/libtch"
)

// Scope owns the tensors made through it, in the spirit of ollama's ml.Context: model code never
// frees a result by hand. A function that computes makes a scope, or is given one, makes every
// result through it, and releases them all with one deferred Free, which also runs when an
// operation panics (a libtorch error), so a failed call leaks nothing:
//
//	s := tx.NewScope()
//	defer s.Free()
//	y := linear(s, x, w, b) // s owns y
//	return s.Keep(y)        // y escapes: the caller owns it now
//
// Keep lets a result escape the scope (a KV cache entry, logits handed to gotch); Own adopts a
// tensor the caller owned. Run and Update give a layer call a scope of its own, so that its
// intermediates are freed when it returns rather than when the whole forward pass does: with one
// scope per layer call the peak memory is that of one layer's intermediates. Weights borrowed with
// W are never owned by a scope.
//
// A Scope belongs to one goroutine, as the tensors it holds do.
type Scope struct {
	owned []T
}

// NewScope returns an empty scope; defer its Free.
func NewScope() *Scope { return &Scope{} }

// Free releases every tensor the scope still owns, newest first. The scope stays usable (empty).
func (s *Scope) Free() {
	for i := len(s.owned) - 1; i >= 0; i-- {
		s.owned[i].Free()
	}
	clear(s.owned)
	s.owned = s.owned[:0]
}

// Len is the number of tensors the scope owns.
func (s *Scope) Len() int { return len(s.owned) }

// Own records x, a tensor the caller owned, in the scope, and returns it.
func (s *Scope) Own(x T) T {
	if x.C != nil {
		s.owned = append(s.owned, x)
	}
	return x
}

// Keep takes x out of the scope and returns it: the caller owns it now, and frees it or gives it to
// another scope with Own. Keeping a tensor the scope does not own is a programming error and panics.
func (s *Scope) Keep(x T) T {
	if !s.release(x) {
		panic(errKeep)
	}
	return x
}

var errKeep = errors.New("tx: Keep of a tensor the scope does not own")

// release drops x from the records (without freeing it) and says whether s owned it. The search
// runs from the newest record: a result is usually kept right after it is made.
func (s *Scope) release(x T) bool {
	for i := len(s.owned) - 1; i >= 0; i-- {
		if s.owned[i].C == x.C {
			copy(s.owned[i:], s.owned[i+1:])
			s.owned[len(s.owned)-1] = T{}
			s.owned = s.owned[:len(s.owned)-1]
			return true
		}
	}
	return false
}

// Run calls f with a scope of its own and returns f's result, which s then owns; everything else f
// made is freed when f returns or panics. A result f did not make (its input, a weight) is returned
// as it is, owned by whoever owned it.
func (s *Scope) Run(f func(*Scope) T) T {
	c := NewScope()
	defer c.Free()
	y := f(c)
	if c.release(y) {
		s.Own(y)
	}
	return y
}

// Update is Run for a value carried through a loop: it calls f(x) in a scope of its own and returns
// the result in place of x, freeing x when s owns it. A loop over layers written
//
//	for _, l := range layers {
//		x = s.Update(x, l.Forward)
//	}
//
// keeps one activation alive between layers, as freeing each by hand would.
func (s *Scope) Update(x T, f func(*Scope, T) T) T {
	y := s.Run(func(c *Scope) T { return f(c, x) })
	if y.C != x.C && s.release(x) {
		x.Free()
	}
	return y
}

// Call runs a libtorch function that writes its result handle, checks for an error, and records
// the result in s.
func (s *Scope) Call(op string, f func(*lib.Ctensor)) T { return s.Own(Call(op, f)) }

// ScalarOp is Call for functions taking one scalar argument.
func (s *Scope) ScalarOp(op string, v float64, f func(*lib.Ctensor, lib.Cscalar)) T {
	return s.Own(ScalarOp(op, v, f))
}

// live counts the handles made by Call and not yet freed or handed to gotch.
var live atomic.Int64

// Live returns the number of tensor handles made through this package (Call, Scope) that are
// neither freed nor handed over to gotch with TS. With gotch's own count (len(ts.ExistingTensors))
// it tells a test whether a piece of model code leaked.
func Live() int64 { return live.Load() }

// failIn is the test hook of FailAfter: when positive, the operation that brings it to zero panics.
var failIn atomic.Int64

// FailAfter is a test hook: the n-th operation made through Call from now on panics as a libtorch
// error would, before calling libtorch. n <= 0 turns the hook off. Tests use it to check that a
// failure at any point of a forward pass leaves nothing behind.
func FailAfter(n int64) { failIn.Store(max(n, 0)) }

// errInjected is the panic value FailAfter makes.
var errInjected = errors.New("tx: failure injected by FailAfter")
