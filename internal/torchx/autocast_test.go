package torchx

import (
	"runtime"
	"testing"

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
