package ui

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"fyne.io/fyne/v2/dialog"

	"github.com/captune/captune/finetune/runinfo"
	"github.com/captune/captune/internal/hub"
)

// Estimator is a Trainer that can measure a run before it starts (runinfo.Estimate: steps, step
// time, total time, memory, advice). Estimate writes nothing into the run folder and stops when
// ctx is cancelled.
type Estimator interface {
	Estimate(ctx context.Context, s TrainSettings, onProgress func(runinfo.Progress)) (runinfo.Estimate, error)
}

// longRun is the run time above which Start asks first.
const longRun = time.Hour

// estimateLine says the estimate in one line, e.g. "≈ 4:10 for 250 steps (1.0 s a step) · memory ≈ 1.2 GB of 20 GB".
func estimateLine(e runinfo.Estimate) string {
	s := fmt.Sprintf("≈ %s for %d steps (%.2g s a step)", formatDuration(e.Total), e.Steps, e.StepTime.Seconds())
	if e.CacheImages > 0 {
		// The run's steps leave the frozen encoder out: it runs once per image, before the first.
		s += fmt.Sprintf(" · caching %d image features ≈ %s", e.CacheImages, formatDuration(e.CacheTime))
	}
	if e.Memory > 0 {
		s += " · memory ≈ " + hub.FormatBytes(e.Memory) + methodsMemory(e)
		if e.Available > 0 {
			s += " of " + hub.FormatBytes(e.Available) + " free"
		}
	}
	return s
}

// methodsMemory names the run's method next to its memory and gives the other method's, so that
// the user sees what LoRA saves: " with LoRA (full fine-tuning ≈ 2.1 GB)". "" when the trainer
// measured one method only.
func methodsMemory(e runinfo.Estimate) string {
	if e.LoraMemory <= 0 || e.FullMemory <= 0 {
		return ""
	}
	if e.Method == MethodLora {
		return " with LoRA (full fine-tuning ≈ " + hub.FormatBytes(e.FullMemory) + ")"
	}
	return " with full fine-tuning (LoRA ≈ " + hub.FormatBytes(e.LoraMemory) + ")"
}

// tooBig says why a run needs the user's go-ahead: hours long, or more memory than is free.
func tooBig(e runinfo.Estimate) string {
	var why []string
	if e.Total >= longRun {
		why = append(why, fmt.Sprintf("This run takes about %s on this machine (%d steps of %.2g s, measured on %d steps).",
			hoursText(e.Total), e.Steps, e.StepTime.Seconds(), e.Calibrated))
	}
	if e.Available > 0 && e.Memory > e.Available {
		why = append(why, fmt.Sprintf("It needs about %s of memory; %s is free.", hub.FormatBytes(e.Memory), hub.FormatBytes(e.Available)))
	}
	return strings.Join(why, "\n")
}

func hoursText(d time.Duration) string {
	h := d.Hours()
	if h < 1 {
		return fmt.Sprintf("%d minutes", int(math.Round(d.Minutes())))
	}
	return fmt.Sprintf("%.1f hours", h)
}

// estimateThen measures the run when the trainer can (the panel shows it while it measures, and
// Cancel stops it), then calls then — at once for a short run, after asking for a long one.
func (t *finetuneTab) estimateThen(s TrainSettings, then func()) {
	est, ok := t.m.deps.Trainer.(Estimator)
	if !ok {
		then()
		return
	}
	ctx, cancel := context.WithCancel(t.m.ctx)
	t.running, t.cancel, t.done = true, cancel, make(chan struct{})
	t.phase.SetText("Estimating")
	t.line.SetText(fmt.Sprintf("Timing a few training steps of %s to estimate the run…", hub.ModelName(s.BaseModel)))
	t.syncButtons()
	done := t.done
	go func() {
		defer close(done)
		defer cancel()
		e, err := est.Estimate(ctx, s, func(runinfo.Progress) {})
		cancelled := ctx.Err() != nil
		onUI(func() { t.estimated(e, err, cancelled, then) })
	}()
}

// estimated shows the estimate and goes on (then), asks first, or reports why it could not measure.
func (t *finetuneTab) estimated(e runinfo.Estimate, err error, cancelled bool, then func()) {
	t.running, t.cancel = false, nil
	t.syncButtons()
	switch {
	case cancelled:
		t.phase.SetText("")
		t.line.SetText("Not started.")
		return
	case err != nil:
		t.phase.SetText("")
		t.line.SetText("Could not estimate the run.")
		t.m.showError("estimate the fine-tuning run", err, "The run would fail the same way: check the base model and the settings on the left.")
		return
	}
	t.phase.SetText("Estimate")
	t.line.SetText(estimateLine(e))
	t.estimate.SetText(fmt.Sprintf("Estimated before the start (%d steps measured on this machine): %s.", e.Calibrated, estimateLine(e)))
	t.estimate.Show()
	why := tooBig(e)
	if why == "" {
		then()
		return
	}
	msg := why
	if len(e.Advice) > 0 {
		msg += "\n\nCheaper:\n• " + strings.Join(e.Advice, "\n• ")
	}
	t.askStart("Start a long run?", msg, then)
}

// askStart asks title with msg and "Start anyway?"; then runs if the user says so.
func (t *finetuneTab) askStart(title, msg string, then func()) {
	d := dialog.NewConfirm(title, msg+"\n\nStart anyway?", func(ok bool) {
		if ok {
			then()
		}
	}, t.m.Window)
	d.SetConfirmText("Start anyway")
	d.SetDismissText("Cancel")
	d.Show()
}
