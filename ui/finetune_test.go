package ui

import (
	"os"
	"path/filepath"
	"testing"
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
	m.Tabs.SelectIndex(1)
	ft := m.ft
	if ft.progress.Visible() {
		t.Error("the progress bar shows before any run (an empty bar reads as a full one)")
	}
	fields := func() [3]string { return [3]string{ft.epochs.Text, ft.lr.Text, ft.batch.Text} }
	if got, want := fields(), [3]string{"40", "0.0003", "8"}; got != want || !ft.advice.Visible() {
		t.Errorf("bundled model: fields %v (advice shown %v), want %v with the advice shown", got, ft.advice.Visible(), want)
	}
	m.models.choose(other)
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
	saveTraining(m.prefs, trainDefaults{Epochs: d.Epochs, LR: d.LR, Batch: d.BatchSize}, ft.chosen)
	if c := chosenTraining(m.prefs); !c[prefTrainLR] || c[prefTrainEpochs] || c[prefTrainBatch] {
		t.Errorf("remembered as typed: %v, want the learning rate only", c)
	}
}
