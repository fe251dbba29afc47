package finetune

import (
	"fmt"
	"math"
	"sort"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/inference/safetensors"
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

// NewAdamW creates the optimizer over params, sorted by name.
func NewAdamW(params []NamedParam, lr, beta1, beta2, eps, weightDecay float64) *AdamW {
	ps := append([]NamedParam(nil), params...)
	sort.Slice(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
	return &AdamW{Params: ps, LR: lr, Beta1: beta1, Beta2: beta2, Eps: eps, WeightDecay: weightDecay,
		expAvg: map[string]*ts.Tensor{}, expAvgSq: map[string]*ts.Tensor{}}
}

// ZeroGrad clears the gradients of every parameter.
func (o *AdamW) ZeroGrad() {
	for _, p := range o.Params {
		p.Tensor.ZeroGrad()
	}
}

// ClipGradNorm scales gradients so that their global 2-norm is at most maxNorm, as
// torch.nn.utils.clip_grad_norm_ does, and returns the norm before clipping.
func (o *AdamW) ClipGradNorm(maxNorm float64) float64 {
	var sq float64
	var grads []*ts.Tensor
	for _, p := range o.Params {
		g := p.Tensor.MustGrad(false)
		if !g.MustDefined() {
			g.MustDrop()
			continue
		}
		n := g.MustNorm(false).Float64Values(true)[0]
		sq += n * n
		grads = append(grads, g)
	}
	total := math.Sqrt(sq)
	if maxNorm > 0 {
		coef := maxNorm / (total + 1e-6)
		if coef < 1 {
			for _, g := range grads {
				g.MustMulScalar_(ts.FloatScalar(coef))
			}
		}
	}
	for _, g := range grads {
		g.MustDrop()
	}
	return total
}

// StepOnce applies one update with the current LR to every parameter that has a gradient.
func (o *AdamW) StepOnce() {
	o.Step++
	ng := ts.NewNoGradGuard()
	defer ng.Drop()
	bc1 := 1 - math.Pow(o.Beta1, float64(o.Step))
	bc2 := 1 - math.Pow(o.Beta2, float64(o.Step))
	stepSize := o.LR / bc1
	bc2Sqrt := math.Sqrt(bc2)
	for _, p := range o.Params {
		g := p.Tensor.MustGrad(false)
		if !g.MustDefined() {
			g.MustDrop()
			continue
		}
		m, ok := o.expAvg[p.Name]
		if !ok {
			m = p.Tensor.MustZerosLike(false)
			o.expAvg[p.Name] = m
			o.expAvgSq[p.Name] = p.Tensor.MustZerosLike(false)
		}
		v := o.expAvgSq[p.Name]
		if o.WeightDecay != 0 {
			p.Tensor.MustMulScalar_(ts.FloatScalar(1 - o.LR*o.WeightDecay))
		}
		m.MustLerp_(g, ts.FloatScalar(1-o.Beta1))
		g2 := g.MustMul(g, false).MustMulScalar(ts.FloatScalar(1-o.Beta2), true)
		v.MustMulScalar_(ts.FloatScalar(o.Beta2))
		v.MustAdd_(g2)
		g2.MustDrop()
		denom := v.MustSqrt(false).MustDivScalar(ts.FloatScalar(bc2Sqrt), true).MustAddScalar(ts.FloatScalar(o.Eps), true)
		upd := m.MustDiv(denom, false).MustMulScalar(ts.FloatScalar(-stepSize), true)
		p.Tensor.MustAdd_(upd)
		upd.MustDrop()
		denom.MustDrop()
		g.MustDrop()
	}
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
