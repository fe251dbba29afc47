package finetune

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/captune/captune/finetune/metrics"
	"github.com/captune/captune/finetune/synth"
	"github.com/captune/captune/inference"
)

// heldOutSeed is a base-domain seed that scripts/make_bundled.sh never trains on (it uses 11 for the
// training images and 7 for the textures sample).
const heldOutSeed = 4242

// TestBundledModelOnFreshBaseImages does what a user does to see how good the bundled model is on
// its own domain: `captune synth --variant base` writes 100 images it never saw, at the bundled
// sample's size, and the model captions them with the decoding a user gets without setting any:
// Captune's defaults (3 beams, 5–20 tokens) under the model's generation_config.json, whose
// min_length 1 lets three-word captions such as "a blue square" (4 tokens with [DEC]) through. At
// least 80 % of the captions must equal the reference word for word, and CIDEr-D must reach 300 (×100).
func TestBundledModelOnFreshBaseImages(t *testing.T) {
	model, sample := "../assets/model", "../assets/sample"
	if _, err := os.Stat(filepath.Join(model, "config.json")); err != nil {
		t.Skipf("no bundled model in %s (scripts/make_bundled.sh builds it): %v", model, err)
	}
	size := sampleImageSize(t, sample)
	dir := t.TempDir()
	const n = 100
	cfg := synth.Config{Variant: synth.VariantBase, Seed: heldOutSeed, Size: size}
	if err := synth.WriteDataset(context.Background(), dir, cfg, n, synth.FormatSidecar, nil); err != nil {
		t.Fatal(err)
	}
	c, _, err := inference.LoadCaptioner(model, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Free()

	imgs := make([]*inference.RGBImage, n)
	refs := map[string][]string{}
	for i := range n {
		path := filepath.Join(dir, synth.FileName(i, n))
		if imgs[i], err = inference.LoadImage(path); err != nil {
			t.Fatal(err)
		}
		ref, err := os.ReadFile(strings.TrimSuffix(path, ".png") + ".txt")
		if err != nil {
			t.Fatal(err)
		}
		refs[path] = []string{strings.TrimSpace(string(ref))}
	}
	opts := inference.CaptionOptions{Decode: c.Generation.Apply(inference.CaptuneDecodeOptions(), nil), BatchSize: 25}
	caps, err := c.CaptionImages(context.Background(), imgs, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	cands := map[string]string{}
	exact := 0
	for i, got := range caps {
		path := filepath.Join(dir, synth.FileName(i, n))
		cands[path] = got.Text
		if got.Text == refs[path][0] {
			exact++
		} else if testing.Verbose() {
			t.Logf("%s: %q, reference %q", synth.FileName(i, n), got.Text, refs[path][0])
		}
	}
	scores, err := metrics.Evaluate(refs, cands)
	if err != nil {
		t.Fatal(err)
	}
	cider := 100 * scores.CIDErD
	d := opts.Decode
	t.Logf("%d px, seed %d, %d beams, length %d–%d: %d/%d captions equal the reference, CIDEr-D %.1f, BLEU-4 %.1f",
		size, heldOutSeed, d.NumBeams, d.MinLength, d.MaxLength, exact, n, cider, 100*scores.Bleu[3])
	if exact < 80*n/100 {
		t.Errorf("%d/%d captions equal the reference, want at least 80 %%", exact, n)
	}
	if cider < 300 {
		t.Errorf("CIDEr-D %.1f, want at least 300", cider)
	}
}

// sampleImageSize is the width of the bundled sample's first image: fresh images are drawn at the
// size the demo shows.
func sampleImageSize(t *testing.T, sample string) int {
	t.Helper()
	pngs, _ := filepath.Glob(filepath.Join(sample, "*.png"))
	if len(pngs) == 0 {
		t.Skipf("no bundled sample images in %s", sample)
	}
	img, err := inference.LoadImage(pngs[0])
	if err != nil {
		t.Fatal(err)
	}
	return img.W
}
