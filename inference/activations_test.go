package inference

import (
	"math"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/internal/tx"
)

// Every hidden_act config.json may name computes what transformers' ACT2FN defines for it.
func TestActivationsMatchTransformers(t *testing.T) {
	tanhGELU := func(x float64) float64 {
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
	}
	sigmoidF := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	want := map[string]func(float64) float64{
		"gelu":              func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) },
		"gelu_python":       func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) },
		"gelu_new":          tanhGELU,
		"gelu_fast":         tanhGELU,
		"gelu_accurate":     tanhGELU,
		"gelu_pytorch_tanh": tanhGELU,
		"relu":              func(x float64) float64 { return math.Max(x, 0) },
		"relu6":             func(x float64) float64 { return math.Min(math.Max(x, 0), 6) },
		"quick_gelu":        func(x float64) float64 { return x * sigmoidF(1.702*x) },
		"silu":              func(x float64) float64 { return x * sigmoidF(x) },
		"swish":             func(x float64) float64 { return x * sigmoidF(x) },
		"mish":              func(x float64) float64 { return x * math.Tanh(math.Log1p(math.Exp(x))) },
		"sigmoid":           sigmoidF,
		"tanh":              math.Tanh,
	}
	if len(want) != len(activations) {
		t.Fatalf("%d activations, %d with a reference here", len(activations), len(want))
	}
	xs := []float64{-8, -3, -1.5, -0.5, -0.01, 0, 0.01, 0.5, 1.5, 3, 7.5}
	in := make([]float32, len(xs))
	for i, x := range xs {
		in[i] = float32(x)
	}
	x := ts.MustOfSlice(in).MustTotype(gotch.Float, true)
	defer x.MustDrop()
	for name, ref := range want {
		t.Run(name, func(t *testing.T) {
			f, err := activationOf(name)
			if err != nil {
				t.Fatal(err)
			}
			s := tx.NewScope()
			defer s.Free()
			y := s.Keep(f(s, W(x))).TS()
			defer y.MustDrop()
			got := y.Float64Values()
			for i, v := range xs {
				if d := math.Abs(got[i] - ref(v)); d > 2e-6*math.Max(1, math.Abs(ref(v))) {
					t.Errorf("%s(%g) = %.8g, want %.8g", name, v, got[i], ref(v))
				}
			}
		})
	}
}
