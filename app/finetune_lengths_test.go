package app

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/captune/captune/finetune/synth"
	"github.com/captune/captune/inference"
)

// TestFinetuneLengthsFromData runs captune finetune with a --max-text-len shorter than the
// captions, as a user would: the CLI warns how many captions are cut and which length fits them,
// and ends saying the decoding lengths it wrote into the model's generation_config.json.
func TestFinetuneLengthsFromData(t *testing.T) {
	model := tinyModel(t)
	data := filepath.Join(t.TempDir(), "data")
	if err := synth.WriteDataset(context.Background(), data, synth.Config{Variant: synth.VariantBase, Seed: 1, Size: 32}, 8, synth.FormatSidecar, nil); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := runCLI(t, "finetune", "--model", model, "--data", data, "--out", out, "--device", "cpu",
		"--max-steps", "1", "--batch-size", "4", "--no-estimate", "--holdout", "none", "--max-text-len", "5")
	if code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
	}
	assertInOrder(t, "stderr", stderr, []string{"warning: 6 of 8 captions are longer than 5 tokens and will be cut: raise --max-text-len to 12\n"})
	g, err := inference.ReadGenerationConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	if g.Options.MaxLength != 5 {
		t.Errorf("generation_config.json max_length %d, want 5 (capped at --max-text-len)", g.Options.MaxLength)
	}
	assertInOrder(t, "stdout", stdout, []string{"fine-tuned 1 steps", "\ncaptions ", " tokens: generation_config.json min_length ", ", max_length 5\n"})
}
