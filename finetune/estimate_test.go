package finetune

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sugarme/gotch"

	"github.com/captune/captune/finetune/synth"
	"github.com/captune/captune/inference"
)

// TestEstimateMatchesRun estimates a run, checks that nothing was written, then runs it with the
// same settings and compares the planned steps and validations with what Run did.
func TestEstimateMatchesRun(t *testing.T) {
	train := synthData(t, 10, synth.VariantBase, 1)
	val := synthData(t, 3, synth.VariantBase, 2)
	weights := filepath.Join(tinyModel, "model.safetensors")
	before, err := os.ReadFile(weights)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(*Config)
		val    []Example
	}{
		{"max steps", func(c *Config) {}, nil},
		{"epochs with validation", func(c *Config) { c.MaxSteps, c.Epochs, c.CheckpointEvery = 0, 2, 0 }, val},
		{"max steps past an epoch end", func(c *Config) { c.MaxSteps = 4; c.GradAccum = 2 }, val},
		{"frozen vision", func(c *Config) { c.MaxSteps = 3; c.FreezeVision = true }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := smallConfig(t)
			tc.change(&cfg)
			data := Data{Train: train, Val: tc.val}
			var phases []string
			est, err := Estimate(context.Background(), cfg, data, 3, func(p Progress) { phases = append(phases, string(p.Phase)) })
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("estimate: %s (step %v, validation %v, caching %v); advice %q", est, est.StepTime, est.EvalTime, est.CacheTime, est.Advice)
			if _, err := os.Stat(cfg.OutDir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Estimate touched the output folder %s: stat err %v", cfg.OutDir, err)
			}
			if est.StepTime <= 0 || est.Memory <= 0 || est.Calibrated != 3 {
				t.Errorf("StepTime %v, Memory %d, Calibrated %d: want > 0, > 0, 3", est.StepTime, est.Memory, est.Calibrated)
			}
			if min := time.Duration(est.Steps)*est.StepTime + est.EvalTime; est.Total < min {
				t.Errorf("Total %v < Steps×StepTime + EvalTime = %v", est.Total, min)
			}
			if (tc.val != nil) != (est.EvalTime > 0) {
				t.Errorf("EvalTime %v with %d validation images", est.EvalTime, len(tc.val))
			}
			if cfg.FreezeVision == (est.FrozenStepTime > 0) {
				t.Errorf("FreezeVision %v but FrozenStepTime %v", cfg.FreezeVision, est.FrozenStepTime)
			}
			if !cfg.FreezeVision && (est.FrozenMemory <= 0 || est.FrozenMemory >= est.Memory) {
				t.Errorf("FrozenMemory %d, want between 0 and Memory %d", est.FrozenMemory, est.Memory)
			}
			if !cfg.FreezeVision && !strings.Contains(strings.Join(est.Advice, " "), "--freeze-vision") {
				t.Errorf("advice %q does not mention --freeze-vision", est.Advice)
			}
			if len(phases) == 0 || phases[len(phases)-1] != "estimate" {
				t.Errorf("progress phases %q, want load then estimate", phases)
			}
			res, err := Run(context.Background(), cfg, data, nil)
			if err != nil {
				t.Fatal(err)
			}
			if est.Steps != res.Steps || est.Evals != len(res.ValLosses) {
				t.Errorf("estimated %d steps and %d validations, Run took %d and %d", est.Steps, est.Evals, res.Steps, len(res.ValLosses))
			}
		})
	}
	after, err := os.ReadFile(weights)
	if err != nil || !bytes.Equal(before, after) {
		t.Errorf("the base model's weights changed (read err %v)", err)
	}
}

