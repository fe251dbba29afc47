package inference

import (
	"fmt"

	"github.com/sugarme/gotch"

	"github.com/sugarme/gotch/ts"
)

// Linear is y = x·Wᵀ + b with Hugging Face's "weight" [out, in] and "bias" [out].
type Linear struct {
	Weight, Bias *ts.Tensor
}

func newLinear(b *builder, p kp, in, out int64) *Linear {
	return &Linear{
		Weight: b.param(p, "weight", []int64{out, in}, initNormal),
		Bias:   b.param(p, "bias", []int64{out}, initZeros),
	}
}

// Forward applies the layer; x is not freed.
func (l *Linear) Forward(x *ts.Tensor) *ts.Tensor {
	return ts.MustLinear(x, l.Weight, l.Bias)
}

// LayerNorm normalises the last dimension with "weight" and "bias".
type LayerNorm struct {
	Weight, Bias *ts.Tensor
	Eps          float64
	dim          int64
}

func newLayerNorm(b *builder, p kp, dim int64, eps float64) *LayerNorm {
	return &LayerNorm{
		Weight: b.param(p, "weight", []int64{dim}, initOnes),
		Bias:   b.param(p, "bias", []int64{dim}, initZeros),
		Eps:    eps, dim: dim,
	}
}

// Forward applies the layer; x is not freed.
func (l *LayerNorm) Forward(x *ts.Tensor) *ts.Tensor {
	return ts.MustLayerNorm(x, []int64{l.dim}, l.Weight, l.Bias, l.Eps, true)
}

// activations maps config.json's hidden_act to its function. Each frees its input.
var activations = map[string]func(x *ts.Tensor) *ts.Tensor{
	"gelu":              func(x *ts.Tensor) *ts.Tensor { return x.MustGelu("none", true) },
	"gelu_new":          func(x *ts.Tensor) *ts.Tensor { return x.MustGelu("tanh", true) },
	"gelu_pytorch_tanh": func(x *ts.Tensor) *ts.Tensor { return x.MustGelu("tanh", true) },
	"relu":              func(x *ts.Tensor) *ts.Tensor { return x.MustRelu(true) },
	"quick_gelu": func(x *ts.Tensor) *ts.Tensor {
		s := x.MustMulScalar(ts.FloatScalar(1.702), false).MustSigmoid(true)
		return x.MustMul(s, true)
	},
}

func activation(name string) (func(*ts.Tensor) *ts.Tensor, error) {
	f, ok := activations[name]
	if !ok {
		return nil, fmt.Errorf("unsupported hidden_act %q", name)
	}
	return f, nil
}

// splitHeads reshapes [B, T, H·D] to [B, H, T, D], freeing x.
func splitHeads(x *ts.Tensor, heads int64) *ts.Tensor {
	s := x.MustSize()
	v := x.MustView([]int64{s[0], s[1], heads, s[2] / heads}, true)
	return v.MustTranspose(1, 2, true)
}

// mergeHeads reshapes [B, H, T, D] to [B, T, H·D], freeing x.
func mergeHeads(x *ts.Tensor) *ts.Tensor {
	s := x.MustSize()
	t := x.MustTranspose(1, 2, true)
	return t.MustReshape([]int64{s[0], s[2], s[1] * s[3]}, true)
}

// attention computes softmax(q·kᵀ·scale + mask)·v as transformers' BLIP modules do, for q [B, H, Tq, D]
// and k, v [B, H, Tk, D]; mask is nil or an additive float mask broadcastable to [B, H, Tq, Tk].
// (gotch cannot pass "no mask" to libtorch's scaled_dot_product_attention: its optional argument
// arrives as an undefined tensor, which libtorch 2.1 rejects, and on the CPU libtorch 2.1 runs the
// same math anyway.)
func attention(q, k, v, mask *ts.Tensor, scale float64) *ts.Tensor {
	kt := k.MustTranspose(-1, -2, false)
	s := q.MustMatmul(kt, false).MustMulScalar(ts.FloatScalar(scale), true)
	kt.MustDrop()
	if mask != nil {
		s = s.MustAdd(mask, true)
	}
	p := s.MustSoftmax(-1, gotch.Float, true)
	out := p.MustMatmul(v, true)
	return out
}

// maskMin is the additive value transformers uses for masked positions: the lowest float32.
const maskMin = -3.4028234663852886e38

// causalMask returns an additive mask [T, T]: 0 where position i may see j <= i, maskMin elsewhere.
func causalMask(t int64, device gotch.Device) *ts.Tensor {
	allowed := ts.MustOnes([]int64{t, t}, gotch.Bool, device).MustTril(0, true)
	return additiveMask(allowed)
}

// additiveMask turns a boolean "may attend" mask into 0 / maskMin floats, freeing it.
func additiveMask(allowed *ts.Tensor) *ts.Tensor {
	f := allowed.MustTotype(gotch.Float, true)
	// (1 - allowed) * min, as transformers' get_extended_attention_mask.
	return f.MustRsubScalar(ts.FloatScalar(1), true).MustMulScalar(ts.FloatScalar(maskMin), true)
}
