package inference

import (
	"testing"

	"github.com/sugarme/gotch"
)

// TestParameterCount checks the config-derived count against the tensors the model actually builds.
func TestParameterCount(t *testing.T) {
	for _, name := range parityModels {
		m := loadTestModel(t, name)
		var got int64
		for _, n := range m.Tensors() {
			got += int64(n.Tensor.Numel())
		}
		if want := m.Config.ParameterCount(); got != want {
			t.Errorf("%s: model has %d parameters, ParameterCount says %d", name, got, want)
		}
	}
}

func TestEstimateGrowsWithBatchAndFits(t *testing.T) {
	c := DefaultConfig() // BLIP-base geometry
	one := EstimateMemory(c, 1, 1, 40, true).Total()
	eight := EstimateMemory(c, 8, 1, 40, true).Total()
	if eight <= one {
		t.Errorf("estimate for batch 8 (%d) not above batch 1 (%d)", eight, one)
	}
	if b := FitBatch(c, 8, 40, (one+eight)/2); b < 1 || b >= 8 {
		t.Errorf("FitBatch between the two estimates = %d, want 1..7", b)
	}
	if b := FitBatch(c, 8, 40, 1<<20); b != 0 {
		t.Errorf("FitBatch in 1 MB = %d, want 0", b)
	}
	cap := EstimateMemory(c, 1, 3, 20, false)
	if cap.Gradients != 0 || cap.Total() >= one {
		t.Errorf("captioning estimate %v should be below training's %d", cap, one)
	}
	_ = gotch.CPU
}
