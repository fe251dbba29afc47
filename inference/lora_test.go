package inference

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/inference/safetensors"
)

// parityLogits runs m on the tiny-a parity inputs (two images, padded ids), as TestVisionAndLogitsParity.
func parityLogits(t *testing.T, m *Model) *ts.Tensor {
	t.Helper()
	meta, f := loadParity(t, "tiny-a")
	return logitsOn(t, m, f, meta.InputIDs, meta.AttentionMask)
}

// logitsOn runs m, without gradients, on the first two pixel_values of fixture file f with the
// padded ids and mask.
func logitsOn(t *testing.T, m *Model, f *safetensors.File, inputIDs, mask [][]int64) *ts.Tensor {
	t.Helper()
	pv := tensorOf(t, f, "pixel_values").MustNarrow(0, 0, 2, false)
	defer pv.MustDrop()
	ids, _ := int64Tensor(inputIDs, gotch.CPU)
	att, _ := int64Tensor(mask, gotch.CPU)
	defer ids.MustDrop()
	defer att.MustDrop()
	ng := ts.NewNoGradGuard()
	defer ng.Drop()
	return m.Logits(pv, ids, att)
}

// randomizeB gives every adapter's B random values, so that the adapters change what the model
// computes (fresh ones, B = 0, do not).
func randomizeB(m *Model) {
	ng := ts.NewNoGradGuard()
	defer ng.Drop()
	for _, p := range m.LoraParams() {
		if strings.HasSuffix(p.Name, "lora_B.weight") {
			r := ts.MustRandn(p.Tensor.MustSize(), gotch.Float, gotch.CPU).MustMulScalar(ts.FloatScalar(0.5), true)
			p.Tensor.Copy_(r)
			r.MustDrop()
		}
	}
}

func TestLoraFreshAdapterChangesNothing(t *testing.T) {
	m := loadTestModel(t, "tiny-a")
	base := parityLogits(t, m)
	defer base.MustDrop()
	cfg := NewLoraConfig("tiny-a", 4, 8, 0, []string{"query", "value", "qkv", "output"})
	if err := m.AddLora(cfg, 1); err != nil {
		t.Fatal(err)
	}
	// 2 text layers × (self, cross) × (query, value, output.dense) + 2 feed-forward output.dense
	// + 2 vision qkv = 12 + 2 + 2 modules, two tensors each.
	if got := len(m.LoraParams()); got != 32 {
		t.Errorf("%d adapter tensors, want 32: %v", got, m.Lora.Modules())
	}
	want := "base_model.model.text_decoder.bert.encoder.layer.0.attention.self.query.lora_A.weight"
	if got := m.LoraParams()[0].Name; !strings.HasPrefix(got, "base_model.model.") {
		t.Errorf("first key %q, want peft's names such as %q", got, want)
	}
	got := parityLogits(t, m)
	defer got.MustDrop()
	if d := maxAbsDiff(got, base); d != 0 {
		t.Errorf("fresh adapter (B = 0) changed the logits by %g", d)
	}
}

func TestLoraRefusesBadSettings(t *testing.T) {
	tests := []struct {
		name string
		cfg  LoraConfig
		want string
	}{
		{"unknown target", NewLoraConfig("x", 4, 8, 0, []string{"query", "qurey"}), `lora target "qurey": matches no Linear layer`},
		{"rank above the layer", NewLoraConfig("x", 33, 8, 0, []string{"query"}), "lora rank 33: larger than layer"},
		{"zero rank", NewLoraConfig("x", 0, 8, 0, []string{"query"}), "want at least 1"},
		{"dropout 1", NewLoraConfig("x", 4, 8, 1, []string{"query"}), "lora_dropout = 1"},
		{"bias", func() LoraConfig { c := NewLoraConfig("x", 4, 8, 0, []string{"query"}); c.Bias = "all"; return c }(), `bias "all"`},
		{"dora", func() LoraConfig { c := NewLoraConfig("x", 4, 8, 0, []string{"query"}); c.UseDora = true; return c }(), "DoRA"},
	}
	m := loadTestModel(t, "tiny-a")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := m.AddLora(tc.cfg, 1)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("AddLora: %v, want an error containing %q", err, tc.want)
			}
			if m.Lora != nil {
				t.Errorf("a refused adapter stayed attached")
				m.DropLora()
			}
		})
	}
}

// TestLoraSaveLoadMerge saves a trained-looking adapter, loads it onto a fresh base (same logits),
// refuses it on another base naming the first key that does not fit, and merges it into the
// weights (same logits within 1e-5, a plain model again).
func TestLoraSaveLoadMerge(t *testing.T) {
	m := loadTestModel(t, "tiny-a")
	base := parityLogits(t, m)
	defer base.MustDrop()
	if err := m.AddLora(NewLoraConfig("tiny-a", 4, 16, 0.1, []string{"query", "value", "qkv"}), 7); err != nil {
		t.Fatal(err)
	}
	randomizeB(m)
	adapted := parityLogits(t, m)
	defer adapted.MustDrop()
	if d := maxAbsDiff(adapted, base); d < 1e-3 {
		t.Fatalf("adapter with random B changed the logits by only %g", d)
	}
	dir := filepath.Join(t.TempDir(), "adapter")
	if err := m.SaveAdapter(dir); err != nil {
		t.Fatal(err)
	}
	checkAdapterConfigFile(t, dir)

	fresh := loadTestModel(t, "tiny-a")
	if _, err := fresh.LoadAdapter(dir); err != nil {
		t.Fatal(err)
	}
	reloaded := parityLogits(t, fresh)
	defer reloaded.MustDrop()
	if d := maxAbsDiff(reloaded, adapted); d != 0 {
		t.Errorf("saved and reloaded adapter: logits differ by %g", d)
	}
	if err := fresh.MergeLora(); err != nil {
		t.Fatal(err)
	}
	if fresh.Lora != nil || len(fresh.LoraParams()) != 0 {
		t.Errorf("merged model still has adapters")
	}
	merged := parityLogits(t, fresh)
	defer merged.MustDrop()
	if d := maxAbsDiff(merged, adapted); d > 1e-5 {
		t.Errorf("merged model: logits differ from base + adapter by %g > 1e-5", d)
	} else {
		t.Logf("merged model: logits differ from base + adapter by %.3g", d)
	}

	other := loadTestModel(t, "tiny-b")
	_, err := other.LoadAdapter(dir)
	if err == nil || !strings.Contains(err.Error(), "adapter tensor base_model.model.") {
		t.Errorf("adapter of tiny-a onto tiny-b: %v, want a refusal naming the first key", err)
	}
	if other.Lora != nil {
		t.Errorf("a refused adapter stayed attached")
	}
}

// checkAdapterConfigFile reads adapter_config.json as peft would: the fields its LoraConfig needs.
func checkAdapterConfigFile(t *testing.T, dir string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, AdapterConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(data, &fields); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"peft_type": "LORA", "r": 4.0, "lora_alpha": 16.0, "lora_dropout": 0.1, "bias": "none", "base_model_name_or_path": "tiny-a"} {
		if fields[k] != want {
			t.Errorf("adapter_config.json %s = %v, want %v", k, fields[k], want)
		}
	}
	if got, _ := json.Marshal(fields["target_modules"]); string(got) != `["query","value","qkv"]` {
		t.Errorf("target_modules %s", got)
	}
}
