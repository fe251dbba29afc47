package finetune

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/captune/captune/finetune/metrics"
	"github.com/captune/captune/finetune/runinfo"
	"github.com/captune/captune/inference"
)

// CaptionStats describe the validation captions a run's current weights write (see runinfo).
type CaptionStats = runinfo.CaptionStats

// Alarm thresholds, chosen roughly on the bundled sample (assets/model trained on assets/sample
// with its 10 validation images, 3 epochs): at the recommended learning rate (3e-4) every caption
// stays distinct, at most 10 % repeat and the mean length stays within 15 % of the references';
// at 10× (3e-3) 30 % repeat in the first epoch, then 10 %; at 33× (1e-2) 40–60 % of the images
// share a caption and 50–100 % repeat; at 170× (5e-2) every image gets the same looping caption
// from the first epoch. The margins over the references' own shares keep a domain whose
// references repeat from alarming.
const (
	// IdenticalAlarm: at least half of the images share their caption with another image.
	IdenticalAlarm = 0.5
	// RepeatAlarm: at least 30 % of the captions say a run of words twice in a row.
	RepeatAlarm = 0.3
	// LengthGapAlarm: the mean caption length is 40 % or more off the references' mean.
	LengthGapAlarm = 0.4
	// CIDErFallEpochs: CIDEr-D fell at this many epoch ends in a row, by CIDErFallShare of its
	// value before the fall in all: on the sample, CIDEr-D wobbles by up to 9 % over two epochs
	// while it climbs, and falls 15 % from epoch 4 to 6 at the recommended learning rate once
	// the small model starts to overfit (its best epoch was already behind it).
	CIDErFallEpochs = 2
	CIDErFallShare  = 0.1
	// referenceMargin is how far above the references' own share a share must be to alarm.
	referenceMargin = 0.2
	// exampleCaptions is how many example captions each epoch records.
	exampleCaptions = 3
)

// Alarm is one warning about the captions of an epoch, naming the likely cause and the remedy.
type Alarm = runinfo.Alarm

// captionStats measures cands (by image path) against the examples' references; examples without a
// reference are left out.
func captionStats(ex []Example, cands map[string]string) (CaptionStats, error) {
	var refs []Example
	for _, e := range ex {
		if len(nonEmpty(e.Captions)) > 0 {
			refs = append(refs, Example{Image: e.Image, Captions: nonEmpty(e.Captions)})
		}
	}
	sc, err := Score(refs, cands)
	if err != nil {
		return CaptionStats{}, err
	}
	st := CaptionStats{Images: len(refs), CIDErD: sc.CIDErD, BLEU4: sc.Bleu[3]}
	var texts []string
	var refWords, refCaps int
	for _, e := range refs {
		texts = append(texts, cands[e.Image])
		for _, r := range e.Captions {
			refWords += len(metrics.Tokenize(r))
			refCaps++
		}
	}
	st.Identical, st.Distinct1, st.Distinct2, st.Repeated, st.MeanLen = textStats(texts)
	st.RefLen = float64(refWords) / float64(max(refCaps, 1))
	for _, e := range refs[:min(exampleCaptions, len(refs))] {
		st.Examples = append(st.Examples, filepath.Base(e.Image)+": "+cands[e.Image])
	}
	return st, nil
}

