package ui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/captune/captune/finetune/runinfo"
)

// The Fine-tune panel shows the numbers a run will use: the base model's advice where the user has
// not typed a value, the defaults for a model without advice, and what the user typed always.
func TestFineTuneFollowsBaseModelAdvice(t *testing.T) {
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "config.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	deps := testDeps(&fakeCaptioner{name: "fake"})
	deps.RunsDir = t.TempDir()
	deps.Advise = func(dir string) (TrainingAdvice, bool) {
		if dir != deps.DefaultModel {
			return TrainingAdvice{}, false
		}
		return TrainingAdvice{Epochs: 40, LR: 3e-4, BatchSize: 8, Note: "Small model."}, true
	}
	m, _ := openWindow(t, deps, makeDataset(t, 4, map[int]string{0: "a", 1: "b", 2: "c", 3: "d"}))
	onUIWait(func() { m.Tabs.SelectIndex(1) })
	ft := m.ft
	if ft.progress.Visible() {
		t.Error("the progress bar shows before any run (an empty bar reads as a full one)")
	}
	fields := func() [3]string { return [3]string{ft.epochs.Text, ft.lr.Text, ft.batch.Text} }
	if got, want := fields(), [3]string{"40", "0.0003", "8"}; got != want || !ft.advice.Visible() {
		t.Errorf("bundled model: fields %v (advice shown %v), want %v with the advice shown", got, ft.advice.Visible(), want)
	}
	onUIWait(func() { m.models.choose(other) })
	ft.base.SetSelected(m.models.labelOf(other))
	if got, want := fields(), [3]string{"5", "2e-05", "8"}; got != want || ft.advice.Visible() {
		t.Errorf("model without advice: fields %v (advice shown %v), want the defaults %v", got, ft.advice.Visible(), want)
	}
	ft.lr.SetText("1e-4")
	ft.base.SetSelected(labelBundled)
	if got, want := fields(), [3]string{"40", "1e-4", "8"}; got != want {
		t.Errorf("after typing a learning rate: fields %v, want %v", got, want)
	}
	s, _, err := ft.settings()
	if err != nil || s.LR != 1e-4 || s.Epochs != 40 {
		t.Errorf("settings %+v (%v), want lr 1e-4 and 40 epochs", s, err)
	}
	// The typed learning rate is remembered; the advised epochs are not.
	d, _, _ := ft.settings()
	saveTraining(m.prefs, trainDefaults{Epochs: d.Epochs, LR: d.LR, Batch: d.BatchSize}, ft.numbers.typed)
	if c := chosenTraining(m.prefs); !c[prefTrainLR] || c[prefTrainEpochs] || c[prefTrainBatch] {
		t.Errorf("remembered as typed: %v, want the learning rate only", c)
	}
}

// estimatingTrainer measures a run as the real trainer does, with a fixed answer.
type estimatingTrainer struct {
	fakeTrainer
	est       runinfo.Estimate
	estimated int
}

func (e *estimatingTrainer) Estimate(ctx context.Context, s TrainSettings, onProgress func(runinfo.Progress)) (runinfo.Estimate, error) {
	e.estimated++
	return e.est, ctx.Err()
}

