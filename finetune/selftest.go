package finetune

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/inference"
)

// Check is one self-test result.
type Check struct {
	Name   string
	Pass   bool
	Figure string // the measured number(s) behind the verdict
}

// SelfTestOptions configures SelfTest.
type SelfTestOptions struct {
	Model       string    // model folder
	Examples    []Example // at least 10 captioned images for the overfit and beam checks
	Device      string
	OverfitStep int // optimizer steps for the overfit check (default 150)
}

// SelfTest runs the checks a user runs when fine-tuning looks wrong (see docs/BLIP.md's pitfalls):
// start tokens agree between training and generation, labels are shifted exactly once, pads and
// prompt tokens are outside the original recipe's loss, the model can overfit 10 images, and
// batched beam search runs. Each check is reported through onCheck as it finishes.
func SelfTest(ctx context.Context, o SelfTestOptions, onCheck func(Check)) ([]Check, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ts.MustGradSetEnabled(true)
	device, err := inference.ParseDevice(o.Device)
	if err != nil {
		return nil, err
	}
	c, _, err := inference.LoadCaptioner(o.Model, device)
	if err != nil {
		return nil, err
	}
	defer c.Free()
	if len(o.Examples) < 10 {
		return nil, fmt.Errorf("self-test needs 10 captioned images, got %d", len(o.Examples))
	}
	ex := o.Examples[:10]
	var checks []Check
	report := func(ch Check) {
		checks = append(checks, ch)
		if onCheck != nil {
			onCheck(ch)
		}
	}
	imgs := make([]*inference.RGBImage, len(ex))
	caps := make([]string, len(ex))
	for i, e := range ex {
		img, err := inference.LoadImage(e.Image)
		if err != nil {
			return checks, err
		}
		imgs[i], caps[i] = inference.ResizeImage(img, c.Pre), e.Captions[0]
	}
	cfg := c.Model.Config.Text

	// 1. Start tokens.
	ids, promptLen := c.EncodeCaptions(caps[:2], "", 40)
	b, err := c.Model.PrepareBatch(ids, promptLen, inference.RecipeBLIP)
	if err != nil {
		return checks, err
	}
	report(Check{"training and generation start from the same token", b.InputIDs[0][0] == cfg.BosTokenID,
		fmt.Sprintf("train starts with id %d, generate() with id %d (bos_token_id)", b.InputIDs[0][0], cfg.BosTokenID)})

	// 2 and 3: the loss against hand-computed cross-entropies.
	pix, err := c.Pixels(imgs[:2])
	if err != nil {
		return checks, err
	}
	shiftOK, shiftFig, maskOK, maskFig := lossChecks(c, pix, ids, b)
	pix.MustDrop()
	report(Check{"labels are shifted exactly once", shiftOK, shiftFig})
	report(Check{"pads and prompt tokens are outside the loss (original recipe)", maskOK, maskFig})

	// 4. Overfit 10 images.
	steps := o.OverfitStep
	if steps <= 0 {
		steps = 150
	}
	first, last, exact, err := overfit(ctx, c, imgs, caps, steps)
	if err != nil {
		return checks, err
	}
	drop := 1 - last/first
	report(Check{"the model can overfit 10 images", drop >= 0.9 && exact == len(imgs),
		fmt.Sprintf("loss %.3f -> %.3f (-%.0f%%) in %d steps; %d/%d greedy captions equal the training captions", first, last, 100*drop, steps, exact, len(imgs))})

	// 5. Batched beam search.
	opts := inference.CaptionOptions{Decode: inference.DefaultDecodeOptions(), BatchSize: 4}
	opts.Decode.NumBeams = 3
	out, err := c.CaptionImages(ctx, imgs[:4], opts, nil)
	ok := err == nil && len(out) == 4
	fig := fmt.Sprintf("%d captions for 4 images with 3 beams", len(out))
	if err != nil {
		fig = err.Error()
	}
	report(Check{"beam search with 3 beams over a batch of 4 images", ok, fig})
	return checks, nil
}

