package app

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/captune/captune/finetune/synth"
)

// TestFinetuneFeatureCache runs captune finetune as a user would: with --freeze-vision the run
// says, before its first step, that the image features are cached and how much encoding that
// saves, and ends saying it again; training the encoder, augmenting, or --feature-cache off says
// nothing of the kind.
func TestFinetuneFeatureCache(t *testing.T) {
	model := tinyModel(t)
	data := filepath.Join(t.TempDir(), "data")
	if err := synth.WriteDataset(context.Background(), data, synth.Config{Variant: synth.VariantBase, Seed: 1, Size: 32}, 8, synth.FormatSidecar, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		flags  []string
		cached bool
	}{
		{"frozen", []string{"--freeze-vision"}, true},
		{"frozen, on disk", []string{"--freeze-vision", "--feature-cache", "disk"}, true},
		{"trained encoder", nil, false},
		{"augmented", []string{"--freeze-vision", "--augment"}, false},
		{"off", []string{"--freeze-vision", "--feature-cache", "off"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			args := append([]string{"finetune", "--model", model, "--data", data, "--out", out, "--device", "cpu",
				"--max-steps", "4", "--batch-size", "4", "--no-estimate", "--holdout", "none"}, tc.flags...)
			code, stdout, stderr := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
			}
			if !tc.cached {
				if strings.Contains(stderr+stdout, "image features cached") {
					t.Errorf("a run without the cache says it caches:\n%s%s", stderr, stdout)
				}
				return
			}
			where := "8 in memory"
			if strings.Contains(strings.Join(tc.flags, " "), "disk") {
				where = "0 in memory, 8 on disk as fp16 in " + filepath.Join(out, "feature-cache")
			}
			line := "image features cached: the frozen vision encoder runs once per image (8 images: " + where + "); saves ~"
			// The step line is redrawn at most a few times a second, so which steps it shows depends
			// on the machine's speed; it comes after the cache's line.
			assertInOrder(t, "stderr", stderr, []string{"caching image features: 8/8 images", "\n" + line, "\rstep "})
			assertInOrder(t, "stdout", stdout, []string{"fine-tuned 4 steps", "\n" + line})
		})
	}
}
