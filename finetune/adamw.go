package finetune

import (
	lib "github.com/sugarme/gotch/libtch"
	"unsafe"

	"fmt"
	"github.com/captune/captune/internal/tx"
	"math"
	"sort"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/inference/safetensors"
	"github.com/captune/captune/internal/torchx"
)

// AdamW is torch.optim.AdamW (decoupled weight decay, no amsgrad) over named parameters, written
// with libtorch tensor ops. Captune keeps its own rather than gotch's nn.Optimizer because gotch's
// wraps a C++ optimizer whose moment estimates cannot be read or written from Go, and a checkpoint
// that cannot hold them cannot resume to the same result.
type AdamW struct {
	Params                []NamedParam
	LR, Beta1, Beta2, Eps float64
	WeightDecay           float64
	Step                  int64
	expAvg, expAvgSq      map[string]*ts.Tensor
}

// NamedParam is a trainable tensor and its Hugging Face key.
type NamedParam struct {
	Name   string
	Tensor *ts.Tensor
}

// NewAdamW creates the optimizer over params, sorted by name, and makes the process return freed
// tensor memory to the system at once (torchx.LimitHeapRetention). A parameter whose data is still read
// from a memory-mapped checkpoint (inference.OpenWeights) gets its own copy first, since the
// optimizer writes parameters in place; it panics if libtorch cannot allocate that copy (finetune.Run
// turns the panic into an error).
func NewAdamW(params []NamedParam, lr, beta1, beta2, eps, weightDecay float64) *AdamW {
	ps := append([]NamedParam(nil), params...)
	sort.Slice(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
	// Memory freed between steps (a model's worth of gradients, activations) must leave the
	// process, or the next step's peak stacks on top of it (see torchx.LimitHeapRetention). That
	// costs page faults on every large allocation; with few parameters (LoRA adapters) there are no
	// large gradients to give back, and the heap's speed wins.
	if paramBytes(ps) >= heapRetentionMinParams {
		torchx.LimitHeapRetention()
	}
	for _, p := range ps {
		if torchx.SharesMapping(p.Tensor.Ctensor()) {
			if err := torchx.OwnData(p.Tensor.Ctensor()); err != nil {
				panic(fmt.Errorf("optimizer: parameter %s: %w", p.Name, err))
			}
		}
	}
	return &AdamW{Params: ps, LR: lr, Beta1: beta1, Beta2: beta2, Eps: eps, WeightDecay: weightDecay,
		expAvg: map[string]*ts.Tensor{}, expAvgSq: map[string]*ts.Tensor{}}
}

// heapRetentionMinParams is the parameter size from which training returns freed memory to the
// system at once: the gradients of 64 MiB of parameters are worth a page fault per allocation.
const heapRetentionMinParams = 64 << 20

// paramBytes is the size of the parameters' data.
func paramBytes(ps []NamedParam) int64 {
	var n int64
	for _, p := range ps {
		n += int64(p.Tensor.Numel()) * int64(p.Tensor.DType().Size())
	}
	return n
}

// ZeroGrad drops the gradients of every parameter, as torch.optim's zero_grad() does by default
// (set_to_none): a model's worth of gradient buffers is freed before the next forward pass builds
// its activations, and backward allocates each gradient when it first reaches its parameter.
func (o *AdamW) ZeroGrad() {
	for _, p := range o.Params {
		torchx.ClearGrad(p.Tensor.Ctensor())
	}
}

// grad returns a handle to a parameter's gradient (possibly undefined); free it.
func grad(p *ts.Tensor) tx.T {
	w := tx.W(p)
	return tx.Call("grad", func(r *lib.Ctensor) { lib.AtgGrad(r, w.C) })
}

// ClipGradNorm scales gradients so that their global 2-norm is at most maxNorm, as
// torch.nn.utils.clip_grad_norm_ does, and returns the norm before clipping.
func (o *AdamW) ClipGradNorm(maxNorm float64) float64 {
	var sq float64
	var grads []tx.T
	for _, p := range o.Params {
		g := grad(p.Tensor)
		if !lib.AtDefined(g.C) {
			g.Free()
			continue
		}
		n := tx.Call("norm", func(r *lib.Ctensor) { lib.AtgNorm(r, g.C) })
		if lib.AtDevice(n.C) != -1 { // read the norm on the CPU
			onCPU := tx.Call("to", func(r *lib.Ctensor) { lib.AtgTo(r, n.C, -1) })
			n.Free()
			n = onCPU
		}
		v := make([]float32, 1)
		lib.AtCopyData(n.C, unsafe.Pointer(&v[0]), 1, 4)
		tx.Check("copy")
		n.Free()
		sq += float64(v[0]) * float64(v[0])
		grads = append(grads, g)
	}
	total := math.Sqrt(sq)
	if coef := maxNorm / (total + 1e-6); maxNorm > 0 && coef < 1 {
		for _, g := range grads {
			tx.ScalarOp("mul_", coef, func(r *lib.Ctensor, s lib.Cscalar) { lib.AtgMulScalar_(r, g.C, s) }).Free()
		}
	}
	tx.Free(grads...)
	return total
}

// StepOnce applies one update with the current LR to every parameter that has a gradient, as
// torch.optim.AdamW's single-tensor path does. It calls libtorch directly (package tx): a step
// touches every parameter a dozen times, and gotch's wrappers leak a little C memory per call.
func (o *AdamW) StepOnce() {
	o.Step++
	ng := ts.NewNoGradGuard()
	defer ng.Drop()
	bc1 := 1 - math.Pow(o.Beta1, float64(o.Step))
	bc2 := 1 - math.Pow(o.Beta2, float64(o.Step))
	stepSize := o.LR / bc1
	bc2Sqrt := math.Sqrt(bc2)
	for _, p := range o.Params {
		w := tx.W(p.Tensor)
		g := grad(p.Tensor)
		if !lib.AtDefined(g.C) {
			g.Free()
			continue
		}
		m, ok := o.expAvg[p.Name]
		if !ok {
			m = p.Tensor.MustZerosLike(false)
			o.expAvg[p.Name] = m
			o.expAvgSq[p.Name] = p.Tensor.MustZerosLike(false)
		}
		mt, vt := tx.W(m), tx.W(o.expAvgSq[p.Name])
		o.update(w, g, mt, vt, stepSize, bc2Sqrt)
		g.Free()
	}
}

// update applies one AdamW step to one parameter w with gradient g and moments mt, vt, in place,
// as torch.optim.AdamW's single-tensor path does. At most one temporary of the parameter's size is alive at a time (a step over the
// 30,524 × 768 word embeddings used to hold seven, 650 MB at once).
func (o *AdamW) update(w, g, mt, vt tx.T, stepSize, bc2Sqrt float64) {
	if o.WeightDecay != 0 {
		tx.ScalarOp("mul_", 1-o.LR*o.WeightDecay, func(r *lib.Ctensor, s lib.Cscalar) { lib.AtgMulScalar_(r, w.C, s) }).Free()
	}
	// exp_avg.lerp_(grad, 1 - beta1)
	tx.ScalarOp("lerp_", 1-o.Beta1, func(r *lib.Ctensor, s lib.Cscalar) { lib.AtgLerp_(r, mt.C, g.C, s) }).Free()
	// exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2); addcmul computes
	// self + (value · t1) · t2, and libtorch's C API has no value argument, so t1 is value · grad.
	tx.ScalarOp("mul_", o.Beta2, func(r *lib.Ctensor, s lib.Cscalar) { lib.AtgMulScalar_(r, vt.C, s) }).Free()
	gs := tx.ScalarOp("mul", 1-o.Beta2, func(r *lib.Ctensor, s lib.Cscalar) { lib.AtgMulScalar(r, g.C, s) })
	tx.Call("addcmul_", func(r *lib.Ctensor) { lib.AtgAddcmul_(r, vt.C, gs.C, g.C) }).Free()
	gs.Free()
	// denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
	d := tx.Call("sqrt", func(r *lib.Ctensor) { lib.AtgSqrt(r, vt.C) })
	defer d.Free()
	tx.ScalarOp("div_", bc2Sqrt, func(r *lib.Ctensor, s lib.Cscalar) { lib.AtgDivScalar_(r, d.C, s) }).Free()
	tx.ScalarOp("add_", o.Eps, func(r *lib.Ctensor, s lib.Cscalar) { lib.AtgAddScalar_(r, d.C, s) }).Free()
	// param.addcdiv_(exp_avg, denom, value=-step_size), with the quotient written over denom: torch
	// computes (value · exp_avg) / denom, this (exp_avg / denom) · value, which can differ in the
	// last bit of the update and saves a second temporary.
	tx.Call("div_out", func(r *lib.Ctensor) { lib.AtgDivOut(r, d.C, mt.C, d.C) }).Free()
	tx.ScalarOp("mul_", -stepSize, func(r *lib.Ctensor, s lib.Cscalar) { lib.AtgMulScalar_(r, d.C, s) }).Free()
	tx.Call("add_", func(r *lib.Ctensor) { lib.AtgAdd_(r, w.C, d.C) }).Free()
}

// State returns the moment estimates by "exp_avg.KEY" / "exp_avg_sq.KEY", for a checkpoint.
func (o *AdamW) State() []safetensors.Named {
	var out []safetensors.Named
	for _, p := range o.Params {
		if m, ok := o.expAvg[p.Name]; ok {
			out = append(out, safetensors.Named{Name: "exp_avg." + p.Name, Tensor: m},
				safetensors.Named{Name: "exp_avg_sq." + p.Name, Tensor: o.expAvgSq[p.Name]})
		}
	}
	return out
}

// LoadState restores moment estimates written by State and the step count.
func (o *AdamW) LoadState(f *safetensors.File, step int64, device gotch.Device) error {
	o.Free()
	o.expAvg, o.expAvgSq = map[string]*ts.Tensor{}, map[string]*ts.Tensor{}
	for _, p := range o.Params {
		for _, kind := range []string{"exp_avg", "exp_avg_sq"} {
			name := kind + "." + p.Name
			if _, ok := f.Info(name); !ok {
				continue
			}
			t, err := f.Tensor(name)
			if err != nil {
				return err
			}
			if !sameShape(t.MustSize(), p.Tensor.MustSize()) {
				t.MustDrop()
				return fmt.Errorf("optimizer state %s has shape %v, parameter has %v", name, t.MustSize(), p.Tensor.MustSize())
			}
			if device != gotch.CPU {
				t = t.MustTo(device, true)
			}
			if kind == "exp_avg" {
				o.expAvg[p.Name] = t
			} else {
				o.expAvgSq[p.Name] = t
			}
		}
	}
	o.Step = step
	return nil
}

// Free releases the moment estimates.
func (o *AdamW) Free() {
	for _, m := range []map[string]*ts.Tensor{o.expAvg, o.expAvgSq} {
		for k, t := range m {
			t.MustDrop()
			delete(m, k)
		}
	}
}

func sameShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