// lossChecks recomputes the original-recipe loss by hand from the logits, with the labels shifted
// once and twice, and with pads counted.
func lossChecks(c *inference.Captioner, pix *ts.Tensor, ids [][]int64, b inference.DecoderBatch) (bool, string, bool, string) {
	ng := ts.NewNoGradGuard()
	defer ng.Drop()
	loss, err := c.Model.Loss(pix, b)
	if err != nil {
		return false, err.Error(), false, err.Error()
	}
	got := loss.Float64Values(true)[0]
	in := ts.MustOfSlice(flatten(b.InputIDs)).MustView([]int64{int64(len(b.InputIDs)), -1}, true)
	att := ts.MustOfSlice(flatten(b.Attention)).MustView([]int64{int64(len(b.InputIDs)), -1}, true)
	logits := c.Model.Logits(pix, in, att).MustTo(gotch.CPU, true)
	lp := logits.MustLogSoftmax(-1, gotch.Float, true)
	defer lp.MustDrop()
	in.MustDrop()
	att.MustDrop()
	v := int(c.Model.Config.Text.VocabSize)
	// Hand-computed smoothed cross-entropy over positions whose label is counted.
	ce := func(shift int, countPads bool) float64 {
		var sum float64
		var n int
		for r, row := range b.InputIDs {
			for t := 0; t+shift < len(row); t++ {
				label := b.Labels[r][t+shift]
				if countPads {
					label = b.InputIDs[r][t+shift]
					if t+shift == 0 {
						continue
					}
				}
				if label < 0 {
					continue
				}
				logp := lp.MustSelect(0, int64(r), false).MustSelect(0, int64(t), true)
				vals := logp.Float64Values(true)
				var mean float64
				for _, x := range vals {
					mean += x
				}
				mean /= float64(v)
				sum += -(0.9*vals[label] + 0.1*mean)
				n++
			}
		}
		return sum / float64(n)
	}
	once, twice, withPads := ce(1, false), ce(2, false), ce(1, true)
	shiftOK := math.Abs(once-got) < 1e-4*math.Abs(got) && math.Abs(twice-got) > 1e-3
	shiftFig := fmt.Sprintf("loss %.5f; by hand with labels shifted once %.5f, twice %.5f", got, once, twice)
	pads := 0
	for r := range b.Labels {
		for t := range b.Labels[r] {
			if b.Attention[r][t] == 0 && b.Labels[r][t] == -100 {
				pads++
			}
		}
	}
	// The prompt: with "a picture of", the labels of [DEC] and the prompt's tokens are -100 and the
	// first caption token is counted.
	const prompt = "a picture of"
	pids, plen := c.EncodeCaptions([]string{"a test"}, prompt, 40)
	pb, err := c.Model.PrepareBatch(pids, plen, inference.RecipeBLIP)
	promptOK := err == nil && plen > 1 && pb.Labels[0][plen] >= 0
	for t := 0; promptOK && t < plen; t++ {
		promptOK = pb.Labels[0][t] == -100
	}
	maskOK := math.Abs(withPads-got) > 1e-4 && pads > 0 && allPadsIgnored(b) && promptOK
	maskFig := fmt.Sprintf("%d pad positions labelled -100 (loss %.5f, %.5f if pads counted); prompt %q: first %d labels -100: %v", pads, got, withPads, prompt, plen, promptOK)
	return shiftOK, shiftFig, maskOK, maskFig
}

func allPadsIgnored(b inference.DecoderBatch) bool {
	for r := range b.Labels {
		for t := range b.Labels[r] {
			if b.Attention[r][t] == 0 && b.Labels[r][t] != -100 {
				return false
			}
		}
	}
	return true
}

func flatten(rows [][]int64) []int64 {
	var out []int64
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

// overfit trains on the images for steps full-batch AdamW steps and reports the first and last
// loss and how many greedy captions then equal their training caption.
func overfit(ctx context.Context, c *inference.Captioner, imgs []*inference.RGBImage, caps []string, steps int) (float64, float64, int, error) {
	params := trainable(c.Model, Config{})
	opt := NewAdamW(params, 1e-3, 0.9, 0.999, 1e-8, 0)
	defer opt.Free()
	ids, promptLen := c.EncodeCaptions(caps, "", 40)
	b, err := c.Model.PrepareBatch(ids, promptLen, inference.RecipeBLIP)
	if err != nil {
		return 0, 0, 0, err
	}
	b.Smoothing = 0 // the overfit check wants the loss able to reach ~0
	pix, err := c.Pixels(imgs)
	if err != nil {
		return 0, 0, 0, err
	}
	defer pix.MustDrop()
	var first, last float64
	for s := 0; s < steps; s++ {
		if err := ctx.Err(); err != nil {
			return 0, 0, 0, err
		}
		opt.ZeroGrad()
		loss, err := c.Model.Loss(pix, b)
		if err != nil {
			return 0, 0, 0, err
		}
		v := loss.Float64Values()[0]
		if err := loss.Backward(); err != nil {
			loss.MustDrop()
			return 0, 0, 0, err
		}
		loss.MustDrop()
		opt.StepOnce()
		if s == 0 {
			first = v
		}
		last = v
	}
	out, err := c.CaptionImages(ctx, imgs, inference.CaptionOptions{Decode: inference.DefaultDecodeOptions(), BatchSize: len(imgs)}, nil)
	if err != nil {
		return first, last, 0, err
	}
	exact := 0
	for i, o := range out {
		if normalizeCaption(o.Text) == normalizeCaption(caps[i]) {
			exact++
		}
	}
	return first, last, exact, nil
}

// normalizeCaption compares captions as the tokenizer sees them: lower case, no punctuation spacing.
func normalizeCaption(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimRight(s, ".")
	return strings.Join(strings.Fields(s), " ")
}
