package finetune

import (
	"fmt"
	"math"
	"sort"

	"github.com/captune/captune/finetune/runinfo"
	"github.com/captune/captune/inference"
)

// Percentiles of the training captions' lengths that size the fine-tuned model's decoding: the
// shortest 5% and the longest 1% are outliers the model should not be held to.
const (
	minLengthPercentile = 5
	maxLengthPercentile = 99
)

// CaptionLengths is what the training captions' token lengths say, measured with the base model's
// tokenizer before training. Lengths count the [DEC] start token, the prompt and the caption's
// tokens, not the end token: the length a generated caption has when the end token is chosen.
type CaptionLengths struct {
	Captions   int // captions measured
	Shortest   int
	Longest    int
	Limit      int // Config.MaxTextLen: the training length with start and end tokens
	Cut        int // captions longer than Limit, cut in training
	MinLength  int // generation_config.json min_length: the 5th percentile, at least 1
	MaxLength  int // generation_config.json max_length: the 99th percentile and the end token, at most Limit
	NeededText int // the --max-text-len that cuts no caption
}

// measureCaptionLengths tokenizes every training caption as training does, but uncut.
func measureCaptionLengths(c *inference.Captioner, cfg Config, samples []sample) CaptionLengths {
	caps := make([]string, len(samples))
	for i, s := range samples {
		caps[i] = s.caption
	}
	ids, _ := c.EncodeCaptions(caps, cfg.Prompt, 0)
	lengths := make([]int, len(ids))
	for i, row := range ids {
		lengths[i] = len(row) - 1 // without [SEP]; [CLS] stands for [DEC]
	}
	return captionLengths(lengths, cfg.MaxTextLen)
}

// captionLengths summarises lengths (each without the end token) against the training limit.
func captionLengths(lengths []int, limit int) CaptionLengths {
	l := CaptionLengths{Captions: len(lengths), Limit: limit}
	if len(lengths) == 0 {
		return l
	}
	sorted := append([]int(nil), lengths...)
	sort.Ints(sorted)
	l.Shortest, l.Longest = sorted[0], sorted[len(sorted)-1]
	l.NeededText = l.Longest + 1
	for _, n := range sorted {
		if n+1 > limit {
			l.Cut++
		}
	}
	l.MinLength, l.MaxLength = generationLengths(sorted, limit)
	return l
}

// generationLengths picks min_length and max_length from sorted lengths: the 5th percentile
// (at least 1) and the 99th percentile plus the end token, capped at the training limit, since the
// model never learned to continue past it, and kept above min_length.
func generationLengths(sorted []int, limit int) (minLen, maxLen int) {
	minLen = max(1, percentile(sorted, minLengthPercentile))
	maxLen = min(percentile(sorted, maxLengthPercentile)+1, limit)
	if minLen >= maxLen {
		minLen = max(1, maxLen-1)
	}
	return minLen, maxLen
}

// percentile returns the nearest-rank p-th percentile of sorted (non-empty): the smallest value
// with at least p% of the values at or below it.
func percentile(sorted []int, p float64) int {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// Warning says how many captions training cuts, or "" when none is cut.
func (l CaptionLengths) Warning() string {
	if l.Cut == 0 {
		return ""
	}
	return fmt.Sprintf("warning: %d of %d captions are longer than %d tokens and will be cut: raise --max-text-len to %d",
		l.Cut, l.Captions, l.Limit, l.NeededText)
}

// String says the lengths and the decoding they set, for the end of a run.
func (l CaptionLengths) String() string {
	if l.Captions == 0 {
		return ""
	}
	return fmt.Sprintf("captions %d–%d tokens: generation_config.json min_length %d, max_length %d",
		l.Shortest, l.Longest, l.MinLength, l.MaxLength)
}

// checkCaptionLengths measures the training captions and reports the cut ones as a load message.
func checkCaptionLengths(c *inference.Captioner, cfg Config, samples []sample, onProgress func(Progress)) CaptionLengths {
	l := measureCaptionLengths(c, cfg, samples)
	if w := l.Warning(); w != "" {
		onProgress(Progress{Phase: runinfo.PhaseLoad, Message: w, ValLoss: math.NaN()})
	}
	return l
}

// setGenerationLengths makes the data's lengths the model's decoding lengths, over whatever the
// base model's generation_config.json said, so the saved model captions at the length people wrote.
func setGenerationLengths(c *inference.Captioner, l CaptionLengths) {
	if l.Captions == 0 {
		return
	}
	g := c.Generation
	set := make(map[string]bool, len(g.Set)+2)
	for k, v := range g.Set {
		set[k] = v
	}
	g.Options.MinLength, g.Options.MaxLength = l.MinLength, l.MaxLength
	set[inference.GenMinLength], set[inference.GenMaxLength] = true, true
	g.Set = set
	c.Generation = g
}