// TestEstimateKnowsFeatureCache estimates a frozen-vision run as the CLI and the Fine-tune tab do,
// with the feature cache (the default) and without: the cached run encodes each image once, so its
// estimate says so and is the shorter one, and a run that trains the encoder is told what the
// cached frozen run costs.
func TestEstimateKnowsFeatureCache(t *testing.T) {
	data := Data{Train: synthData(t, 8, synth.VariantBase, 1), Val: synthData(t, 2, synth.VariantBase, 2)}
	// The tiny model's encoder is a few per cent of its step, less than the noise of a loaded
	// machine; with a larger image and deeper encoder, as in real BLIP, it is most of the step.
	model := heavyVisionModel(t)
	// Each is the fastest of three estimates: the tiny model's steps take milliseconds, which
	// other work on the machine easily doubles.
	run := func(t *testing.T, change func(*Config)) RunEstimate {
		t.Helper()
		cfg := smallConfig(t)
		cfg.BaseModel = model
		// Many epochs over few images: the encoder time a cache saves outweighs timing noise.
		cfg.MaxSteps, cfg.Epochs, cfg.CheckpointEvery = 0, 40, 0
		change(&cfg)
		var best RunEstimate
		for i := 0; i < 3; i++ {
			est, err := Estimate(context.Background(), cfg, data, 3, nil)
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 || est.StepTime < best.StepTime {
				best = est
			}
		}
		t.Logf("estimate: %s (step %v, caching %v); advice %q", best, best.StepTime, best.CacheTime, best.Advice)
		return best
	}
	trained := run(t, func(c *Config) {}) // first: it also warms libtorch up for the two compared
	uncached := run(t, func(c *Config) { c.FreezeVision, c.FeatureCache = true, FeatureCacheOff })
	cached := run(t, func(c *Config) { c.FreezeVision = true })
	augmented := run(t, func(c *Config) { c.FreezeVision, c.Augment = true, true })

	if cached.CacheImages != 10 || cached.CacheTime <= 0 {
		t.Errorf("cached run: CacheImages %d, CacheTime %v; want 10 images (8 training + 2 validation), > 0", cached.CacheImages, cached.CacheTime)
	}
	if want := "(+ caching 10 image features: ~"; !strings.Contains(cached.String(), want) {
		t.Errorf("cached estimate %q does not contain %q", cached, want)
	}
	for _, e := range []RunEstimate{uncached, augmented, trained} {
		if e.CacheImages != 0 || e.CacheTime != 0 || strings.Contains(e.String(), "caching") {
			t.Errorf("a run without the cache names one: %q", e)
		}
	}
	// Training, not validation: its greedy captions encode images with or without the cache, and
	// take longer than the 80 tiny steps.
	training := func(e RunEstimate) time.Duration { return time.Duration(e.Steps)*e.StepTime + e.CacheTime }
	if training(cached) >= training(uncached) {
		t.Errorf("cached run's training estimated at %v (%d steps of %v, caching %v), not below the uncached %v (steps of %v)",
			training(cached), cached.Steps, cached.StepTime, cached.CacheTime, training(uncached), uncached.StepTime)
	}
	if got, want := cached.Total, time.Duration(cached.Steps)*cached.StepTime+cached.EvalTime+cached.LoadTime+cached.CacheTime; got != want {
		t.Errorf("cached Total %v, want steps + validation + loading + caching = %v", got, want)
	}
	if trained.FrozenCacheTime <= 0 || !strings.Contains(strings.Join(trained.Advice, " "), "image features cached in") {
		t.Errorf("FrozenCacheTime %v, advice %q: want the frozen run's cache", trained.FrozenCacheTime, trained.Advice)
	}
}

func TestEstimateCancel(t *testing.T) {
	data := Data{Train: synthData(t, 10, synth.VariantBase, 1)}
	tests := []struct {
		name  string
		phase string // cancel on the first progress of this phase; "" = before the call
	}{
		{"before", ""},
		{"while loading", "load"},
		{"while timing steps", "estimate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := smallConfig(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.phase == "" {
				cancel()
			}
			_, err := Estimate(ctx, cfg, data, 3, func(p Progress) {
				if string(p.Phase) == tc.phase {
					cancel()
				}
			})
			if err == nil || err != ctx.Err() {
				t.Errorf("err = %v, want ctx.Err() = %v", err, ctx.Err())
			}
			if _, err := os.Stat(cfg.OutDir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("output folder created: %v", err)
			}
		})
	}
}

