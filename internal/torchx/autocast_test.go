package torchx

import (
	"runtime"
	"testing"
	"unsafe"

	"github.com/sugarme/gotch"
	ts "github.com/sugarme/gotch/ts"
)

// Under AutocastBF16 a matrix product computes in bfloat16 and a softmax stays in float32; the
// returned function restores float32, also when regions nest.
func TestAutocastBF16(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	a := ts.MustOnes([]int64{4, 8}, gotch.Float, gotch.CPU)
	defer a.MustDrop()
	at := a.MustT(false)
	defer at.MustDrop()
	mm := func() gotch.DType {
		y := a.MustMm(at, false)
		defer y.MustDrop()
		return y.DType()
	}
	if AutocastEnabled(false) || mm() != gotch.Float {
		t.Fatal("autocast on before any region")
	}
	outer := AutocastBF16(false)
	inner := AutocastBF16(false)
	if got := mm(); got != gotch.BFloat16 {
		t.Errorf("mm under autocast: %v, want BFloat16", got)
	}
	sm := a.MustSoftmax(-1, gotch.Float, false)
	if sm.DType() != gotch.Float {
		t.Errorf("softmax under autocast: %v, want Float", sm.DType())
	}
	sm.MustDrop()
	inner()
	if !AutocastEnabled(false) || mm() != gotch.BFloat16 {
		t.Error("leaving the inner region switched autocast off")
	}
	outer()
	if AutocastEnabled(false) || mm() != gotch.Float {
		t.Error("autocast still on after the outermost region")
	}
}

// SetDType converts a tensor in place, keeping its handle and values.
func TestSetDType(t *testing.T) {
	a := ts.MustOnes([]int64{3, 2}, gotch.Float, gotch.CPU)
	defer a.MustDrop()
	if err := SetDType(unsafe.Pointer(a.Ctensor()), gotch.BFloat16.CInt()); err != nil {
		t.Fatal(err)
	}
	if got := a.DType(); got != gotch.BFloat16 {
		t.Errorf("dtype after SetDType: %v", got)
	}
	if got := a.Float64Values(false); len(got) != 6 || got[0] != 1 {
		t.Errorf("values after SetDType: %v", got)
	}
}
