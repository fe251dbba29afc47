package inference

import (
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"
	"github.com/sugarme/gotch/ts"
	"golang.org/x/sys/cpu"

	"github.com/captune/captune/internal/torchx"
	"github.com/captune/captune/internal/tx"
)

// Precision is the arithmetic a model computes in. Weights, gradients and optimizer state stay in
// float32 in both; BF16 runs matrix products and convolutions in bfloat16 through libtorch's
// autocast (the same rules as Python's torch.autocast(dtype=torch.bfloat16): softmax, layer norm
// and the loss stay in float32, and a bfloat16 result added to the float32 residual stream is
// float32 again). Autocast is reached through internal/torchx rather than by casting in each
// layer, so the layers read the same in both precisions.
type Precision int

const (
	FP32 Precision = iota
	BF16
)

// ParsePrecision reads --precision: "fp32" or "bf16" ("" is fp32).
func ParsePrecision(s string) (Precision, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "fp32", "float32":
		return FP32, nil
	case "bf16", "bfloat16":
		return BF16, nil
	}
	return FP32, fmt.Errorf("precision %q: want fp32 or bf16", s)
}

func (p Precision) String() string {
	if p == BF16 {
		return "bf16"
	}
	return "fp32"
}

// CheckPrecision says whether device computes in p at a useful speed: bfloat16 on a CPU needs
// AVX512-BF16 or AMX-BF16 (elsewhere libtorch emulates it, slower than float32); on CUDA a small
// bfloat16 product must run. The error says why and that float32 is used instead.
func CheckPrecision(p Precision, device gotch.Device) error {
	if p != BF16 {
		return nil
	}
	if device.IsCuda() {
		if err := probeBF16(device); err != nil {
			return fmt.Errorf("bf16 is not available on %s (%v); computing in fp32", DeviceName(device), err)
		}
		return nil
	}
	if !cpuHasBF16 {
		return fmt.Errorf("this CPU has no bfloat16 instructions (AVX512-BF16 or AMX-BF16), where bf16 would be slower than fp32; computing in fp32")
	}
	return nil
}

// cpuHasBF16 says whether the CPU multiplies bfloat16 natively (a variable for tests).
var cpuHasBF16 = cpu.X86.HasAVX512BF16 || cpu.X86.HasAMXBF16

func probeBF16(device gotch.Device) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	a, err := ts.Ones([]int64{2, 2}, gotch.BFloat16, device)
	if err != nil {
		return err
	}
	defer a.MustDrop()
	y, err := a.Mm(a, false)
	if err != nil {
		return err
	}
	y.MustDrop()
	return nil
}

// lowPrecision enters the model's precision for the calling goroutine, holding its OS thread (the
// autocast state is a thread-local of libtorch's), and returns the function that leaves it. In
// FP32 it does nothing. Regions nest.
func (m *Model) lowPrecision() (leave func()) {
	if m.Precision != BF16 {
		return func() {}
	}
	runtime.LockOSThread()
	restore := torchx.AutocastBF16(m.Device.IsCuda())
	return func() {
		restore()
		runtime.UnlockOSThread()
	}
}

// toFloat32 returns x in float32, made in s when it had to convert (logits leave a bfloat16 region
// in float32 so that log-softmax, the loss and the host copy see full precision).
func toFloat32(s *tx.Scope, x T) T {
	if lib.AtScalarType(x.C) == gotch.Float.CInt() {
		return x
	}
	return toFloat(s, x)
}

// SetInferencePrecision sets the precision of a model that only captions from now on. In BF16 its
// matrices (the float32 weights of two or more dimensions: linear, convolution and embedding
// tables) are converted to bfloat16 once, which halves their memory and spares autocast from
// casting them again at every decoding step; norms and biases stay float32. Do not train a model
// converted so: its matrices no longer hold the float32 master weights.
func (m *Model) SetInferencePrecision(p Precision) error {
	m.Precision = p
	if p != BF16 {
		return nil
	}
	float, bf16 := gotch.Float.CInt(), gotch.BFloat16.CInt()
	for name, v := range m.VS.Variables() {
		c := lib.Ctensor(v.Ctensor())
		if lib.AtScalarType(c) != float || len(v.MustSize()) < 2 {
			continue
		}
		if err := torchx.SetDType(unsafe.Pointer(c), bf16); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}
