package inference

import (
	"strings"
	"testing"
)

// TestLinearLayersAreTheModels checks that the layers and sizes Config.LinearLayers predicts are
// the ones the model builds: LoraPlan relies on them to check targets before a model is loaded.
func TestLinearLayersAreTheModels(t *testing.T) {
	m := loadTestModel(t, "tiny-a")
	want := m.Config.LinearLayers()
	if len(want) != len(m.linears) {
		t.Errorf("config predicts %d Linear layers, the model has %d", len(want), len(m.linears))
	}
	for name, l := range m.linears {
		size := l.Weight.MustSize()
		if got, ok := want[name]; !ok || got != [2]int64{size[0], size[1]} {
			t.Errorf("%s: model %v, config predicts %v (listed %v)", name, size, got, ok)
		}
	}
}

func TestLoraPlanMatchesAddLora(t *testing.T) {
	tests := []struct {
		name    string
		targets []string
		r       int64
		err     string
	}{
		{"default", DefaultLoraTargets, 4, ""},
		{"vision and output", []string{"qkv", "output", "intermediate"}, 8, ""},
		{"full name", []string{"text_decoder.bert.encoder.layer.1.crossattention.self.key"}, 2, ""},
		{"unknown", []string{"query", "qurey"}, 4, `lora target "qurey": matches no Linear layer`},
		{"rank too large", []string{"query"}, 33, "lora rank 33: larger than layer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := loadTestModel(t, "tiny-a")
			modules, params, err := m.Config.LoraPlan(tt.targets, tt.r)
			addErr := m.AddLora(NewLoraConfig("tiny-a", tt.r, 8, 0, tt.targets), 1)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || addErr == nil || addErr.Error() != err.Error() {
					t.Fatalf("plan error %v, AddLora error %v, want both %q", err, addErr, tt.err)
				}
				return
			}
			if err != nil || addErr != nil {
				t.Fatalf("plan error %v, AddLora error %v", err, addErr)
			}
			if got := m.Lora.Modules(); strings.Join(got, ",") != strings.Join(modules, ",") {
				t.Errorf("plan adapts %v, AddLora %v", modules, got)
			}
			var n int64
			for _, p := range m.LoraParams() {
				n += int64(p.Tensor.Numel())
			}
			if n != params {
				t.Errorf("plan counts %d adapter parameters, AddLora made %d", params, n)
			}
		})
	}
}