// textStats returns the share of captions equal to another one, distinct-1 and distinct-2 (unique
// n-grams over all n-grams), the share of captions with words said twice in a row (see repeats), and the mean
// length in words.
func textStats(texts []string) (identical, distinct1, distinct2, repeated, meanLen float64) {
	if len(texts) == 0 {
		return 0, 0, 0, 0, 0
	}
	count := map[string]int{}
	uni, bi := map[string]bool{}, map[string]bool{}
	var nUni, nBi, words, reps int
	for _, t := range texts {
		toks := metrics.Tokenize(t)
		count[strings.Join(toks, " ")]++
		words += len(toks)
		for i, w := range toks {
			uni[w] = true
			nUni++
			if i > 0 {
				bi[toks[i-1]+" "+w] = true
				nBi++
			}
		}
		if repeats(toks) {
			reps++
		}
	}
	var dup int
	for _, n := range count {
		if n > 1 {
			dup += n
		}
	}
	n := float64(len(texts))
	return float64(dup) / n, ratio(len(uni), nUni), ratio(len(bi), nBi), float64(reps) / n, float64(words) / n
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// repeats reports whether a caption says a run of one to four words twice in a row ("post post",
// "on the table on the table"): the loops of a degenerate decoder. Words and pairs recurring apart
// are common in good captions ("a large green square left of a large green circle") and do not
// count: on the bundled sample they would alarm on healthy runs.
func repeats(toks []string) bool {
	for n := 1; n <= 4; n++ {
		for i := 0; i+2*n <= len(toks); i++ {
			if slices.Equal(toks[i:i+n], toks[i+n:i+2*n]) {
				return true
			}
		}
	}
	return false
}

// referenceStats are the identical and repeat shares of the references themselves (each image's
// first reference), the floor the candidates' shares are compared with.
func referenceStats(ex []Example) (identical, repeated float64) {
	var texts []string
	for _, e := range ex {
		if c := nonEmpty(e.Captions); len(c) > 0 {
			texts = append(texts, c[0])
		}
	}
	identical, _, _, repeated, _ = textStats(texts)
	return identical, repeated
}

// checkAlarms returns the alarms raised by the latest of history (one CaptionStats per epoch, in
// order) given the references' own identical and repeat shares.
func checkAlarms(history []CaptionStats, refIdentical, refRepeated float64) []Alarm {
	if len(history) == 0 {
		return nil
	}
	s := history[len(history)-1]
	var out []Alarm
	if s.Identical >= math.Max(IdenticalAlarm, refIdentical+referenceMargin) {
		out = append(out, Alarm{Kind: "identical", Message: fmt.Sprintf("%.0f%% of the validation images get the same caption as another image: the model is collapsing, usually from a learning rate too high or too many epochs; lower the learning rate, train fewer epochs, freeze the vision encoder (--freeze-vision), or add more (or approved) captions", 100*s.Identical)})
	}
	if s.Repeated >= math.Max(RepeatAlarm, refRepeated+referenceMargin) {
		out = append(out, Alarm{Kind: "repetition", Message: fmt.Sprintf("%.0f%% of the validation captions repeat words: lower the learning rate or train fewer epochs, and check the training captions for repeats", 100*s.Repeated)})
	}
	if s.RefLen > 0 && math.Abs(s.MeanLen-s.RefLen)/s.RefLen >= LengthGapAlarm {
		out = append(out, Alarm{Kind: "length", Message: fmt.Sprintf("captions average %.1f words against the references' %.1f: lower the learning rate or train fewer epochs, and check that the captions fit the training length", s.MeanLen, s.RefLen)})
	}
	if len(history) > CIDErFallEpochs {
		before := history[len(history)-1-CIDErFallEpochs].CIDErD
		falling := s.CIDErD <= before*(1-CIDErFallShare)
		for i := len(history) - CIDErFallEpochs; i < len(history); i++ {
			falling = falling && history[i].CIDErD < history[i-1].CIDErD
		}
		if falling {
			out = append(out, Alarm{Kind: "cider", Message: fmt.Sprintf("validation CIDEr-D fell %d epochs in a row (%s → %s): the model is overfitting; train fewer epochs, lower the learning rate, or add more data", CIDErFallEpochs, metrics.Percent(history[len(history)-1-CIDErFallEpochs].CIDErD), metrics.Percent(s.CIDErD))})
		}
	}
	return out
}

// alarmText joins alarms' messages for one line.
func alarmText(alarms []Alarm) string {
	msgs := make([]string, len(alarms))
	for i, a := range alarms {
		msgs[i] = a.Message
	}
	return strings.Join(msgs, "; ")
}

func nonEmpty(caps []string) []string {
	var out []string
	for _, c := range caps {
		if strings.TrimSpace(c) != "" {
			out = append(out, c)
		}
	}
	return out
}

// captionWatch captions the validation images at each epoch end with the run's current weights and
// raises alarms; a nil *captionWatch (no validation image with a reference) does nothing.
type captionWatch struct {
	val                       []Example // sorted by image path, each with a reference
	opts                      inference.CaptionOptions
	history                   []CaptionStats
	refIdentical, refRepeated float64
}

// newCaptionWatch returns the watch for a run, or nil when no validation image has a reference.
func newCaptionWatch(cfg Config, val []Example) *captionWatch {
	var ex []Example
	for _, e := range val {
		if len(nonEmpty(e.Captions)) > 0 {
			ex = append(ex, e)
		}
	}
	if len(ex) == 0 {
		return nil
	}
	sort.Slice(ex, func(i, j int) bool { return ex[i].Image < ex[j].Image })
	w := &captionWatch{val: ex, opts: watchOptions(cfg)}
	w.refIdentical, w.refRepeated = referenceStats(ex)
	return w
}

// watchOptions is greedy decoding with the run's evaluation lengths and prompt: the cheapest
// decoding that shows a collapse.
func watchOptions(cfg Config) inference.CaptionOptions {
	d := inference.DefaultDecodeOptions()
	if cfg.EvalMaxLength > 0 {
		d.MaxLength = cfg.EvalMaxLength
	}
	d.MinLength = cfg.EvalMinLength
	return inference.CaptionOptions{Decode: d, Prompt: cfg.Prompt, StripPrompt: true, BatchSize: cfg.BatchSize}
}

// epochEnd captions the validation images, records the stats and alarms in the log, reports them
// as Phase "captions" (a first report without Captions says the captioning started), and returns
// the alarms.
func (w *captionWatch) epochEnd(ctx context.Context, c *inference.Captioner, p Progress, logLine func(any), onProgress func(Progress)) ([]Alarm, error) {
	if w == nil {
		return nil, nil
	}
	onProgress(Progress{Phase: runinfo.PhaseCaptions, Step: p.Step, Total: p.Total, Epoch: p.Epoch, ValLoss: math.NaN(),
		Message: fmt.Sprintf("epoch %d: captioning the validation images…", p.Epoch)})
	cands, err := CaptionExamples(ctx, c, w.val, w.opts, nil)
	if err != nil {
		return nil, fmt.Errorf("caption validation images: %w", err)
	}
	st, err := captionStats(w.val, cands)
	if err != nil {
		return nil, fmt.Errorf("score validation captions: %w", err)
	}
	if captionStatsHook != nil {
		captionStatsHook(p.Epoch, &st)
	}
	w.history = append(w.history, st)
	alarms := checkAlarms(w.history, w.refIdentical, w.refRepeated)
	line := map[string]any{"step": p.Step, "epoch": p.Epoch, "captions": st}
	if len(alarms) > 0 {
		line["alarms"] = alarms
	}
	logLine(line)
	onProgress(Progress{Phase: runinfo.PhaseCaptions, Step: p.Step, Total: p.Total, Epoch: p.Epoch, ValLoss: math.NaN(),
		Captions: &st, Alarm: alarmText(alarms), Message: fmt.Sprintf("epoch %d captions: %s", p.Epoch, st)})
	return alarms, nil
}

// watchEpoch runs the caption watch at an epoch end and records its stats and alarms in res; with
// cfg.StopOnAlarm an alarm marks the run to stop once the epoch's checkpoint is written.
func watchEpoch(ctx context.Context, w *captionWatch, c *inference.Captioner, cfg Config, res *Result, p Progress, logLine func(any), onProgress func(Progress)) error {
	if w == nil {
		return nil
	}
	alarms, err := w.epochEnd(ctx, c, p, logLine, onProgress)
	if err != nil {
		return err
	}
	res.Captions = append(res.Captions, w.history[len(w.history)-1])
	res.Alarms = append(res.Alarms, alarms...)
	if len(alarms) > 0 && cfg.StopOnAlarm {
		res.StoppedByAlarm = true
		logLine(map[string]any{"step": p.Step, "epoch": p.Epoch, "stopped_by_alarm": true})
	}
	return nil
}
