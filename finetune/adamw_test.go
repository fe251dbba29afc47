package finetune

import (
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/internal/torchx"
)

// TestAdamWTrainsTwoLayerNet checks the libtorch training path end to end: a VarStore, two Linear
// layers, autograd and gotch's AdamW fit y = sin(3x) + x² closely within a few hundred steps.
func TestAdamWTrainsTwoLayerNet(t *testing.T) {
	torchx.ManualSeed(1)
	vs := nn.NewVarStore(gotch.CPU)
	defer vs.Destroy()
	root := vs.Root()
	l1 := nn.NewLinear(root.Sub("fc1"), 1, 32, nn.DefaultLinearConfig())
	l2 := nn.NewLinear(root.Sub("fc2"), 32, 1, nn.DefaultLinearConfig())
	opt, err := nn.NewAdamWConfig(0.9, 0.999, 0.01).Build(vs, 1e-2)
	if err != nil {
		t.Fatal(err)
	}
	x := ts.MustLinspace(ts.FloatScalar(-1), ts.FloatScalar(1), 128, gotch.Float, gotch.CPU).MustView([]int64{128, 1}, true)
	defer x.MustDrop()
	s := x.MustMulScalar(ts.FloatScalar(3), false).MustSin(true)
	y := s.MustAdd(x.MustSquare(false), true)
	defer y.MustDrop()

	var first, last float64
	for step := 0; step < 1000; step++ {
		h := l1.Forward(x).MustTanh(true)
		pred := l2.Forward(h)
		h.MustDrop()
		loss := pred.MustMseLoss(y, 1, true)
		if err := opt.BackwardStep(loss); err != nil {
			t.Fatal(err)
		}
		v := loss.Float64Values(true)[0]
		if step == 0 {
			first = v
		}
		last = v
	}
	t.Logf("mse: step 0 %.4f, step 999 %.5f", first, last)
	if last > 0.005 || last > first/20 {
		t.Errorf("loss fell from %.4f to only %.5f, want < 0.005", first, last)
	}
}
