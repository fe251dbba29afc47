package finetune

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/finetune/synth"
	"github.com/captune/captune/inference"
	"github.com/captune/captune/inference/safetensors"
	"github.com/captune/captune/internal/torchx"
)

func loraConfig(t *testing.T) Config {
	cfg := smallConfig(t)
	cfg.Method = MethodLora
	cfg.LoraRank, cfg.LoraAlpha, cfg.LoraDropout = 4, 8, 0.1
	cfg.LR = 1e-2 // adapters start from B = 0 and learn at a higher rate than full weights
	return cfg
}

// TestLoraRun trains adapters for a few steps and checks what the run leaves: the adapter in
// OutDir as peft lays it out, the merged model that computes what base plus adapter computes, and
// base weights that did not change anywhere but in the merge of the adapted layers.
func TestLoraRun(t *testing.T) {
	data := Data{Train: synthData(t, 10, synth.VariantBase, 1), Val: synthData(t, 3, synth.VariantBase, 2)}
	tests := []struct {
		name    string
		targets []string
		merge   bool
		layers  int // adapted layers of tiny-a
	}{
		{"query value, merged", []string{"query", "value"}, true, 8},
		{"vision qkv and outputs", []string{"qkv", "output"}, false, 2 + 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loraConfig(t)
			cfg.LoraTargets, cfg.Merge = tc.targets, tc.merge
			cfg.MaxSteps, cfg.CheckpointEvery = 10, 5
			res, err := Run(context.Background(), cfg, data, nil)
			if err != nil {
				t.Fatal(err)
			}
			if first, last := mean(res.Losses[:3]), mean(res.Losses[len(res.Losses)-3:]); last >= first {
				t.Errorf("loss did not fall: first steps %.4f, last %.4f (%v)", first, last, res.Losses)
			}
			checkAdapterFolder(t, cfg, res, tc.layers)
			checkMethodLogged(t, cfg)
			if !tc.merge {
				if res.MergedDir != "" || exists(filepath.Join(cfg.OutDir, MergedDir)) {
					t.Errorf("a run without --merge wrote %s", filepath.Join(cfg.OutDir, MergedDir))
				}
				return
			}
			if res.MergedDir != filepath.Join(cfg.OutDir, MergedDir) {
				t.Errorf("MergedDir = %q", res.MergedDir)
			}
			checkMerged(t, cfg)
		})
	}
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// checkAdapterFolder checks that OutDir is a peft adapter folder of cfg's settings, and no model.
func checkAdapterFolder(t *testing.T, cfg Config, res Result, layers int) {
	t.Helper()
	for _, f := range []string{"config.json", "model.safetensors"} {
		if exists(filepath.Join(cfg.OutDir, f)) {
			t.Errorf("a LoRA run's folder holds %s: it is an adapter folder, not a model", f)
		}
	}
	lc, err := inference.ReadLoraConfig(cfg.OutDir)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := filepath.Abs(tinyModel)
	if lc.BaseModel != base || lc.R != int64(cfg.LoraRank) || lc.Alpha != cfg.LoraAlpha || lc.Dropout != cfg.LoraDropout {
		t.Errorf("adapter_config.json: base %q r %d alpha %g dropout %g, want %q %d %g %g", lc.BaseModel, lc.R, lc.Alpha, lc.Dropout, base, cfg.LoraRank, cfg.LoraAlpha, cfg.LoraDropout)
	}
	st, err := os.Stat(filepath.Join(cfg.OutDir, inference.AdapterWeightsFile))
	if err != nil || res.AdapterBytes != st.Size() || res.Method != MethodLora {
		t.Errorf("result: method %q, adapter %d bytes, file %v", res.Method, res.AdapterBytes, err)
	}
	f, err := safetensors.Open(filepath.Join(cfg.OutDir, inference.AdapterWeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := len(f.Names()); got != 2*layers {
		t.Errorf("adapter holds %d tensors, want %d (lora_A and lora_B of %d layers)", got, 2*layers, layers)
	}
	for _, name := range f.Names() {
		if !strings.HasPrefix(name, "base_model.model.") {
			t.Errorf("adapter tensor %s: not a peft key", name)
		}
	}
}

// checkMethodLogged checks that train_log.jsonl names the method and the adapters' settings.
func checkMethodLogged(t *testing.T, cfg Config) {
	t.Helper()
	fh, err := os.Open(filepath.Join(cfg.OutDir, "train_log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		var line struct {
			Method  string   `json:"method"`
			Rank    int      `json:"lora_rank"`
			Alpha   float64  `json:"lora_alpha"`
			Targets []string `json:"lora_targets"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Method != "" {
			if line.Method != MethodLora || line.Rank != cfg.LoraRank || line.Alpha != cfg.LoraAlpha || strings.Join(line.Targets, ",") != strings.Join(cfg.LoraTargets, ",") {
				t.Errorf("train_log.jsonl: %s, want method lora, rank %d, alpha %g, targets %v", sc.Text(), cfg.LoraRank, cfg.LoraAlpha, cfg.LoraTargets)
			}
			return
		}
	}
	t.Error("train_log.jsonl names no method")
}

// checkMerged checks OutDir/merged: it computes what the base with OutDir's adapter computes, and
// it differs from the base only in the adapted layers' weights.
func checkMerged(t *testing.T, cfg Config) {
	t.Helper()
	withAdapter, _, err := inference.LoadCaptionerWithAdapter(tinyModel, cfg.OutDir, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer withAdapter.Free()
	modules := withAdapter.Model.Lora.Modules()
	merged, _, err := inference.LoadCaptioner(filepath.Join(cfg.OutDir, MergedDir), gotch.CPU)
	if err != nil {
		t.Fatalf("load the merged model: %v", err)
	}
	defer merged.Free()
	if d := logitsDiff(t, withAdapter.Model, merged.Model); d > 1e-5 {
		t.Errorf("merged model's logits differ from base + adapter by %g > 1e-5", d)
	}
	changed := changedTensors(t, filepath.Join(tinyModel, "model.safetensors"), filepath.Join(cfg.OutDir, MergedDir, "model.safetensors"))
	if len(changed) != len(modules) {
		t.Errorf("merged weights differ from the base in %v, want exactly the adapted layers %v", changed, modules)
	}
	for _, name := range changed {
		if !strings.HasSuffix(name, ".weight") || !contains(modules, strings.TrimSuffix(name, ".weight")) {
			t.Errorf("merged tensor %s differs from the base but has no adapter", name)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// logitsDiff is the largest difference between a's and b's logits on two random images and a
// padded pair of captions.
func logitsDiff(t *testing.T, a, b *inference.Model) float64 {
	t.Helper()
	ng := ts.NewNoGradGuard()
	defer ng.Drop()
	torchx.ManualSeed(7)
	pix := ts.MustRandn([]int64{2, 3, 32, 32}, gotch.Float, gotch.CPU)
	defer pix.MustDrop()
	ids := ts.MustOfSlice([]int64{2000, 17, 42, 99, 3, 2000, 5, 61, 3, 0}).MustView([]int64{2, 5}, true)
	att := ts.MustOfSlice([]int64{1, 1, 1, 1, 1, 1, 1, 1, 1, 0}).MustView([]int64{2, 5}, true)
	defer ids.MustDrop()
	defer att.MustDrop()
	la, lb := a.Logits(pix, ids, att), b.Logits(pix, ids, att)
	defer la.MustDrop()
	defer lb.MustDrop()
	d := la.MustSub(lb, false).MustAbs(true).MustMax(true)
	defer d.MustDrop()
	return d.Float64Values()[0]
}

// changedTensors names the tensors of two safetensors files whose bytes differ.
func changedTensors(t *testing.T, pathA, pathB string) []string {
	t.Helper()
	fa, err := safetensors.Open(pathA)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, err := safetensors.Open(pathB)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	var changed []string
	for _, name := range fa.Names() {
		a, errA := fa.Tensor(name)
		b, errB := fb.Tensor(name)
		if errA != nil || errB != nil {
			t.Fatalf("tensor %s: %v %v", name, errA, errB)
		}
		if !a.MustEqual(b, false) {
			changed = append(changed, name)
		}
		a.MustDrop()
		b.MustDrop()
	}
	return changed
}

// TestLoraResumeMatchesUninterruptedRun cancels a LoRA run with adapter dropout at a checkpoint,
// loads that checkpoint as an adapter, resumes the run and compares every step's loss with an
// uninterrupted run's: the dropout masks are drawn from the seed and the step, not the session.
func TestLoraResumeMatchesUninterruptedRun(t *testing.T) {
	data := Data{Train: synthData(t, 10, synth.VariantBase, 1)}
	full := loraConfig(t)
	res, err := Run(context.Background(), full, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	cut := loraConfig(t)
	ctx, cancel := context.WithCancel(context.Background())
	stopped, err := Run(ctx, cut, data, func(p Progress) {
		if p.Phase == "checkpoint" && p.Step == 6 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: err = %v, want context.Canceled", err)
	}
	c, _, err := inference.LoadCaptionerWithAdapter(tinyModel, stopped.LastCheckpoint, gotch.CPU)
	if err != nil {
		t.Fatalf("the cancelled run's checkpoint %s does not load as an adapter: %v", stopped.LastCheckpoint, err)
	}
	c.Free()
	cut.Resume = true
	res2, err := Run(context.Background(), cut, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res2.Resumed || len(res2.Losses) != len(res.Losses) {
		t.Fatalf("resumed run: resumed=%v, %d losses, want %d", res2.Resumed, len(res2.Losses), len(res.Losses))
	}
	for i := range res.Losses {
		if d := math.Abs(res.Losses[i] - res2.Losses[i]); d > 1e-5 {
			t.Errorf("step %d: uninterrupted loss %.7f, resumed %.7f (diff %.2g > 1e-5)", i+1, res.Losses[i], res2.Losses[i], d)
		}
	}
	a, b := filepath.Join(full.OutDir, inference.AdapterWeightsFile), filepath.Join(cut.OutDir, inference.AdapterWeightsFile)
	if changed := changedTensors(t, a, b); len(changed) > 0 {
		for _, name := range changed {
			d := tensorDiff(t, a, b, name)
			if d > 1e-6 {
				t.Errorf("adapter tensor %s: resumed run's differs by %g", name, d)
			}
		}
	}
}

func tensorDiff(t *testing.T, pathA, pathB, name string) float64 {
	t.Helper()
	var vals [2][]float64
	for i, p := range []string{pathA, pathB} {
		f, err := safetensors.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		x, err := f.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		vals[i] = x.Float64Values(true)
		x.MustDrop()
		f.Close()
	}
	var d float64
	for i := range vals[0] {
		d = math.Max(d, math.Abs(vals[0][i]-vals[1][i]))
	}
	return d
}

// TestLoraRefusesBadSettings checks that bad LoRA settings fail before any step, with a message
// naming the setting.
func TestLoraRefusesBadSettings(t *testing.T) {
	data := Data{Train: synthData(t, 2, synth.VariantBase, 1)}
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"unknown method", func(c *Config) { c.Method = "qlora" }, `method "qlora": want full or lora`},
		{"rank 0", func(c *Config) { c.LoraRank = 0 }, "LoRA rank 0: want 1 or more"},
		{"alpha 0", func(c *Config) { c.LoraAlpha = 0 }, "LoRA alpha 0: want a positive number"},
		{"alpha NaN", func(c *Config) { c.LoraAlpha = math.NaN() }, "LoRA alpha NaN"},
		{"dropout 1", func(c *Config) { c.LoraDropout = 1 }, "LoRA dropout 1: want 0 or more and less than 1"},
		{"dropout negative", func(c *Config) { c.LoraDropout = -0.1 }, "LoRA dropout -0.1"},
		{"no targets", func(c *Config) { c.LoraTargets = []string{" "} }, "no LoRA targets: name some of intermediate, key, output, qkv, query, value"},
		{"unknown target", func(c *Config) { c.LoraTargets = []string{"query", "qurey"} }, `lora target "qurey": matches no Linear layer`},
		{"rank above a layer", func(c *Config) { c.LoraRank = 64 }, "lora rank 64: larger than layer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loraConfig(t)
			tc.change(&cfg)
			steps := 0
			_, err := Run(context.Background(), cfg, data, func(p Progress) {
				if p.Phase == "train" {
					steps++
				}
			})
			if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrBadConfig containing %q", err, tc.want)
			}
			if steps > 0 || exists(filepath.Join(cfg.OutDir, "checkpoints")) {
				t.Errorf("%d steps ran before the settings were refused", steps)
			}
		})
	}
}

// TestLoraVisionAndFeatureCache checks which LoRA runs leave the vision encoder frozen (and so
// may cache image features) against the layers the targets adapt in the model.
func TestLoraVisionAndFeatureCache(t *testing.T) {
	mcfg, err := inference.LoadConfig(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		targets []string
		augment bool
		vision  bool // the targets adapt the vision encoder
		cache   bool
	}{
		{[]string{"query", "value"}, false, false, true},
		{[]string{"query", "value"}, true, false, false},
		{[]string{"qkv"}, false, true, false},
		{[]string{"output", "intermediate", "key"}, false, false, true},
		{[]string{"mlp.fc1"}, false, true, false},
		{[]string{"layers.1.self_attn.projection"}, false, true, false},
		{[]string{"vision_model.encoder.layers.0.mlp.fc2"}, false, true, false},
		{[]string{"text_decoder.bert.encoder.layer.1.attention.self.query"}, false, false, true},
		{[]string{"transform.dense"}, false, false, true},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.targets, ","), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Method, cfg.LoraTargets, cfg.Augment = MethodLora, tc.targets, tc.augment
			modules, _, err := mcfg.LoraPlan(tc.targets, 2)
			if err != nil {
				t.Fatal(err)
			}
			inVision := false
			for _, m := range modules {
				inVision = inVision || strings.HasPrefix(m, "vision_model.")
			}
			if inVision != tc.vision || loraTrainsVision(tc.targets) != tc.vision {
				t.Errorf("adapts the vision encoder: model %v, loraTrainsVision %v, want %v", inVision, loraTrainsVision(tc.targets), tc.vision)
			}
			if got := usesFeatureCache(cfg); got != tc.cache {
				t.Errorf("usesFeatureCache = %v, want %v", got, tc.cache)
			}
		})
	}
}

// TestLoraEstimate estimates a LoRA run: both methods' memory is filled in, LoRA's is the smaller
// and is the run's.
func TestLoraEstimate(t *testing.T) {
	data := Data{Train: synthData(t, 6, synth.VariantBase, 1)}
	tests := []struct{ method string }{{MethodLora}, {MethodFull}}
	for _, tc := range tests {
		t.Run(tc.method, func(t *testing.T) {
			cfg := loraConfig(t)
			cfg.Method = tc.method
			est, err := Estimate(context.Background(), cfg, data, 2, nil)
			if err != nil {
				t.Fatal(err)
			}
			if est.LoraMemory <= 0 || est.FullMemory <= 0 || est.LoraMemory >= est.FullMemory {
				t.Errorf("LoRA memory %d, full %d: want both filled, LoRA's smaller", est.LoraMemory, est.FullMemory)
			}
			want := est.FullMemory
			if tc.method == MethodLora {
				want = est.LoraMemory
			}
			if est.Method != tc.method || est.Memory != want || est.StepTime <= 0 {
				t.Errorf("method %q memory %d step %v, want %q %d and a measured step", est.Method, est.Memory, est.StepTime, tc.method, want)
			}
			if est.LoraParams <= 0 || est.LoraParams >= est.FullParams/10 {
				t.Errorf("LoRA trains %d parameters, full %d", est.LoraParams, est.FullParams)
			}
		})
	}
}

// TestTrainFromAdapterFolder starts runs from an adapter folder given as the base model: a LoRA
// run trains that adapter further with its own settings and names its base, a full run trains the
// base with the adapter merged in.
func TestTrainFromAdapterFolder(t *testing.T) {
	data := Data{Train: synthData(t, 8, synth.VariantBase, 1)}
	first := loraConfig(t)
	first.MaxSteps, first.LoraTargets = 3, []string{"query", "value", "intermediate"}
	if _, err := Run(context.Background(), first, data, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method string
		files  []string // in OutDir
	}{
		{MethodLora, []string{inference.AdapterConfigFile, inference.AdapterWeightsFile}},
		{MethodFull, []string{"config.json", "model.safetensors"}},
	}
	for _, tc := range tests {
		t.Run(tc.method, func(t *testing.T) {
			cfg := loraConfig(t)
			cfg.BaseModel, cfg.Method, cfg.MaxSteps = first.OutDir, tc.method, 3
			cfg.LoraRank = 8 // the adapter's own rank (4) applies
			res, err := Run(context.Background(), cfg, data, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range tc.files {
				if !exists(filepath.Join(cfg.OutDir, f)) {
					t.Errorf("%s lacks %s", cfg.OutDir, f)
				}
			}
			if tc.method == MethodFull {
				return
			}
			lc, err := inference.ReadLoraConfig(cfg.OutDir)
			if err != nil {
				t.Fatal(err)
			}
			base, _ := filepath.Abs(tinyModel)
			if lc.BaseModel != base || lc.R != 4 || len(res.Losses) != 3 {
				t.Errorf("adapter trained further: base %q rank %d, %d steps; want %q, 4, 3", lc.BaseModel, lc.R, len(res.Losses), base)
			}
			a, b := filepath.Join(first.OutDir, inference.AdapterWeightsFile), filepath.Join(cfg.OutDir, inference.AdapterWeightsFile)
			if changed := changedTensors(t, a, b); len(changed) == 0 {
				t.Error("the adapter did not change")
			}
		})
	}
}

// TestCheckMemoryNamesLora sizes a model whose full fine-tuning needs about twice the memory
// available and whose weights take half of it: the full run is refused naming a LoRA run, which
// fits. Only the config is used; nothing is allocated.
func TestCheckMemoryNamesLora(t *testing.T) {
	avail := inference.AvailableMemory()
	if avail <= 0 {
		t.Skip("the memory available is unknown here")
	}
	mcfg, err := inference.LoadConfig(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	mcfg.Text.HiddenSize, mcfg.Text.IntermediateSize, mcfg.Text.NumHiddenLayers = 1024, 4096, 1
	one := mcfg.ParameterCount()
	mcfg.Text.NumHiddenLayers = 2
	perLayer := mcfg.ParameterCount() - one
	mcfg.Text.NumHiddenLayers = 1 + (avail/8-one)/perLayer // 4 bytes a weight: half of avail
	tests := []struct {
		method string
		want   string // "" = fits
	}{
		{MethodFull, "or train a LoRA adapter (--method lora), which needs about "},
		{MethodLora, ""},
	}
	for _, tc := range tests {
		t.Run(tc.method, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Method, cfg.BatchSize = tc.method, 1
			err := checkMemory(mcfg, cfg, gotch.CPU)
			if tc.want == "" && err != nil || tc.want != "" && (!errors.Is(err, ErrOutOfMemory) || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
