package ui

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/captune/captune/finetune/runinfo"
	"github.com/captune/captune/finetune/trainlog"
)

// openFineTuneWithEvaluator is the Fine-tune tab on 24 captioned images, with an evaluator.
func openFineTuneWithEvaluator(t *testing.T) *MainWindow {
	t.Helper()
	deps := testDeps(&fakeCaptioner{name: "fake"})
	deps.RunsDir, deps.Evaluator = t.TempDir(), &fakeEvaluator{}
	captions := map[int]string{}
	for i := 0; i < 24; i++ {
		captions[i] = fmt.Sprintf("caption %d", i)
	}
	m, _ := openWindow(t, deps, makeDataset(t, 24, captions))
	onUIWait(func() { m.Tabs.SelectIndex(1) })
	return m
}

// writeJobFolder makes a job folder as captune export-job writes it, with log as its output's
// train_log.jsonl so far.
func writeJobFolder(t *testing.T, log string) string {
	t.Helper()
	job := t.TempDir()
	for rel, content := range map[string]string{
		"job.json": `{"format_version": 1, "base_model": "base_model"}`, "base_model/config.json": "{}",
		"output/train_log.jsonl": log,
	} {
		p := filepath.Join(job, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return job
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

func fastJobWatch(t *testing.T) {
	old := jobWatchInterval
	jobWatchInterval = 10 * time.Millisecond
	t.Cleanup(func() { jobWatchInterval = old })
}

// uiRead runs f on the UI goroutine and returns its result.
func uiRead[T any](f func() T) T {
	var v T
	onUIWait(func() { v = f() })
	return v
}

const jobStep = `{"step": %d, "epoch": 1, "loss": %g, "lr": 0.001, "samples": 8, "processes": 2}` + "\n"

// A user opens a job folder that a cluster is filling: the curve follows train_log.jsonl (a line
// being written is left for the next read), and once the job's model is complete, Compare
// before/after is one click and compares it with the job's own base model.
func TestWatchJob(t *testing.T) {
	fastJobWatch(t)
	m := openFineTuneWithEvaluator(t)
	job := writeJobFolder(t, fmt.Sprintf(jobStep, 1, 2.5)+fmt.Sprintf(jobStep, 2, 2.25)+`{"step": 3, "epoch": 1, "lo`)
	tap(m.ft.watchBtn)
	if uiRead(func() bool { return m.Window.Canvas().Overlays().Top() == nil }) {
		t.Fatal("Watch a job… opened no folder chooser")
	}
	onUIWait(func() { // the user picks the job folder
		m.Window.Canvas().Overlays().Remove(m.Window.Canvas().Overlays().Top())
		onUIWait(func() { m.ft.watchJob(job) })
	})
	points := func() int { n, _ := m.ft.curve.Points(); return n }
	waitFor(t, "the 2 full lines on the curve", func() bool { return points() == 2 })
	if line := uiRead(func() string { return m.ft.line.Text }); !strings.Contains(line, "step 2 · epoch 1 · loss 2.2500") || !strings.Contains(line, "2 processes") {
		t.Errorf("progress line %q does not say the job's last step", line)
	}
	if uiRead(func() bool { return m.ft.compareBtn.Disabled() }) == false {
		t.Error("Compare before/after is enabled before the job's model exists")
	}

	out := filepath.Join(job, "output")
	appendFile(t, filepath.Join(out, trainlog.FileName), `ss": 2.0, "lr": 0.001}`+"\n"+`{"step": 3, "epoch": 1, "val_loss": 2.1}`+"\n")
	waitFor(t, "the third step and the validation loss", func() bool {
		n, v := m.ft.curve.Points()
		return n == 3 && v == 1
	})
	for _, f := range []string{"config.json", "model.safetensors", trainlog.DoneFile} {
		if err := os.WriteFile(filepath.Join(out, f), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the job to be reported finished", func() bool { return uiRead(func() string { return m.ft.phase.Text }) == "Finished" })
	if line := uiRead(func() string { return m.ft.line.Text }); !strings.Contains(line, "3 steps · loss 2.5000 → 2.0000 · model in "+out) {
		t.Errorf("progress line %q", line)
	}
	if uiRead(func() bool { return m.ft.compareBtn.Disabled() }) {
		t.Fatal("Compare before/after is not offered once the job's model is complete")
	}
	tap(m.ft.compareBtn)
	waitFor(t, "the comparison", func() bool { return uiRead(func() bool { return m.cmp.cmp != nil }) })
	c := uiRead(func() runinfo.Comparison { return *m.cmp.cmp })
	if c.BaseModel != filepath.Join(job, "base_model") || c.Tuned != out {
		t.Errorf("compared %s with %s; want the job's base model with its output", c.BaseModel, c.Tuned)
	}
}

// A job that ended without its weights is reported and its model not offered; a folder that is
// not a job is refused.
func TestWatchJobBadInput(t *testing.T) {
	fastJobWatch(t)
	tests := []struct {
		name    string
		folder  func(t *testing.T) string
		wantErr error
		msg     string
	}{
		{"finished without weights", func(t *testing.T) string {
			job := writeJobFolder(t, fmt.Sprintf(jobStep, 1, 2.5))
			for _, f := range []string{"config.json", trainlog.DoneFile} {
				if err := os.WriteFile(filepath.Join(job, "output", f), []byte("{}"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			return job
		}, trainlog.ErrNoWeights, "model.safetensors or pytorch_model.bin is missing"},
		{"not a job", func(t *testing.T) string { return t.TempDir() }, nil, "neither a training job"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := openFineTuneWithEvaluator(t)
			dir := tc.folder(t)
			onUIWait(func() { m.ft.watchJob(dir) })
			waitFor(t, "the error dialog", func() bool { return uiRead(func() bool { return m.lastErr != nil }) })
			err := uiRead(func() error { return m.lastErr })
			if !strings.Contains(err.Error(), tc.msg) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Errorf("error %v; want one saying %q", err, tc.msg)
			}
			if uiRead(func() bool { return !m.ft.compareBtn.Disabled() || m.ft.lastRunDir != "" }) {
				t.Error("the job's model is offered for comparison")
			}
		})
	}
}
