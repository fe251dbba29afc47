package finetune

import (
	"math"

	"github.com/captune/captune/finetune/runinfo"
	"github.com/captune/captune/inference"
)

func validPrecision(s string) bool {
	_, err := inference.ParsePrecision(s)
	return err == nil
}

// usePrecision sets the model's arithmetic to cfg.Precision (validated by Config.Validate), or to
// fp32 when the device has no fast bfloat16, and says which.
func usePrecision(m *inference.Model, cfg Config, onProgress func(Progress)) {
	p, _ := inference.ParsePrecision(cfg.Precision)
	if err := inference.CheckPrecision(p, m.Device); err != nil {
		onProgress(Progress{Phase: runinfo.PhaseLoad, Message: err.Error(), ValLoss: math.NaN()})
		p = inference.FP32
	}
	m.Precision = p
	if p == inference.BF16 {
		onProgress(Progress{Phase: runinfo.PhaseLoad, Message: "computing in bf16: bfloat16 matrix products (autocast), float32 weights, gradients and optimizer state", ValLoss: math.NaN()})
	}
}