func TestEstimateRejectsBadInput(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config, *Data)
		want   string
	}{
		{"no data", func(c *Config, d *Data) { d.Train = nil }, "no images"},
		{"zero batch", func(c *Config, d *Data) { c.BatchSize = 0 }, "batch size 0"},
		{"missing model", func(c *Config, d *Data) { c.BaseModel = t.TempDir() }, "no config.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := smallConfig(t)
			cfg.OutDir = "" // an estimate needs none
			d := Data{Train: synthData(t, 2, synth.VariantBase, 1)}
			tc.change(&cfg, &d)
			if _, err := Estimate(context.Background(), cfg, d, 2, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestEstimateAdvice checks the sentences a user reads for a long run.
func TestEstimateAdvice(t *testing.T) {
	cfg := DefaultConfig()
	tests := []struct {
		name     string
		est      RunEstimate
		maxSteps int
		perEpoch int
		want     []string // substrings, in order, one per advice sentence
	}{
		{"short", RunEstimate{Steps: 100, StepTime: time.Second, Total: 100 * time.Second}, 0, 20, nil},
		{"short, vision trained", RunEstimate{Steps: 100, StepTime: time.Second, Total: 100 * time.Second, FrozenStepTime: 500 * time.Millisecond, FrozenMemory: 3 << 30}, 0, 20,
			[]string{"Training only the text decoder (--freeze-vision) takes about 50 s (0.50 s a step, measured) and needs about 3.0 GiB."}},
		{"short, vision trained, the frozen run caches features", RunEstimate{Steps: 100, StepTime: time.Second, Total: 100 * time.Second, FrozenStepTime: 300 * time.Millisecond, FrozenMemory: 3 << 30, FrozenCacheTime: 20 * time.Second}, 0, 20,
			[]string{"Training only the text decoder (--freeze-vision) takes about 50 s (0.30 s a step, measured, with its image features cached in 20 s) and needs about 3.0 GiB."}},
		{"hours", RunEstimate{Steps: 500, StepTime: 30 * time.Second, Evals: 5, EvalTime: 5 * time.Minute, LoadTime: 10 * time.Second, Total: 4*time.Hour + 15*time.Minute + 10*time.Second}, 0, 100,
			[]string{"This run takes about 4 h 15 min", "A LoRA adapter (--method lora, rank 16) trains", "With --epochs 1 instead of 5 it takes about 51 min."}},
		{"one epoch takes hours", RunEstimate{Steps: 500, StepTime: 60 * time.Second, Total: 500 * time.Minute}, 500, 1000,
			[]string{"This run takes about 8 h 20 min", "A LoRA adapter", "With --max-steps 60 (0.06 epochs) it takes about 1 h."}},
		{"hours, LoRA measured", RunEstimate{Steps: 100, StepTime: 60 * time.Second, Total: 100 * time.Minute, LoraStepTime: 12 * time.Second, LoraMemory: 2 << 30, LoraParams: 1_200_000, FullParams: 247_000_000}, 0, 100,
			[]string{"This run takes about 1 h 40 min", "A LoRA adapter (--method lora, rank 16) trains 1.2M parameters instead of 247M and needs about 2.0 GiB; it takes about 20 min (12 s a step, measured).", "With --max-steps 60"}},
		{"LoRA run, hours", RunEstimate{Method: MethodLora, Steps: 100, StepTime: 60 * time.Second, Total: 100 * time.Minute}, 0, 100,
			[]string{"This run takes about 1 h 40 min", "With --max-steps 60"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			c.MaxSteps = tc.maxSteps
			c.Method = tc.est.Method
			// Available is 0, so the memory advice, the only user of the model, is not given.
			got := advise(tc.est, c, inference.Config{}, nil, tc.perEpoch)
			if len(got) != len(tc.want) {
				t.Fatalf("advice %q, want %d sentences like %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("advice %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

func TestRough(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{300 * time.Millisecond, "1 s"},
		{4 * time.Second, "4 s"},
		{90 * time.Second, "2 min"},
		{59 * time.Minute, "59 min"},
		{time.Hour + 29*time.Second, "1 h"},
		{3*time.Hour + 20*time.Minute, "3 h 20 min"},
	}
	for _, tc := range tests {
		if got := Rough(tc.d); got != tc.want {
			t.Errorf("Rough(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

// heavyVisionModel writes a random model with the tiny model's text decoder and tokenizer and a
// vision encoder that dominates a step as BLIP-base's does (128-pixel images in 256 patches, four
// layers), for tests that compare time spent encoding with time spent decoding.
func heavyVisionModel(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cfg, err := inference.LoadConfig(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Vision.ImageSize, cfg.Vision.NumHiddenLayers, cfg.Vision.IntermediateSize = 128, 4, 128
	entries, err := os.ReadDir(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if name := e.Name(); name != "config.json" && name != "model.safetensors" {
			data, err := os.ReadFile(filepath.Join(tinyModel, name))
			if err == nil && name == "preprocessor_config.json" {
				data = bytes.Replace(data, []byte(`"height": 32`), []byte(`"height": 128`), 1)
				data = bytes.Replace(data, []byte(`"width": 32`), []byte(`"width": 128`), 1)
			}
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, name), data, 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	m, err := inference.NewRandomModel(cfg, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	if err := m.SaveWeights(dir); err != nil {
		t.Fatal(err)
	}
	if err := m.SaveConfig(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}
