package ui

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/captune/captune/finetune/runinfo"
)

// resumingTrainer continues a run of 12 steps (3 epochs, validation at each end) from the
// checkpoint at step 6, as finetune.Run reports it: the run so far, then the steps after it.
type resumingTrainer struct{}

func resumeLoss(step int) float64 { return 2/float64(step) + 1 }

func (resumingTrainer) Train(ctx context.Context, s TrainSettings, onProgress func(runinfo.Progress)) (runinfo.Result, error) {
	if !s.Resume {
		return runinfo.Result{}, errors.New("this fake only resumes")
	}
	const from, total, per = 6, 12, 4
	res := runinfo.Result{OutDir: s.OutDir, Resumed: true, Steps: total}
	p := runinfo.Progress{Phase: "resume", Step: from, Total: total, Epoch: 2, ValLoss: math.NaN(),
		Message: "continuing from step-000006 (step 6 of 12)", ValSteps: []int{4}, ValHistory: []float64{0.9}}
	for step := 1; step <= from; step++ {
		p.History = append(p.History, resumeLoss(step))
	}
	onProgress(p)
	res.Losses = append(res.Losses, p.History...)
	for step := from + 1; step <= total; step++ {
		res.Losses = append(res.Losses, resumeLoss(step))
		onProgress(runinfo.Progress{Phase: "train", Step: step, Total: total, Epoch: (step-1)/per + 1, Loss: resumeLoss(step), ValLoss: math.NaN()})
		if step%per == 0 {
			onProgress(runinfo.Progress{Phase: "eval", Step: step, Total: total, Epoch: step / per, ValLoss: 0.9 - float64(step)/100})
		}
	}
	onProgress(runinfo.Progress{Phase: "done", Step: total, Total: total, Message: "saved " + s.OutDir, ValLoss: math.NaN()})
	return res, nil
}

// Resume after a crash draws one curve: the run's steps once each, whether the window is a new
// one (the app was killed) or still holds the steps the stopped run made after its checkpoint.
func TestFineTuneResumeDrawsOneCurve(t *testing.T) {
	tests := []struct {
		name   string
		before int // steps the curve holds before Resume
	}{
		{"after the app was killed", 0},
		{"after a stop past the checkpoint", 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			deps := testDeps(&fakeCaptioner{name: "fake"})
			deps.RunsDir, deps.Trainer = t.TempDir(), resumingTrainer{}
			m, _ := openWindow(t, deps, makeDataset(t, 4, map[int]string{0: "a", 1: "b", 2: "c", 3: "d"}))
			onUIWait(func() { m.Tabs.SelectIndex(1) })
			out := filepath.Join(deps.RunsDir, "run")
			ckpt := filepath.Join(out, "checkpoints", "step-000006")
			writeTrainerState(t, ckpt)
			onUIWait(func() {
				for step := 1; step <= tc.before; step++ {
					m.ft.curve.Add(step, resumeLoss(step)+0.5)
				}
				m.ft.out.SetText(out)
				m.ft.syncButtons()
			})
			if m.ft.resumeBtn.Disabled() {
				t.Fatal("Resume is disabled beside a run folder with a checkpoint")
			}
			tap(m.ft.resumeBtn)
			waitFor(t, "the run to end", func() bool {
				var running bool
				onUIWait(func() { running = m.ft.running })
				return !running
			})
			settle(m)
			c := m.ft.curve
			c.mu.Lock()
			loss, val := append([]curvePoint(nil), c.loss...), append([]curvePoint(nil), c.val...)
			c.mu.Unlock()
			if len(loss) != 12 || len(val) != 3 {
				t.Fatalf("curve: %d steps and %d validations, want 12 and 3", len(loss), len(val))
			}
			for i, p := range loss {
				if p.step != i+1 || p.v != resumeLoss(i+1) {
					t.Errorf("curve point %d: step %d loss %.4f, want step %d loss %.4f", i, p.step, p.v, i+1, resumeLoss(i+1))
				}
			}
			for i, want := range []int{4, 8, 12} {
				if val[i].step != want {
					t.Errorf("validation %d after step %d, want %d", i, val[i].step, want)
				}
			}
			if got := m.ft.line.Text; strings.Contains(got, "Failed") || m.ft.lastErr != nil {
				t.Errorf("line %q, error %v", got, m.ft.lastErr)
			}
		})
	}
}

// A checkpoint still being written (or left half written by a killed app) is no reason to offer
// Resume: it sits in a hidden temporary folder until it is whole.
func TestFineTuneResumeIgnoresHalfWrittenCheckpoint(t *testing.T) {
	deps := testDeps(&fakeCaptioner{name: "fake"})
	deps.RunsDir, deps.Trainer = t.TempDir(), resumingTrainer{}
	m, _ := openWindow(t, deps, makeDataset(t, 4, map[int]string{0: "a", 1: "b", 2: "c", 3: "d"}))
	onUIWait(func() { m.Tabs.SelectIndex(1) })
	out := filepath.Join(deps.RunsDir, "run")
	tmp := filepath.Join(out, "checkpoints", ".step-000003.captune-tmp-99999-0a1b2c3d4e5f")
	writeTrainerState(t, tmp)
	onUIWait(func() { m.ft.out.SetText(out); m.ft.syncButtons() })
	if !m.ft.resumeBtn.Disabled() {
		t.Error("Resume is enabled beside a run folder whose only checkpoint is half written")
	}
}

// writeTrainerState makes dir look like a checkpoint folder to the Fine-tune tab.
func writeTrainerState(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "trainer_state.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
}
