package finetune

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRecommendationApplyKeepsTheUsersChoices(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, RecommendationFile), []byte(`{"lr":3e-4,"epochs":40,"batch_size":8,"warmup_steps":10}`), 0o644); err != nil {
		t.Fatal(err)
	}
	rec, ok := LoadRecommendation(dir)
	if !ok {
		t.Fatal("recommendation not read")
	}
	if _, ok := LoadRecommendation(t.TempDir()); ok {
		t.Error("a folder without the file has a recommendation")
	}
	d := DefaultConfig()
	tests := []struct {
		name     string
		keep     map[string]bool
		maxSteps int
		want     Config // LR, Epochs, BatchSize, WarmupSteps compared
	}{
		{"nothing set", nil, 0, Config{LR: 3e-4, Epochs: 40, BatchSize: 8, WarmupSteps: 10}},
		{"lr set to the default", map[string]bool{"lr": true}, 0, Config{LR: d.LR, Epochs: 40, BatchSize: 8, WarmupSteps: 10}},
		{"epochs and batch set", map[string]bool{"epochs": true, "batch-size": true}, 0, Config{LR: 3e-4, Epochs: d.Epochs, BatchSize: d.BatchSize, WarmupSteps: 10}},
		{"max steps", nil, 7, Config{LR: 3e-4, Epochs: d.Epochs, BatchSize: 8, WarmupSteps: 10}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.MaxSteps = tc.maxSteps
			got, note := rec.Apply(c, func(f string) bool { return tc.keep[f] })
			if got.LR != tc.want.LR || got.Epochs != tc.want.Epochs || got.BatchSize != tc.want.BatchSize || got.WarmupSteps != tc.want.WarmupSteps {
				t.Errorf("got lr %g epochs %d batch %d warmup %d, want %+v", got.LR, got.Epochs, got.BatchSize, got.WarmupSteps, tc.want)
			}
			if note == "" {
				t.Error("no note says what changed")
			}
		})
	}
	if _, note := (Recommendation{LR: d.LR}).Apply(d, nil); note != "" {
		t.Errorf("nothing changed but the note says %q", note)
	}
}
