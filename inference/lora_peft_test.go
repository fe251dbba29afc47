package inference

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/inference/safetensors"
	"github.com/captune/captune/internal/torchx"
)

// The fixtures under testdata/lora are written by scripts/make_lora_fixtures.py with peft and
// transformers on the tiny-a model (testdata/lora/README.md); these tests compare Captune with them.

var writeLora = flag.Bool("write-lora", false, "rewrite testdata/lora/captune-a (then run scripts/make_lora_fixtures.py --check-captune)")

// peftFixture is testdata/lora/peft-a.json (the parts these tests read).
type peftFixture struct {
	Images        []string              `json:"images"`
	InputIDs      [][]int64             `json:"input_ids"`
	AttentionMask [][]int64             `json:"attention_mask"`
	Prompt        string                `json:"prompt"`
	Generate      map[string]parityCase `json:"generate"`
	Merged        struct {
		File    string   `json:"file"`
		Modules []string `json:"modules"`
	} `json:"merged"`
}

func loadPeftFixture(t *testing.T) (peftFixture, *safetensors.File) {
	t.Helper()
	var fx peftFixture
	data, err := os.ReadFile(filepath.Join("testdata", "lora", "peft-a.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &fx); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(filepath.Join("testdata", "lora", "peft-a.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return fx, f
}

// fixtureLogits runs m on the fixture's first two images and padded ids.
func fixtureLogits(t *testing.T, m *Model, fx peftFixture, f *safetensors.File) *ts.Tensor {
	t.Helper()
	return logitsOn(t, m, f, fx.InputIDs, fx.AttentionMask)
}

// checkGenerate decodes the fixture's four images with every case and compares the ids.
func checkGenerate(t *testing.T, m *Model, f *safetensors.File, prompt []int64, cases map[string]parityCase) {
	t.Helper()
	pv := tensorOf(t, f, "pixel_values")
	for name, c := range cases {
		got, err := m.Generate(pv, optionsFrom(c, prompt))
		if err != nil {
			t.Fatal(err)
		}
		for i := range c.Sequence {
			if fmt.Sprint(got[i]) != fmt.Sprint(c.Sequence[i]) {
				t.Errorf("%s, image %d:\n got  %v\n want %v", name, i, got[i], c.Sequence[i])
			}
		}
	}
}

func promptTokens(t *testing.T, prompt string) []int64 {
	t.Helper()
	tok, err := loadTokenizer(filepath.Join("testdata", "models", "tiny-a"))
	if err != nil {
		t.Fatal(err)
	}
	c := &Captioner{Tok: tok}
	return c.PromptTokens(prompt)
}

// TestPeftAdapterLoads loads the adapter peft trained (saved by save_pretrained: text self- and
// cross-attention query, key and value, and the vision encoder's qkv) onto tiny-a: the logits are
// peft's within 1e-4 and every greedy and beam case gives peft's ids.
func TestPeftAdapterLoads(t *testing.T) {
	fx, f := loadPeftFixture(t)
	m := loadTestModel(t, "tiny-a")
	cfg, err := m.LoadAdapter(filepath.Join("testdata", "lora", "peft-a"))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(m.Lora.Modules()); got != len(fx.Merged.Modules) {
		t.Errorf("%d adapted layers, peft adapted %d", got, len(fx.Merged.Modules))
	}
	if cfg.R != 4 || cfg.Alpha != 8 {
		t.Errorf("config r %d alpha %g, want 4 and 8", cfg.R, cfg.Alpha)
	}
	logits := fixtureLogits(t, m, fx, f)
	defer logits.MustDrop()
	if d := maxAbsDiff(logits, tensorOf(t, f, "logits")); d > 1e-4 || math.IsNaN(d) {
		t.Errorf("logits with peft's adapter: max abs diff %.3g > 1e-4", d)
	} else {
		t.Logf("logits with peft's adapter: max abs diff %.3g", d)
	}
	checkGenerate(t, m, f, promptTokens(t, fx.Prompt), fx.Generate)
}

// TestMergeMatchesPeft merges peft's adapter into tiny-a: the merged weights are peft's
// merge_and_unload() weights within 1e-5.
func TestMergeMatchesPeft(t *testing.T) {
	fx, _ := loadPeftFixture(t)
	m := loadTestModel(t, "tiny-a")
	if _, err := m.LoadAdapter(filepath.Join("testdata", "lora", "peft-a")); err != nil {
		t.Fatal(err)
	}
	if err := m.MergeLora(); err != nil {
		t.Fatal(err)
	}
	merged, err := safetensors.Open(filepath.Join("testdata", "lora", fx.Merged.File))
	if err != nil {
		t.Fatal(err)
	}
	defer merged.Close()
	if len(merged.Names()) == 0 {
		t.Fatal("no merged weights in the fixture")
	}
	worst := 0.0
	for _, name := range merged.Names() {
		module := strings.TrimSuffix(name, ".weight")
		l, ok := m.linears[module]
		if !ok {
			t.Fatalf("fixture tensor %s: no such layer", name)
		}
		want := tensorOf(t, merged, name)
		worst = math.Max(worst, maxAbsDiff(l.Weight, want))
	}
	if worst > 1e-5 {
		t.Errorf("merged weights differ from peft's merge_and_unload by %.3g > 1e-5", worst)
	}
	t.Logf("%d merged weights: max abs diff from peft's %.3g", len(merged.Names()), worst)
}

// TestCaptuneAdapterLoadsInPeft covers Captune → peft: an adapter Captune saved
// (testdata/lora/captune-a, -write-lora rewrites it) was loaded by peft's PeftModel.from_pretrained
// onto tiny-a with no missing or unexpected keys (testdata/lora/captune-a-check.json, written by
// scripts/make_lora_fixtures.py --check-captune), and peft's logits and ids are Captune's.
func TestCaptuneAdapterLoadsInPeft(t *testing.T) {
	dir := filepath.Join("testdata", "lora", "captune-a")
	if *writeLora {
		writeCaptuneAdapter(t, dir)
	}
	var check struct {
		Missing    []string              `json:"missing_keys"`
		Unexpected []string              `json:"unexpected_keys"`
		Generate   map[string]parityCase `json:"generate"`
	}
	data, err := os.ReadFile(dir + "-check.json")
	if err != nil {
		t.Fatalf("%v (run .venv/bin/python scripts/make_lora_fixtures.py --check-captune %s)", err, dir)
	}
	if err := json.Unmarshal(data, &check); err != nil {
		t.Fatal(err)
	}
	if len(check.Missing)+len(check.Unexpected) > 0 {
		t.Errorf("peft loading Captune's adapter: missing %v, unexpected %v", check.Missing, check.Unexpected)
	}
	fx, f := loadPeftFixture(t)
	m := loadTestModel(t, "tiny-a")
	if _, err := m.LoadAdapter(dir); err != nil {
		t.Fatal(err)
	}
	logits := fixtureLogits(t, m, fx, f)
	defer logits.MustDrop()
	checkF, err := safetensors.Open(dir + "-check.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer checkF.Close()
	if d := maxAbsDiff(logits, tensorOf(t, checkF, "logits")); d > 1e-4 || math.IsNaN(d) {
		t.Errorf("Captune's adapter, logits in peft and in Captune: max abs diff %.3g > 1e-4", d)
	} else {
		t.Logf("Captune's adapter, logits in peft and in Captune: max abs diff %.3g", d)
	}
	if len(check.Generate) == 0 {
		t.Fatal("the check recorded no generate cases")
	}
	checkGenerate(t, m, f, promptTokens(t, fx.Prompt), check.Generate)
}

// writeCaptuneAdapter saves an adapter as Captune's training would (fresh A, then B moved off zero
// as training moves it) on text query/value/output and the vision qkv, with rsLoRA off.
func writeCaptuneAdapter(t *testing.T, dir string) {
	t.Helper()
	m := loadTestModel(t, "tiny-a")
	cfg := NewLoraConfig("inference/testdata/models/tiny-a", 4, 8, 0.05, []string{"query", "value", "output", "qkv"})
	if err := m.AddLora(cfg, 3); err != nil {
		t.Fatal(err)
	}
	torchx.ManualSeed(3)
	randomizeB(m)
	os.RemoveAll(dir)
	if err := m.SaveAdapter(dir); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s: now run .venv/bin/python scripts/make_lora_fixtures.py --check-captune %s", dir, dir)
}