// Start measures the run first; a run of hours (or more memory than is free) asks, with the
// cheaper settings, and Cancel leaves nothing started.
func TestFineTuneEstimateBeforeStart(t *testing.T) {
	advice := []string{"Training only the text decoder takes about 40 minutes."}
	tests := []struct {
		name    string
		est     runinfo.Estimate
		asks    bool
		answer  string // dialog button
		started bool
	}{
		{"short run starts", runinfo.Estimate{Steps: 40, StepTime: time.Second, Total: 50 * time.Second, Memory: 1 << 30, Available: 8 << 30, Calibrated: 3}, false, "", true},
		{"hours ask, cancel", runinfo.Estimate{Steps: 40, StepTime: 270 * time.Second, Total: 3 * time.Hour, Memory: 1 << 30, Calibrated: 3, Advice: advice}, true, "Cancel", false},
		{"hours ask, start", runinfo.Estimate{Steps: 40, StepTime: 270 * time.Second, Total: 3 * time.Hour, Calibrated: 3, Advice: advice}, true, "Start anyway", true},
		{"memory asks", runinfo.Estimate{Steps: 40, StepTime: time.Second, Total: time.Minute, Memory: 9 << 30, Available: 4 << 30, Calibrated: 3}, true, "Cancel", false},
		{"frozen run caches features", runinfo.Estimate{Steps: 40, StepTime: time.Second, Total: time.Minute, CacheImages: 12, CacheTime: 9 * time.Second, Calibrated: 3}, false, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := &estimatingTrainer{fakeTrainer: fakeTrainer{steps: 40, epochs: 2}, est: tc.est}
			m := openFineTune(t, tr)
			tap(m.ft.startBtn)
			m.ft.wait() // the estimate
			if tr.estimated != 1 {
				t.Fatalf("estimated %d times before starting, want 1", tr.estimated)
			}
			if tc.asks {
				msg := dialogText(t, m)
				if tc.est.Total >= time.Hour && (!strings.Contains(msg, "3.0 hours") || !strings.Contains(msg, "text decoder")) {
					t.Errorf("question %q: want the hours and the cheaper settings", msg)
				}
				if tc.est.Memory > tc.est.Available && tc.est.Available > 0 && !strings.Contains(msg, "free") {
					t.Errorf("question %q: want the memory it needs and what is free", msg)
				}
				tapDialogButton(t, m, tc.answer)
			}
			m.ft.wait()
			var started bool
			onUIWait(func() { started = m.ft.lastRunDir != "" || m.ft.running })
			waitFor(t, "the run to end", func() bool {
				var running bool
				onUIWait(func() { running = m.ft.running })
				return !running
			})
			onUIWait(func() { started = started || m.ft.lastRunDir != "" })
			if started != tc.started {
				t.Errorf("run started %v, want %v (line %q)", started, tc.started, m.ft.line.Text)
			}
			if !m.ft.estimate.Visible() || !strings.Contains(m.ft.estimate.Text, "40 steps") {
				t.Errorf("estimate %q (shown %v): want it kept in the panel", m.ft.estimate.Text, m.ft.estimate.Visible())
			}
			if want := "caching 12 image features ≈ 0:09"; (tc.est.CacheImages > 0) != strings.Contains(m.ft.estimate.Text, want) {
				t.Errorf("estimate %q with %d images cached: want %q exactly when the run caches", m.ft.estimate.Text, tc.est.CacheImages, want)
			}
			if !tc.started && !strings.Contains(m.ft.line.Text, "≈") {
				t.Errorf("line %q after the estimate, want the estimate shown", m.ft.line.Text)
			}
		})
	}
}

// dialogText returns the texts of the labels in the dialog on top, one per line.
func dialogText(t *testing.T, m *MainWindow) string {
	t.Helper()
	top := m.Window.Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("no dialog is open")
	}
	var texts []string
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		switch w := o.(type) {
		case *widget.Label:
			texts = append(texts, w.Text)
		case *fyne.Container:
			for _, c := range w.Objects {
				walk(c)
			}
		case fyne.Widget:
			for _, c := range test.WidgetRenderer(w).Objects() {
				walk(c)
			}
		}
	}
	walk(top)
	return strings.Join(texts, "\n")
}

// openFineTune opens the window on 24 captioned images with trainer and shows the Fine-tune tab.
func openFineTune(t *testing.T, trainer Trainer) *MainWindow {
	t.Helper()
	deps := testDeps(&fakeCaptioner{name: "fake"})
	deps.RunsDir, deps.Trainer = t.TempDir(), trainer
	captions := map[int]string{}
	for i := 0; i < 24; i++ {
		captions[i] = fmt.Sprintf("caption %d", i)
	}
	m, _ := openWindow(t, deps, makeDataset(t, 24, captions))
	onUIWait(func() { m.Tabs.SelectIndex(1) })
	return m
}
