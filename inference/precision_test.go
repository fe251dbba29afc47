package inference

import (
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

func TestParsePrecision(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Precision
		ok   bool
	}{{"", FP32, true}, {"fp32", FP32, true}, {"BF16", BF16, true}, {"bfloat16", BF16, true}, {"fp16", FP32, false}} {
		got, err := ParsePrecision(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("ParsePrecision(%q) = %v, %v", tc.in, got, err)
		}
	}
}

// A CPU without bfloat16 instructions is told so (and computes in fp32); fp32 is always fine.
func TestCheckPrecisionCPU(t *testing.T) {
	old := cpuHasBF16
	t.Cleanup(func() { cpuHasBF16 = old })
	cpuHasBF16 = false
	if err := CheckPrecision(BF16, gotch.CPU); err == nil || !strings.Contains(err.Error(), "computing in fp32") {
		t.Errorf("CheckPrecision(bf16) without the instructions = %v", err)
	}
	if err := CheckPrecision(FP32, gotch.CPU); err != nil {
		t.Errorf("CheckPrecision(fp32) = %v", err)
	}
	cpuHasBF16 = true
	if err := CheckPrecision(BF16, gotch.CPU); err != nil {
		t.Errorf("CheckPrecision(bf16) with the instructions = %v", err)
	}
}

// In bf16 the logits stay close to fp32's and come out in float32; SetInferencePrecision stores
// the matrices in bfloat16 and leaves the norms and biases in float32.
func TestBF16Logits(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	m := loadTestModel(t, "tiny-a")
	defer m.Free()
	size := m.Config.Vision.ImageSize
	pix := ts.MustRandn([]int64{2, 3, size, size}, gotch.Float, gotch.CPU)
	defer pix.MustDrop()
	ids := ts.MustOfSlice([]int64{m.Config.Text.BosTokenID, 1010, 1011, 1012, 1013, m.Config.Text.BosTokenID, 1020, 1021, 1022, 1023}).MustView([]int64{2, 5}, true)
	defer ids.MustDrop()
	ng := ts.NewNoGradGuard()
	defer ng.Drop()
	logits := func() []float64 {
		l := m.Logits(pix, ids, nil)
		defer l.MustDrop()
		if l.DType() != gotch.Float {
			t.Errorf("logits in %v, want float32", l.DType())
		}
		return l.Float64Values(false)
	}
	ref := logits()
	if err := m.SetInferencePrecision(BF16); err != nil {
		t.Fatal(err)
	}
	got := logits()
	var maxDiff, maxAbs float64
	for i := range ref {
		maxDiff = math.Max(maxDiff, math.Abs(got[i]-ref[i]))
		maxAbs = math.Max(maxAbs, math.Abs(ref[i]))
	}
	t.Logf("bf16 logits: max abs difference %.4g (logits up to %.3g)", maxDiff, maxAbs)
	if maxDiff == 0 || maxDiff > 0.05*maxAbs {
		t.Errorf("bf16 logits differ from fp32 by %.4g (logits up to %.3g): want a bfloat16 rounding, not 0 nor more than 5 %%", maxDiff, maxAbs)
	}
	for name, v := range m.VS.Variables() {
		want := gotch.Float
		if len(v.MustSize()) >= 2 {
			want = gotch.BFloat16
		}
		if v.DType() != want {
			t.Errorf("%s %v: dtype %v, want %v", name, v.MustSize(), v.DType(), want)
		}
	}
}
