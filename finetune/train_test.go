package finetune

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/finetune/synth"
	"github.com/captune/captune/inference"
	"github.com/captune/captune/inference/safetensors"
)

const tinyModel = "../inference/testdata/models/tiny-a"

// synthData writes n synthetic images with captions and returns them as examples.
func synthData(t *testing.T, n int, variant synth.Variant, seed uint64) []Example {
	t.Helper()
	dir := t.TempDir()
	cfg := synth.Config{Variant: variant, Seed: seed, Size: 32}
	var ex []Example
	for i := 0; i < n; i++ {
		img, caption := synth.Generate(cfg, i)
		b, err := synth.EncodePNG(img)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, synth.FileName(i, n))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		ex = append(ex, Example{Image: p, Captions: []string{caption}})
	}
	return ex
}

func smallConfig(t *testing.T) Config {
	cfg := DefaultConfig()
	cfg.BaseModel = tinyModel
	cfg.OutDir = filepath.Join(t.TempDir(), "out")
	cfg.Device = "cpu"
	cfg.BatchSize = 4
	cfg.LR = 1e-3
	cfg.WarmupSteps = 2
	cfg.Epochs = 0
	cfg.MaxSteps = 12
	cfg.CheckpointEvery = 3
	return cfg
}

func TestResumeMatchesUninterruptedRun(t *testing.T) {
	data := Data{Train: synthData(t, 10, synth.VariantBase, 1)}
	full := smallConfig(t)
	res, err := Run(context.Background(), full, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Losses) != 12 {
		t.Fatalf("uninterrupted run: %d losses, want 12", len(res.Losses))
	}

	cut := smallConfig(t)
	ctx, cancel := context.WithCancel(context.Background())
	_, err = Run(ctx, cut, data, func(p Progress) {
		if p.Phase == "checkpoint" && p.Step == 6 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: err = %v, want context.Canceled", err)
	}
	cut.Resume = true
	res2, err := Run(context.Background(), cut, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res2.Resumed || len(res2.Losses) != 12 {
		t.Fatalf("resumed run: resumed=%v, %d losses, want 12", res2.Resumed, len(res2.Losses))
	}
	for i := range res.Losses {
		if d := math.Abs(res.Losses[i] - res2.Losses[i]); d > 1e-5 {
			t.Errorf("step %d: uninterrupted loss %.7f, resumed %.7f (diff %.2g > 1e-5)", i+1, res.Losses[i], res2.Losses[i], d)
		}
	}
	// The output is a model folder Captune loads.
	c, _, err := inference.LoadCaptioner(cut.OutDir, gotch.CPU)
	if err != nil {
		t.Fatalf("load the fine-tuned model: %v", err)
	}
	c.Free()
	if _, err := os.Stat(filepath.Join(cut.OutDir, "train_log.jsonl")); err != nil {
		t.Errorf("no train_log.jsonl: %v", err)
	}
}

func TestOverfitsTenImages(t *testing.T) {
	data := Data{Train: synthData(t, 10, synth.VariantBase, 3)}
	cfg := smallConfig(t)
	cfg.MaxSteps = 60
	cfg.BatchSize = 10
	cfg.LR = 3e-3
	cfg.CheckpointEvery = 0
	cfg.Recipe = inference.RecipeBLIP
	res, err := Run(context.Background(), cfg, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	first, last := res.Losses[0], res.Losses[len(res.Losses)-1]
	t.Logf("loss %.3f -> %.3f in %d steps", first, last, len(res.Losses))
	if last > first*0.5 {
		t.Errorf("loss fell only from %.3f to %.3f in %d steps on 10 images", first, last, len(res.Losses))
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	data := Data{Train: synthData(t, 2, synth.VariantBase, 1)}
	tests := []struct {
		name   string
		change func(*Config, *Data)
		want   string
	}{
		{"zero lr", func(c *Config, d *Data) { c.LR = 0 }, "learning rate 0"},
		{"nan lr", func(c *Config, d *Data) { c.LR = math.NaN() }, "learning rate NaN"},
		{"empty dataset", func(c *Config, d *Data) { d.Train = nil }, "no images"},
		{"no captions", func(c *Config, d *Data) {
			d.Train = []Example{{Image: d.Train[0].Image}}
		}, "none with a caption"},
		{"output exists", func(c *Config, d *Data) {
			os.MkdirAll(c.OutDir, 0o755)
			os.WriteFile(filepath.Join(c.OutDir, "x"), nil, 0o644)
		}, "--overwrite"},
		{"missing model", func(c *Config, d *Data) { c.BaseModel = t.TempDir() }, "no config.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := smallConfig(t)
			d := Data{Train: append([]Example(nil), data.Train...)}
			tc.change(&cfg, &d)
			_, err := Run(context.Background(), cfg, d, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestAdamWMatchesTorch takes one step of Captune's AdamW on the fixture batch and compares every
// parameter with torch.optim.AdamW's (see inference/parity_test.go for the gotch optimizer).
func TestAdamWMatchesTorch(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ts.MustGradSetEnabled(true)
	m, _, err := inference.LoadModel(tinyModel, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	f, err := safetensors.Open("../inference/testdata/parity/tiny-a.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pvAll, _ := f.Tensor("pixel_values")
	pv := pvAll.MustNarrow(0, 0, 2, true)
	defer pv.MustDrop()
	// The same two captions as the fixture: the parity json has their ids.
	meta := readParityMeta(t)
	b, err := m.PrepareBatch(meta.captions, meta.promptLen, inference.RecipeBLIP)
	if err != nil {
		t.Fatal(err)
	}
	var params []NamedParam
	for _, n := range m.Tensors() {
		params = append(params, NamedParam{n.Name, n.Tensor})
	}
	opt := NewAdamW(params, 1e-3, 0.9, 0.999, 1e-8, 0.05)
	defer opt.Free()
	opt.ZeroGrad()
	loss, err := m.Loss(pv, b)
	if err != nil {
		t.Fatal(err)
	}
	loss.MustBackward()
	loss.MustDrop()
	opt.StepOnce()
	after, err := safetensors.Open("../inference/testdata/parity/tiny-a-adamw.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()
	worst, name := 0.0, ""
	for _, p := range params {
		w, err := after.Tensor(p.Name)
		if err != nil {
			t.Fatal(err)
		}
		// Zero-gradient noise elements (attention key biases) are excluded as in inference's test.
		g := p.Tensor.MustGrad(false)
		diff := p.Tensor.MustSub(w, false).MustAbs(true)
		if g.MustDefined() {
			noise := g.MustAbs(false).MustLt(ts.FloatScalar(1e-6), true)
			diff = diff.MustMaskedFill(noise, ts.FloatScalar(0), true)
			noise.MustDrop()
		}
		g.MustDrop()
		d := diff.MustMax(true).Float64Values(true)[0]
		w.MustDrop()
		if d > worst {
			worst, name = d, p.Name
		}
	}
	t.Logf("max abs diff after one step: %.3g (%s)", worst, name)
	if worst > 1e-5 {
		t.Errorf("after one AdamW step %s differs from torch by %.3g > 1e-5", name, worst)
	}
}

// The final model folder shares its weights file with the checkpoint that holds the same weights
// (the last one without validation images, the best one with them) instead of writing a second
// copy, and it loads with those weights.
func TestFinalModelSharesCheckpointWeights(t *testing.T) {
	tests := []struct {
		name string
		val  bool
	}{
		{"last checkpoint", false},
		{"best checkpoint", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := Data{Train: synthData(t, 8, synth.VariantBase, 5)}
			cfg := smallConfig(t)
			cfg.MaxSteps, cfg.CheckpointEvery = 0, 0
			cfg.Epochs = 2
			if tt.val {
				data.Val = synthData(t, 4, synth.VariantBase, 6)
				cfg.EvalMaxLength, cfg.EvalMinLength, cfg.EvalBeams = 5, 1, 1
			}
			res, err := Run(context.Background(), cfg, data, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := res.LastCheckpoint
			if tt.val {
				want = filepath.Join(cfg.OutDir, "checkpoints", res.Best.Checkpoint)
			}
			final, err := os.Stat(filepath.Join(cfg.OutDir, "model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			ckpt, err := os.Stat(filepath.Join(want, "model.safetensors"))
			if err != nil {
				t.Fatalf("checkpoint %q: %v", want, err)
			}
			if !os.SameFile(final, ckpt) {
				t.Errorf("the final model.safetensors is a second copy, not the file of %s", want)
			}
			c, _, err := inference.LoadCaptioner(cfg.OutDir, gotch.CPU)
			if err != nil {
				t.Fatalf("load the fine-tuned model: %v", err)
			}
			c.Free()
		})
	}
}
