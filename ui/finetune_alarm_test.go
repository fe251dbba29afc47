package ui

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/captune/captune/finetune/runinfo"
)

// alarmingTrainer runs two epochs whose validation captions collapse at the second, as
// finetune.Run reports it: a "captions" report at each epoch end, the second with an alarm.
type alarmingTrainer struct{}

const collapseAlarm = "100% of the validation images get the same caption as another image: lower the learning rate, train fewer epochs"

func (alarmingTrainer) Train(ctx context.Context, s TrainSettings, onProgress func(runinfo.Progress)) (runinfo.Result, error) {
	res := runinfo.Result{OutDir: s.OutDir}
	for step := 1; step <= 4; step++ {
		res.Losses = append(res.Losses, 1/float64(step))
		res.Steps = step
		onProgress(runinfo.Progress{Phase: "train", Step: step, Total: 4, Epoch: (step + 1) / 2, Loss: 1 / float64(step), ValLoss: math.NaN()})
		if step%2 == 0 {
			p := runinfo.Progress{Phase: "captions", Step: step, Total: 4, Epoch: step / 2, ValLoss: math.NaN(), Message: "epoch captions: CIDEr-D 12.0"}
			if step == 4 {
				p.Alarm = collapseAlarm
			}
			onProgress(p)
			onProgress(runinfo.Progress{Phase: "checkpoint", Step: step, Total: 4, Epoch: step / 2, ValLoss: math.NaN()})
		}
	}
	onProgress(runinfo.Progress{Phase: "done", Step: 4, Total: 4, Message: "saved " + s.OutDir, ValLoss: math.NaN()})
	return res, nil
}

// A run whose captions collapse says so in the Fine-tune tab, with the remedy, and the warning
// stays after the run ends; the next run starts without it.
func TestFineTuneShowsCaptionAlarm(t *testing.T) {
	m := openFineTune(t, alarmingTrainer{})
	if m.ft.alarm.Visible() {
		t.Fatalf("an alarm shows before any run: %q", m.ft.alarm.Text)
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
	if got, want := m.ft.alarm.Text, "Epoch 2: "+collapseAlarm; got != want || !m.ft.alarm.Visible() {
		t.Errorf("alarm %q (shown %v), want %q shown", got, m.ft.alarm.Visible(), want)
	}
	if !strings.Contains(m.ft.line.Text, "4 steps") {
		t.Errorf("line %q, want the finished run's summary", m.ft.line.Text)
	}
	m.deps.Trainer = &fakeTrainer{steps: 4, epochs: 2}
	runToEnd()
	if m.ft.alarm.Visible() || m.ft.alarm.Text != "" {
		t.Errorf("a run without an alarm shows %q", m.ft.alarm.Text)
	}
}

// cuttingTrainer warns before training, as finetune.Run does, that captions are longer than the
// training length.
type cuttingTrainer struct{ fakeTrainer }

const cutWarning = "3 of 24 captions are longer than 40 tokens and will be cut: raise --max-text-len to 52"

func (c *cuttingTrainer) Train(ctx context.Context, s TrainSettings, onProgress func(runinfo.Progress)) (runinfo.Result, error) {
	onProgress(runinfo.Progress{Phase: "load", Message: "warning: " + cutWarning, ValLoss: math.NaN()})
	return c.fakeTrainer.Train(ctx, s, onProgress)
}

// A run whose captions training cuts says how many in the Fine-tune tab, and the warning stays in
// view after the steps have moved the progress line on.
func TestFineTuneShowsCutCaptionsWarning(t *testing.T) {
	m := openFineTune(t, &cuttingTrainer{fakeTrainer{steps: 4, epochs: 2}})
	tap(m.ft.startBtn)
	waitFor(t, "the run to end", func() bool {
		var running bool
		onUIWait(func() { running = m.ft.running })
		return !running
	})
	settle(m)
	if got := m.ft.alarm.Text; got != cutWarning || !m.ft.alarm.Visible() {
		t.Errorf("warning %q (shown %v), want %q shown", got, m.ft.alarm.Visible(), cutWarning)
	}
}
