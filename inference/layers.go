package inference

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/internal/tx"
)

// Linear is y = x·Wᵀ + b with Hugging Face's "weight" [out, in] and "bias" [out].
// A LoRA adapter attached to the layer (Model.AddLora, Model.LoadAdapter) adds its path.
type Linear struct {
	Weight, Bias *ts.Tensor
	lora         *loraAdapter
}

func newLinear(b *builder, p kp, in, out int64) *Linear {
	l := &Linear{
		Weight: b.param(p, "weight", []int64{out, in}, initNormal),
		Bias:   b.param(p, "bias", []int64{out}, initZeros),
	}
	b.linears[string(p)] = l
	return l
}

// Forward applies the layer.
func (l *Linear) Forward(s *tx.Scope, x T) T {
	y := linear(s, x, W(l.Weight), W(l.Bias))
	if l.lora != nil {
		return l.lora.forward(s, x, y)
	}
	return y
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

// Forward applies the layer.
func (l *LayerNorm) Forward(s *tx.Scope, x T) T {
	return layerNorm(s, x, l.dim, W(l.Weight), W(l.Bias), l.Eps)
}

// activation is an elementwise activation function (config.json's hidden_act).
type activation func(s *tx.Scope, x T) T

// activations maps config.json's hidden_act to its function, as transformers' ACT2FN does: the
// tanh approximations of GELU (gelu_new, gelu_fast, gelu_accurate, gelu_pytorch_tanh) differ from
// one another only in float rounding, and gelu_python is the exact one.
var activations = map[string]activation{
	"gelu":              geluExact,
	"gelu_python":       geluExact,
	"gelu_new":          geluTanh,
	"gelu_fast":         geluTanh,
	"gelu_accurate":     geluTanh,
	"gelu_pytorch_tanh": geluTanh,
	"relu":              relu,
	"quick_gelu":        func(s *tx.Scope, x T) T { return mul(s, x, sigmoid(s, mulScalar(s, x, 1.702))) },
	"silu":              silu,
	"swish":             silu,
	"sigmoid":           sigmoid,
	"mish":              mish,
	"relu6":             relu6,
	"tanh":              tanh,
}

func geluExact(s *tx.Scope, x T) T { return gelu(s, x, "none") }
func geluTanh(s *tx.Scope, x T) T  { return gelu(s, x, "tanh") }

// activationNames lists the hidden_act values Captune runs, for messages.
func activationNames() string {
	return strings.Join(slices.Sorted(maps.Keys(activations)), ", ")
}

func activationOf(name string) (activation, error) {
	f, ok := activations[name]
	if !ok {
		return nil, fmt.Errorf("unsupported hidden_act %q", name)
	}
	return f, nil
}

// splitHeads reshapes [B, T, H·D] to [B, H, T, D].
func splitHeads(s *tx.Scope, x T, heads int64) T {
	sh := x.Shape()
	return transpose(s, view(s, x, sh[0], sh[1], heads, sh[2]/heads), 1, 2)
}

// mergeHeads reshapes [B, H, T, D] to [B, T, H·D].
func mergeHeads(s *tx.Scope, x T) T {
	sh := x.Shape()
	return reshape(s, transpose(s, x, 1, 2), sh[0], sh[2], sh[1]*sh[3])
}

// attention computes softmax(q·kᵀ·scale + mask)·v as transformers' BLIP modules do, for q [B, H, Tq, D]
// and k, v [B, H, Tk, D]; mask is nil or an additive float mask broadcastable to [B, H, Tq, Tk].
// (gotch cannot pass "no mask" to libtorch's scaled_dot_product_attention: its optional argument
// arrives as an undefined tensor, which libtorch 2.1 rejects, and on the CPU libtorch 2.1 runs the
// same math anyway.) It runs in a scope of its own, so that the scores [B, H, Tq, Tk], the largest
// intermediate of a layer, are freed when it returns; they are scaled and masked in place, which
// gives the same numbers as new tensors would (autograd needs neither the scores before softmax nor
// the mask).
func attention(s *tx.Scope, q, k, v T, mask *T, scale float64) T {
	return s.Run(func(s *tx.Scope) T {
		scores := mulScalarInPlace(s, matmul(s, q, transpose(s, k, -1, -2)), scale)
		if mask != nil {
			scores = addInPlace(s, scores, *mask)
		}
		return matmul(s, softmax(s, scores, -1), v)
	})
}

// groupedAttention is attention for q [B·beams, H, T, D] against k, v [B, H, N, D], where rows
// i·beams … i·beams+beams-1 of q are the beams of row i of k and v: the beams' queries are stacked
// into one [beams·T] block per row, so keys and values are read once per image rather than copied
// and read once per beam. beams = 1 is plain attention.
func groupedAttention(s *tx.Scope, q, k, v T, mask *T, beams int64, scale float64) T {
	if beams == 1 {
		return attention(s, q, k, v, mask, scale)
	}
	sh := q.Shape() // B·beams, H, T, D
	b, h, t, d := sh[0]/beams, sh[1], sh[2], sh[3]
	stacked := reshape(s, permute(s, reshape(s, q, b, beams, h, t, d), 0, 2, 1, 3, 4), b, h, beams*t, d)
	o := attention(s, stacked, k, v, mask, scale) // B, H, beams·T, D
	return reshape(s, permute(s, reshape(s, o, b, h, beams, t, d), 0, 2, 1, 3, 4), b*beams, h, t, d)
}

// maskMin is the additive value transformers uses for masked positions: the lowest float32.
const maskMin = -3.4028234663852886e38

// causalMask returns an additive mask [T, T]: 0 where position i may see j <= i, maskMin elsewhere.
func causalMask(s *tx.Scope, t int64, device gotch.Device) T {
	return additiveMask(s, tril(s, ones(s, device, t, t), 0))
}

// additiveMask turns a float 0/1 "may attend" mask into 0 / maskMin.
func additiveMask(s *tx.Scope, allowed T) T {
	return mulScalar(s, rsubScalar(s, allowed, 1), maskMin)
}
