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
func (l *Linear) Forward(x T) T { return linear(x, W(l.Weight), W(l.Bias)) }

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
func (l *LayerNorm) Forward(x T) T { return layerNorm(x, l.dim, W(l.Weight), W(l.Bias), l.Eps) }

// activations maps config.json's hidden_act to its function. Each frees its input.
var activations = map[string]func(x T) T{
	"gelu":              func(x T) T { defer x.Free(); return gelu(x, "none") },
	"gelu_new":          func(x T) T { defer x.Free(); return gelu(x, "tanh") },
	"gelu_pytorch_tanh": func(x T) T { defer x.Free(); return gelu(x, "tanh") },
	"relu":              func(x T) T { defer x.Free(); return relu(x) },
	"quick_gelu": func(x T) T {
		a := mulScalar(x, 1.702)
		s := sigmoid(a)
		out := mul(x, s)
		free(x, a, s)
		return out
	},
}

func activation(name string) (func(T) T, error) {
	f, ok := activations[name]
	if !ok {
		return nil, fmt.Errorf("unsupported hidden_act %q", name)
	}
	return f, nil
}

// splitHeads reshapes [B, T, H·D] to [B, H, T, D], freeing x.
func splitHeads(x T, heads int64) T {
	s := x.Shape()
	v := view(x, s[0], s[1], heads, s[2]/heads)
	out := transpose(v, 1, 2)
	free(x, v)
	return out
}

// mergeHeads reshapes [B, H, T, D] to [B, T, H·D], freeing x.
func mergeHeads(x T) T {
	s := x.Shape()
	t := transpose(x, 1, 2)
	out := reshape(t, s[0], s[2], s[1]*s[3])
	free(x, t)
	return out
}

// attention computes softmax(q·kᵀ·scale + mask)·v as transformers' BLIP modules do, for q [B, H, Tq, D]
// and k, v [B, H, Tk, D]; mask is nil or an additive float mask broadcastable to [B, H, Tq, Tk].
// (gotch cannot pass "no mask" to libtorch's scaled_dot_product_attention: its optional argument
// arrives as an undefined tensor, which libtorch 2.1 rejects, and on the CPU libtorch 2.1 runs the
// same math anyway.)
func attention(q, k, v T, mask *T, scale float64) T {
	kt := transpose(k, -1, -2)
	raw := matmul(q, kt)
	s := mulScalar(raw, scale)
	free(kt, raw)
	if mask != nil {
		m := add(s, *mask)
		s.Free()
		s = m
	}
	p := softmax(s, -1)
	out := matmul(p, v)
	free(s, p)
	return out
}

// maskMin is the additive value transformers uses for masked positions: the lowest float32.
const maskMin = -3.4028234663852886e38

// causalMask returns an additive mask [T, T]: 0 where position i may see j <= i, maskMin elsewhere.
func causalMask(t int64, device gotch.Device) T {
	ones := ts.MustOnes([]int64{t, t}, gotch.Float, device)
	tri := ones.MustTril(0, true)
	return additiveMask(W(tri), tri)
}

// additiveMask turns a float 0/1 "may attend" mask into 0 / maskMin, freeing owner.
func additiveMask(allowed T, owner *ts.Tensor) T {
	inv := rsubScalar(allowed, 1)
	out := mulScalar(inv, maskMin)
	inv.Free()
	owner.MustDrop()
	return out
}
