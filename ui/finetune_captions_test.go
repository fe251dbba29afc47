package ui

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/captune/captune/finetune/runinfo"
)

// captionsTrainer runs three epochs and, at each epoch end, reports the validation captions as
// finetune.Run does: first that the captioning started (no stats), then their stats.
type captionsTrainer struct{}

func (captionsTrainer) Train(ctx context.Context, s TrainSettings, onProgress func(runinfo.Progress)) (runinfo.Result, error) {
	res := runinfo.Result{OutDir: s.OutDir}
	const epochs, per = 3, 2
	for step := 1; step <= epochs*per; step++ {
		epoch := (step-1)/per + 1
		res.Losses = append(res.Losses, 1/float64(step))
		res.Steps = step
		onProgress(runinfo.Progress{Phase: "train", Step: step, Total: epochs * per, Epoch: epoch, Loss: 1 / float64(step), ValLoss: math.NaN()})
		if step%per != 0 {
			continue
		}
		onProgress(runinfo.Progress{Phase: "captions", Step: step, Total: epochs * per, Epoch: epoch, ValLoss: math.NaN(), Message: "captioning the validation images"})
		c := &runinfo.CaptionStats{CIDErD: 0.2 * float64(epoch), Identical: 0.1 * float64(epoch)}
		for i := range 3 {
			c.Examples = append(c.Examples, fmt.Sprintf("img%d.png: a red circle above square %d at epoch %d", i, i, epoch))
		}
		onProgress(runinfo.Progress{Phase: "captions", Step: step, Total: epochs * per, Epoch: epoch, ValLoss: math.NaN(),
			Message: "epoch captions", Captions: c})
	}
	onProgress(runinfo.Progress{Phase: "done", Step: epochs * per, Total: epochs * per, Message: "saved " + s.OutDir, ValLoss: math.NaN()})
	return res, nil
}

// A run plots its validation CIDEr-D and identical share once per epoch beside the loss and
// shows the last epoch's example captions; the next run starts with an empty plot.
func TestFineTunePlotsCaptionsPerEpoch(t *testing.T) {
	m := openFineTune(t, captionsTrainer{})
	runToEnd := func() {
		tap(m.ft.startBtn)
		waitFor(t, "the run to end", func() bool {
			var running bool
			onUIWait(func() { running = m.ft.running })
			return !running
		})
		settle(m)
	}
	if c, i := m.ft.capPlot.Points(); c != 0 || i != 0 || m.ft.examples.Visible() {
		t.Fatalf("before any run: %d CIDEr-D and %d identical points, examples shown %v", c, i, m.ft.examples.Visible())
	}
	runToEnd()
	if c, i := m.ft.capPlot.Points(); c != 3 || i != 3 {
		t.Errorf("after 3 epochs: %d CIDEr-D and %d identical points, want 3 and 3", c, i)
	}
	text := m.ft.examples.Text
	for _, want := range []string{"Epoch 3", "img0.png: “a red circle above square 0 at epoch 3”", "img2.png: “a red circle above square 2 at epoch 3”"} {
		if !strings.Contains(text, want) || !m.ft.examples.Visible() {
			t.Errorf("examples %q (shown %v), want %q shown", text, m.ft.examples.Visible(), want)
		}
	}
	if strings.Contains(text, "epoch 2") {
		t.Errorf("examples %q still show epoch 2's captions", text)
	}
	m.deps.Trainer = &fakeTrainer{steps: 4, epochs: 2}
	runToEnd()
	if c, i := m.ft.capPlot.Points(); c != 0 || i != 0 || m.ft.examples.Visible() {
		t.Errorf("a run without caption stats: %d and %d points, examples %q shown %v", c, i, m.ft.examples.Text, m.ft.examples.Visible())
	}
}

func TestExamplesText(t *testing.T) {
	tests := []struct {
		epoch    int
		examples []string
		want     string
	}{
		{1, nil, ""},
		{2, []string{"a.png: a cat"}, "Epoch 2 validation captions:\n  a.png: “a cat”"},
		{3, []string{"a: x", "b: y", "c: z", "d: w"}, "Epoch 3 validation captions:\n  a: “x”\n  b: “y”\n  c: “z”"},
		{4, []string{"no separator"}, "Epoch 4 validation captions:\n  no separator"},
	}
	for _, tc := range tests {
		if got := examplesText(tc.epoch, tc.examples); got != tc.want {
			t.Errorf("examplesText(%d, %q) = %q, want %q", tc.epoch, tc.examples, got, tc.want)
		}
	}
}
