package ui

import (
	"context"
	"math"
	"testing"

	"github.com/captune/captune/finetune/runinfo"
)

// cachingTrainer reports, as finetune.Run does with a frozen vision encoder, the image features it
// caches before the first step and what that saves.
type cachingTrainer struct{ fakeTrainer }

const cacheReport = "image features cached: the frozen vision encoder runs once per image (24 images: 24 in memory); saves ~2.5 min of encoding"

func (c *cachingTrainer) Train(ctx context.Context, s TrainSettings, onProgress func(runinfo.Progress)) (runinfo.Result, error) {
	for done := 8; done <= 24; done += 8 {
		onProgress(runinfo.Progress{Phase: "cache", Step: done, Total: 24, Message: "caching image features", ValLoss: math.NaN()})
	}
	onProgress(runinfo.Progress{Phase: "load", Message: cacheReport, ValLoss: math.NaN()})
	return c.fakeTrainer.Train(ctx, s, onProgress)
}

// A run that caches image features says so in the Fine-tune tab with the time it saves, and the
// note stays in view while the steps move the progress line on; a run without a cache shows none.
func TestFineTuneShowsFeatureCache(t *testing.T) {
	m := openFineTune(t, &cachingTrainer{fakeTrainer{steps: 4, epochs: 2}})
	if m.ft.cacheNote.Visible() {
		t.Fatalf("a cache note shows before any run: %q", m.ft.cacheNote.Text)
	}
	runToEnd := func() {
		tap(m.ft.startBtn)
		waitFor(t, "the run to end", func() bool {
			var running bool
			onUIWait(func() { running = m.ft.running })
			return !running
		})
		settle(m)
	}
	runToEnd()
	if got := m.ft.cacheNote.Text; got != cacheReport || !m.ft.cacheNote.Visible() {
		t.Errorf("cache note %q (shown %v), want %q shown", got, m.ft.cacheNote.Visible(), cacheReport)
	}
	m.deps.Trainer = &fakeTrainer{steps: 4, epochs: 2}
	runToEnd()
	if m.ft.cacheNote.Visible() || m.ft.cacheNote.Text != "" {
		t.Errorf("a run without a feature cache shows %q", m.ft.cacheNote.Text)
	}
}
