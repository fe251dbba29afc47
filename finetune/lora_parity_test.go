package finetune

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/inference"
	"github.com/captune/captune/inference/safetensors"
)

// loraFixtures are written by scripts/make_lora_fixtures.py with peft and torch.optim.AdamW.
const loraFixtures = "../inference/testdata/lora"

// TestLoraStepMatchesPeft takes one training step from peft's adapter on tiny-a as peft and
// torch.optim.AdamW take it (the adapter's tensors only, the original BLIP loss, the fixture's
// learning rate, betas, eps and weight decay): every adapter weight after the step is peft's within
// 1e-6. Elements whose reference gradient is below 1e-6 are rounding noise on both sides, and so is
// Adam's first step on them (±lr): those are only checked to move at most one step.
func TestLoraStepMatchesPeft(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ts.MustGradSetEnabled(true)
	var fx struct {
		AttentionMask [][]int64 `json:"attention_mask"`
		InputIDs      [][]int64 `json:"input_ids"`
		Step          struct {
			Dir         string    `json:"dir"`
			LR          float64   `json:"lr"`
			Betas       []float64 `json:"betas"`
			Eps         float64   `json:"eps"`
			WeightDecay float64   `json:"weight_decay"`
			PromptLen   int       `json:"prompt_len"`
			Loss        float64   `json:"loss"`
		} `json:"train_step"`
	}
	data, err := os.ReadFile(filepath.Join(loraFixtures, "peft-a.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &fx); err != nil {
		t.Fatal(err)
	}
	ref, err := safetensors.Open(filepath.Join(loraFixtures, "peft-a.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()

	capt, _, err := inference.LoadCaptionerWithAdapter(tinyModel, filepath.Join(loraFixtures, "peft-a"), gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer capt.Free()
	m := capt.Model
	params := LoraTrainable(m)
	m.Lora.SetTraining(true)
	opt := NewAdamW(params, fx.Step.LR, fx.Step.Betas[0], fx.Step.Betas[1], fx.Step.Eps, fx.Step.WeightDecay)
	defer opt.Free()

	pv, err := ref.Tensor("pixel_values")
	if err != nil {
		t.Fatal(err)
	}
	defer pv.MustDrop()
	pv2 := pv.MustNarrow(0, 0, 2, false)
	defer pv2.MustDrop()
	b, err := m.PrepareBatch(unpadRows(fx.InputIDs, fx.AttentionMask), fx.Step.PromptLen, inference.RecipeBLIP)
	if err != nil {
		t.Fatal(err)
	}
	loss, err := m.Loss(pv2, b)
	if err != nil {
		t.Fatal(err)
	}
	got := loss.Float64Values()[0]
	if rel := math.Abs(got-fx.Step.Loss) / fx.Step.Loss; rel > 1e-5 {
		t.Errorf("loss %.8f, peft %.8f (relative diff %.3g)", got, fx.Step.Loss, rel)
	}
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	loss.MustDrop()
	opt.StepOnce()
	compareAdapterStep(t, params, ref, filepath.Join(loraFixtures, fx.Step.Dir, inference.AdapterWeightsFile), fx.Step.LR)
}

// compareAdapterStep compares the adapter weights after a step with the reference file, masking
// the elements whose reference gradient (grad.NAME in ref) is rounding noise.
func compareAdapterStep(t *testing.T, params []NamedParam, ref *safetensors.File, afterPath string, lr float64) {
	t.Helper()
	after, err := safetensors.Open(afterPath)
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()
	worst, worstName, noisy := 0.0, "", 0
	for _, p := range params {
		want, err := after.Tensor(p.Name)
		if err != nil {
			t.Fatal(err)
		}
		g, err := ref.Tensor("grad." + p.Name)
		if err != nil {
			t.Fatal(err)
		}
		diff := p.Tensor.MustSub(want, false).MustAbs(true)
		noise := g.MustAbs(false).MustLt(ts.FloatScalar(1e-6), true)
		if c := noise.MustSum(gotch.Int64, false).Int64Values(true)[0]; c > 0 {
			noisy += int(c)
			if d := diff.MustMaskedSelect(noise, false).MustMax(true).Float64Values(true)[0]; d > 2.1*lr {
				t.Errorf("%s: a zero-gradient element moved %.3g, more than one step", p.Name, d)
			}
			diff = diff.MustMaskedFill(noise, ts.FloatScalar(0), true)
		}
		d := diff.MustMax(true).Float64Values(true)[0]
		for _, x := range []*ts.Tensor{noise, want, g} {
			x.MustDrop()
		}
		if d > worst {
			worst, worstName = d, p.Name
		}
	}
	t.Logf("%d adapter tensors, %d elements with |grad| < 1e-6 compared loosely; max abs diff %.3g (%s)", len(params), noisy, worst, worstName)
	if worst > 1e-6 {
		t.Errorf("after one LoRA step, %s differs from peft + torch.optim.AdamW by %.3g > 1e-6", worstName, worst)
	}
}

// unpadRows drops each row's padding (mask 0).
func unpadRows(ids, mask [][]int64) [][]int64 {
	out := make([][]int64, len(ids))
	for i, row := range ids {
		n := 0
		for _, m := range mask[i] {
			n += int(m)
		}
		out[i] = row[:n]
	}
	return out
}
