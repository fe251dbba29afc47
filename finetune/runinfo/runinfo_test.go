package runinfo

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBestInfoString(t *testing.T) {
	tests := []struct {
		b    BestInfo
		want string
	}{
		{BestInfo{SelectBy: SelectCIDEr, Value: 0.412, Epoch: 2, Epochs: 5}, "epoch 2 of 5, best validation CIDEr-D 41.2"},
		{BestInfo{SelectBy: SelectLoss, Value: 1.23456, Epoch: 3, Epochs: 3}, "epoch 3 of 3, best validation loss 1.2346"},
	}
	for _, tt := range tests {
		if got := tt.b.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.b, got, tt.want)
		}
	}
}

// TestComparisonReportKeepsItsFormat checks that compare.json keeps the fields it had before the
// window's fields (TunedEpoch, ReportPath) joined the type.
func TestComparisonReportKeepsItsFormat(t *testing.T) {
	c := Comparison{Split: "val (1 images)", Decoding: "beam 3, length 5–20", BaseModel: "/b", Tuned: "/t",
		Images:     []ImageComparison{{Image: "/a.png", References: []string{"a cat"}, Base: "a dog", Tuned: "a cat", BaseCIDEr: 0.5, TunedCIDEr: 2}},
		TunedEpoch: "epoch 2 of 5", ReportPath: "/r.html"}
	path := filepath.Join(t.TempDir(), "compare.json")
	if err := c.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(data, &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"split", "decoding", "base_model", "finetuned_model", "before", "after", "images"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("compare.json lacks %q", k)
		}
	}
	if len(fields) != 7 || strings.Contains(string(data), "epoch 2 of 5") {
		t.Errorf("compare.json has the window's fields too:\n%s", data)
	}
	if got := c.Images[0].Improvement(); got != 1.5 {
		t.Errorf("Improvement() = %v, want 1.5", got)
	}
}

// TestEstimateStringNamesBothMethods checks that the estimate line gives the other method's memory.
func TestEstimateStringNamesBothMethods(t *testing.T) {
	base := Estimate{Steps: 10, StepTime: 1e9, Total: 12e9, Memory: 3 << 30, Calibrated: 3}
	tests := []struct {
		name   string
		method string
		lora   int64
		full   int64
		want   string
	}{
		{"before LoRA", "", 0, 0, "memory ≈ 3.0 GiB (measured on 3 real steps)"},
		{"full", "full", 1 << 30, 3 << 30, "memory ≈ 3.0 GiB (with LoRA ≈ 1.0 GiB) (measured"},
		{"lora", "lora", 3 << 30, 5 << 30, "memory ≈ 3.0 GiB with LoRA (full fine-tuning ≈ 5.0 GiB) (measured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := base
			e.Method, e.LoraMemory, e.FullMemory = tt.method, tt.lora, tt.full
			if got := e.String(); !strings.Contains(got, tt.want) {
				t.Errorf("String() = %q, want it to contain %q", got, tt.want)
			}
		})
	}
}

func TestMethodLR(t *testing.T) {
	tests := []struct {
		full   float64
		method string
		want   float64
	}{
		{2e-5, "full", 2e-5},
		{2e-5, "lora", 2e-4},
		{3e-4, "lora", 3e-3},
		{3e-4, "", 3e-4},
	}
	for _, tc := range tests {
		if got := MethodLR(tc.full, tc.method); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("MethodLR(%g, %q) = %g, want %g", tc.full, tc.method, got, tc.want)
		}
	}
}
