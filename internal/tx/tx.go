// Package tx is a bare libtorch tensor handle for hot loops, beside gotch's *ts.Tensor, and the
// Scope that owns such handles so that model code never frees one by hand.
package tx

import (
	"fmt"
	"unsafe"

	lib "github.com/sugarme/gotch/libtch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/internal/torchx"
)

// T is a bare libtorch tensor handle for the model's hot paths. gotch's *ts.Tensor costs a 100 KB
// Go allocation, a global map entry and a finalizer per operation, and its generated wrappers leak
// a small C allocation per call (measured: ~75 bytes and ~6× the time of the libtorch call
// itself); a decoder step runs hundreds of operations, so the model code calls libtorch directly.
// Intermediates belong to a Scope, which frees them; weights stay *ts.Tensor in the VarStore (see W).
//
// Operations panic on a libtorch error: shapes are validated when the model is built, so an error
// here is a programming error; Engine and finetune.Run turn panics into errors.
type T struct{ C lib.Ctensor }

// W borrows a gotch tensor (a weight) as a T; never Free it.
func W(t *ts.Tensor) T { return T{C: lib.Ctensor(t.Ctensor())} }

// Free releases the handle (the storage goes when its last user does). Never Free a tensor a Scope
// owns: the scope frees it.
func (t T) Free() {
	if t.C != nil {
		lib.AtFree(t.C)
		live.Add(-1)
	}
}

// TS hands the handle over to gotch, which then owns (and eventually frees) it. Only a tensor that
// no Scope owns (one Kept) may be handed over.
func (t T) TS() *ts.Tensor {
	live.Add(-1)
	return ts.New(t.C)
}

// Check panics with libtorch's last error, if any, naming op.
func Check(op string) {
	if msg := lastError(); msg != "" {
		panic(fmt.Errorf("%s: %s", op, firstLine(msg)))
	}
}

func lastError() string { return torchx.CString(unsafe.Pointer(lib.GetAndResetLastErr())) }

func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}

// Call runs a libtorch function that writes its result handle, and checks for an error. The caller
// owns the result; Scope.Call records it in a scope instead.
func Call(op string, f func(*lib.Ctensor)) T {
	if failIn.Load() > 0 && failIn.Add(-1) == 0 {
		panic(fmt.Errorf("%s: %w", op, errInjected))
	}
	var c lib.Ctensor
	f(&c)
	if msg := lastError(); msg != "" {
		if c != nil {
			lib.AtFree(c)
		}
		panic(fmt.Errorf("%s: %s", op, firstLine(msg)))
	}
	if c != nil {
		live.Add(1)
	}
	return T{C: c}
}

// ScalarOp is Call for functions taking one scalar argument.
func ScalarOp(op string, v float64, f func(*lib.Ctensor, lib.Cscalar)) T {
	s := lib.AtsFloat(v)
	defer lib.AtsFree(s)
	return Call(op, func(p *lib.Ctensor) { f(p, s) })
}

// Shape returns the tensor's sizes.
func (t T) Shape() []int64 {
	n := lib.AtDim(t.C)
	out := make([]int64, n)
	if n > 0 {
		lib.AtShape(t.C, unsafe.Pointer(&out[0]))
	}
	return out
}

// Free releases several handles.
func Free(ts ...T) {
	for _, t := range ts {
		t.Free()
	}
}
