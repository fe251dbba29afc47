package finetune

import (
	"context"
	"fmt"
	"sort"

	"github.com/captune/captune/finetune/metrics"
	"github.com/captune/captune/finetune/runinfo"
	"github.com/captune/captune/inference"
)

// CaptionExamples captions every example's image with c (on the calling goroutine, which must own
// the model) and returns captions by image path. Unreadable images are errors naming the file.
func CaptionExamples(ctx context.Context, c *inference.Captioner, ex []Example, opts inference.CaptionOptions, onProgress func(done, total int)) (map[string]string, error) {
	out := make(map[string]string, len(ex))
	bs := opts.BatchSize
	if bs <= 0 {
		bs = 8
	}
	for start := 0; start < len(ex); start += bs {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		end := min(start+bs, len(ex))
		imgs := make([]*inference.RGBImage, 0, end-start)
		for _, e := range ex[start:end] {
			img, err := inference.LoadImage(e.Image)
			if err != nil {
				return out, err
			}
			imgs = append(imgs, img)
		}
		caps, err := c.CaptionImages(ctx, imgs, opts, nil)
		if err != nil {
			return out, err
		}
		for i, cp := range caps {
			out[ex[start+i].Image] = cp.Text
		}
		if onProgress != nil {
			onProgress(end, len(ex))
		}
	}
	return out, nil
}

// Score computes the COCO caption metrics of candidates (by image path) against the examples'
// references, exactly as pycocoevalcap does.
func Score(ex []Example, cands map[string]string) (metrics.Scores, error) {
	refs := make(map[string][]string, len(ex))
	got := make(map[string]string, len(ex))
	for _, e := range ex {
		if len(e.Captions) == 0 {
			continue
		}
		refs[e.Image] = e.Captions
		c, ok := cands[e.Image]
		if !ok {
			return metrics.Scores{}, fmt.Errorf("no caption for %s", e.Image)
		}
		got[e.Image] = c
	}
	if len(refs) == 0 {
		return metrics.Scores{}, fmt.Errorf("no image of the split has a reference caption")
	}
	return metrics.Evaluate(refs, got)
}

// ImageComparison is one row of the before/after report.
type ImageComparison = runinfo.ImageComparison

// Comparison is the before/after evaluation of a fine-tuning run.
type Comparison = runinfo.Comparison

// Compare scores base and tuned captions (by image path) against the examples' references.
func Compare(ex []Example, base, tuned map[string]string) (Comparison, error) {
	before, err := Score(ex, base)
	if err != nil {
		return Comparison{}, fmt.Errorf("score base captions: %w", err)
	}
	after, err := Score(ex, tuned)
	if err != nil {
		return Comparison{}, fmt.Errorf("score fine-tuned captions: %w", err)
	}
	cmp := Comparison{Before: before, After: after}
	for _, e := range ex {
		if len(e.Captions) == 0 {
			continue
		}
		cmp.Images = append(cmp.Images, ImageComparison{
			Image: e.Image, References: e.Captions, Base: base[e.Image], Tuned: tuned[e.Image],
			BaseCIDEr: before.Images[e.Image].CIDErD, TunedCIDEr: after.Images[e.Image].CIDErD,
		})
	}
	// Largest improvement first: what users look at.
	sort.SliceStable(cmp.Images, func(i, j int) bool {
		return cmp.Images[i].TunedCIDEr-cmp.Images[i].BaseCIDEr > cmp.Images[j].TunedCIDEr-cmp.Images[j].BaseCIDEr
	})
	return cmp, nil
}

// DecodingSummary describes decoding settings beside reported scores, as papers do.
func DecodingSummary(o inference.CaptionOptions) string {
	d := o.Decode
	s := fmt.Sprintf("beam %d, length %d–%d", d.NumBeams, d.MinLength, d.MaxLength)
	if d.DoSample {
		s = fmt.Sprintf("sampling top-p %.2g temperature %.2g seed %d, length %d–%d", d.TopP, d.Temperature, d.Seed, d.MinLength, d.MaxLength)
	}
	if o.Prompt != "" {
		s += fmt.Sprintf(", prompt %q", o.Prompt)
	}
	return s
}
