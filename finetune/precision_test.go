package finetune

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/captune/captune/finetune/synth"
	"github.com/captune/captune/inference"
	"github.com/sugarme/gotch"
)

// A bf16 run learns what the fp32 run learns: on the tiny model the losses of 12 steps stay within
// 2 % of fp32's, the run says it computes in bf16, and the saved weights are float32 (autocast
// keeps the master weights). A machine without fast bfloat16 trains in fp32 and says why.
func TestPrecisionBF16TrainsLikeFP32(t *testing.T) {
	data := Data{Train: synthData(t, 8, synth.VariantBase, 3)}
	run := func(precision string) (Result, []string) {
		cfg := smallConfig(t)
		cfg.Precision = precision
		var msgs []string
		res, err := Run(context.Background(), cfg, data, func(p Progress) {
			if p.Phase == "load" {
				msgs = append(msgs, p.Message)
			}
		})
		if err != nil {
			t.Fatalf("%s: %v", precision, err)
		}
		return res, msgs
	}
	ref, _ := run("fp32")
	got, msgs := run("bf16")
	if err := inference.CheckPrecision(inference.BF16, gotch.CPU); err != nil {
		if !strings.Contains(strings.Join(msgs, "\n"), "computing in fp32") {
			t.Errorf("no fp32 fallback message in %q", msgs)
		}
		return
	}
	if !strings.Contains(strings.Join(msgs, "\n"), "computing in bf16") {
		t.Errorf("no bf16 message in %q", msgs)
	}
	if len(got.Losses) != len(ref.Losses) {
		t.Fatalf("bf16 %d steps, fp32 %d", len(got.Losses), len(ref.Losses))
	}
	for i := range ref.Losses {
		if rel := math.Abs(got.Losses[i]-ref.Losses[i]) / ref.Losses[i]; rel > 0.02 || got.Losses[i] == ref.Losses[i] {
			t.Errorf("step %d: bf16 loss %.5f, fp32 %.5f (relative %.4f; want different but within 2%%)", i+1, got.Losses[i], ref.Losses[i], rel)
		}
	}
	c, _, err := inference.LoadCaptioner(got.OutDir, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Free()
	for _, n := range c.Model.Tensors() {
		if dt := n.Tensor.DType(); dt != gotch.Float {
			t.Errorf("saved %s is %v, want float32", n.Name, dt)
		}
	}
}

func TestPrecisionRejectsUnknown(t *testing.T) {
	cfg := smallConfig(t)
	cfg.Precision = "fp8"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "want fp32 or bf16") {
		t.Errorf("Validate(fp8) = %v", err)
	}
}
