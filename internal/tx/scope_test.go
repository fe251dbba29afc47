package tx

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"
)

func ones(s *Scope, n int64) T {
	return s.Call("ones", func(p *lib.Ctensor) {
		lib.AtgOnes(p, []int64{n}, 1, gotch.Float.CInt(), gotch.CPU.CInt())
	})
}

func add(s *Scope, a, b T) T {
	return s.Call("add", func(p *lib.Ctensor) { lib.AtgAdd(p, a.C, b.C) })
}

// sum1 reads a one-element sum of x.
func sum1(x T) float32 {
	s := NewScope()
	defer s.Free()
	t := s.Call("sum", func(p *lib.Ctensor) { lib.AtgSum(p, x.C, gotch.Float.CInt()) })
	v := make([]float32, 1)
	lib.AtCopyData(t.C, unsafe.Pointer(&v[0]), 1, 4)
	Check("copy")
	return v[0]
}

// TestScope walks what model code does with a scope and checks, after each, how many tensor
// handles are live (Live) and which values survive.
func TestScope(t *testing.T) {
	tests := []struct {
		name     string
		run      func(s *Scope) (kept T)
		wantLive int64   // live handles after the scope is freed (the kept one, if any)
		wantSum  float32 // the kept tensor's sum
	}{
		{"free releases every result", func(s *Scope) T {
			x := ones(s, 3)
			add(s, x, x)
			return T{}
		}, 0, 0},
		{"keep lets a result escape", func(s *Scope) T {
			x := ones(s, 3)
			return s.Keep(add(s, x, x))
		}, 1, 6},
		{"run keeps only the result, owned by the parent", func(s *Scope) T {
			x := ones(s, 2)
			y := s.Run(func(c *Scope) T { return add(c, add(c, x, x), x) })
			if s.Len() != 2 {
				t.Errorf("parent owns %d tensors after Run, want 2 (input and result)", s.Len())
			}
			return s.Keep(y)
		}, 1, 6},
		{"run returning its input adds nothing", func(s *Scope) T {
			x := ones(s, 2)
			y := s.Run(func(c *Scope) T { ones(c, 5); return x })
			if s.Len() != 1 || y.C != x.C {
				t.Errorf("after Run returning its input: parent owns %d, same tensor %v; want 1, true", s.Len(), y.C == x.C)
			}
			return T{}
		}, 0, 0},
		{"update frees the carried value", func(s *Scope) T {
			x := ones(s, 4)
			for i := 0; i < 5; i++ {
				x = s.Update(x, func(c *Scope, x T) T { return add(c, x, ones(c, 4)) })
				if s.Len() != 1 {
					t.Errorf("step %d: parent owns %d tensors, want 1", i, s.Len())
				}
			}
			return s.Keep(x)
		}, 1, 24},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := Live()
			s := NewScope()
			kept := tt.run(s)
			s.Free()
			if got := Live() - before; got != tt.wantLive {
				t.Errorf("live handles after Free: %d more than before, want %d", got, tt.wantLive)
			}
			if kept.C != nil {
				if got := sum1(kept); got != tt.wantSum {
					t.Errorf("kept tensor sums to %v, want %v", got, tt.wantSum)
				}
				kept.Free()
			}
			if got := Live() - before; got != 0 {
				t.Errorf("after freeing the kept tensor: %d live handles more than before", got)
			}
		})
	}
}

// TestScopePanic fails the n-th operation of nested scopes for every n: each failure is a panic
// that names the operation, and the scopes' deferred Free leaves no handle behind.
func TestScopePanic(t *testing.T) {
	work := func() T {
		s := NewScope()
		defer s.Free()
		x := ones(s, 3)
		for i := 0; i < 3; i++ {
			x = s.Update(x, func(c *Scope, x T) T { return add(c, add(c, x, ones(c, 3)), x) })
		}
		return s.Keep(x)
	}
	before := Live()
	const ops = 1 + 3*3
	for n := int64(1); n <= ops; n++ {
		func() {
			defer func() {
				r := recover()
				err, _ := r.(error)
				if err == nil || !strings.Contains(err.Error(), "injected") {
					t.Errorf("failing op %d: recovered %v, want the injected failure", n, r)
				}
			}()
			FailAfter(n)
			defer FailAfter(0)
			work().Free()
		}()
		if got := Live() - before; got != 0 {
			t.Errorf("failing op %d of %d: %d live handles left", n, ops, got)
		}
	}
	x := work() // the hook is off again
	defer x.Free()
	if got := sum1(x); got != 45 {
		t.Errorf("work() sums to %v, want 45", got)
	}
}

func TestKeepForeign(t *testing.T) {
	s, other := NewScope(), NewScope()
	defer s.Free()
	defer other.Free()
	x := ones(other, 1)
	defer func() {
		if recover() == nil {
			t.Errorf("Keep of another scope's tensor did not panic")
		}
	}()
	s.Keep(x)
}
