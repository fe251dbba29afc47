package ui

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/captune/captune/finetune/trainlog"
)

// jobWatchInterval is how often a watched job's folder is read again. A job on a cluster reaches
// the folder through a sync (rsync, a network mount) that lags by seconds anyway.
var jobWatchInterval = time.Second

// jobWatch follows a training run the window does not drive: a job exported with captune
// export-job running elsewhere, or any run folder. Its goroutine polls the folder and ends when
// the run's model is complete, when the model turns out to lack weights, or when ctx ends.
type jobWatch struct {
	run    trainlog.Run
	cancel context.CancelFunc
	done   chan struct{}
}

// jobState is what one poll of a watched run found.
type jobState struct {
	log   trainlog.Log
	ready bool  // the run finished and its model is whole
	err   error // the log could not be read, or the finished run has no weights
}

// watchButton is the Fine-tune tab's "Watch a job…" button: it opens a folder chooser.
func (t *finetuneTab) watchButton() *widget.Button {
	t.watchBtn = widget.NewButtonWithIcon("Watch a job…", theme.FolderOpenIcon(), func() {
		d := dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
			if err != nil {
				t.m.showError("open the job folder", err, "")
			} else if u != nil {
				t.watchJob(u.Path())
			}
		}, t.m.Window)
		d.Show()
	})
	return t.watchBtn
}

// watchJob starts following the job or run folder dir: its loss curve is drawn as its log grows,
// and once its model is complete Compare before/after compares it with its base model. UI goroutine.
func (t *finetuneTab) watchJob(dir string) {
	m := t.m
	if t.running {
		m.setStatus("A fine-tuning run is going: watch the job when it ends.")
		return
	}
	r, err := trainlog.OpenRun(dir)
	if err != nil {
		m.showError("watch "+filepath.Base(dir), err, "Open the folder captune export-job wrote (it holds job.json), or a run folder with train_log.jsonl.")
		return
	}
	t.stopWatch()
	ctx, cancel := context.WithCancel(m.ctx)
	w := &jobWatch{run: r, cancel: cancel, done: make(chan struct{})}
	t.watch, t.lastRunDir = w, ""
	t.curve.Reset()
	t.alarm.Hide()
	t.progress.Hide()
	t.phase.SetText("Watching")
	t.line.SetText("Waiting for " + filepath.Join(r.Out, trainlog.FileName) + "…")
	m.setStatus("Watching the job in " + dir)
	t.syncButtons()
	go w.loop(ctx, func(s jobState) {
		onUI(func() {
			if t.watch == w {
				t.showJob(w, s)
			}
		})
	})
}

// stopWatch ends the watch of a job, if any: its goroutine ends within one poll. UI goroutine.
func (t *finetuneTab) stopWatch() {
	if t.watch == nil {
		return
	}
	t.watch.cancel()
	t.watch = nil
}

// loop polls the run until it is finished, fails, or ctx ends, reporting what changed.
func (w *jobWatch) loop(ctx context.Context, report func(jobState)) {
	defer close(w.done)
	log := trainlog.NewFollower(filepath.Join(w.run.Out, trainlog.FileName))
	var st jobState
	tick := time.NewTicker(jobWatchInterval)
	defer tick.Stop()
	for {
		changed, err := log.Poll()
		st.log, st.err = log.Log(), err
		if st.err == nil {
			st.ready, st.err = w.run.ModelReady()
		}
		if changed || st.ready || st.err != nil {
			report(st)
		}
		if st.ready || st.err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// showJob draws what a poll of the watched run found. UI goroutine.
func (t *finetuneTab) showJob(w *jobWatch, s jobState) {
	m := t.m
	losses := s.log.Losses()
	var valSteps []int
	var vals []float64
	for _, v := range s.log.Validations {
		valSteps, vals = append(valSteps, v.Step), append(vals, v.ValLoss)
	}
	t.curve.Restart(losses, valSteps, vals)
	name := filepath.Base(w.run.Dir)
	line := "job " + name + ": no step logged yet"
	if n := len(s.log.Steps); n > 0 {
		last := s.log.Steps[n-1]
		line = fmt.Sprintf("job %s · step %d · epoch %d · loss %.4f · lr %.2g", name, last.Step, last.Epoch, last.Loss, last.LR)
		if last.Processes > 1 {
			line += fmt.Sprintf(" · %d processes", last.Processes)
		}
	}
	switch {
	case s.err != nil && errors.Is(s.err, trainlog.ErrNoWeights):
		t.phase.SetText("No model")
		t.line.SetText(line + " · finished without its model")
		m.showError("use the model of job "+name, s.err, "The job ended without writing its weights, so its model is not offered: check the job's output folder and run train.py again.")
	case s.err != nil:
		t.phase.SetText("Failed")
		t.line.SetText(s.err.Error())
		m.showError("watch job "+name, s.err, "Check that the job folder is readable.")
	case s.ready:
		t.phase.SetText("Finished")
		t.lastRunDir = w.run.Out
		msg := fmt.Sprintf("job %s finished: %d steps", name, len(losses))
		if len(losses) > 0 {
			msg += fmt.Sprintf(" · loss %.4f → %.4f", losses[0], losses[len(losses)-1])
		}
		t.line.SetText(msg + " · model in " + w.run.Out)
		m.setStatus("The job's model is complete: Compare before/after compares it with its base model.")
		m.models.refreshOptions()
	default:
		t.line.SetText(line)
	}
	t.syncButtons()
}

// compareBase is the base model Compare before/after compares the last run with: the watched
// job's own base model when the last run is the job's, else the tab's base model menu.
func (t *finetuneTab) compareBase() string {
	if w := t.watch; w != nil && t.lastRunDir == w.run.Out && w.run.Base != "" {
		if !w.run.BaseIsHub {
			return w.run.Base
		}
		if dir := t.cachedRepo(w.run.Base, w.run.BaseRevision); dir != "" {
			return dir
		}
	}
	return t.baseDir()
}

// cachedRepo is the folder of repo (at commit, when given) in the Hugging Face cache, or "".
func (t *finetuneTab) cachedRepo(repo, commit string) string {
	if t.m.deps.Models == nil {
		return ""
	}
	models, err := t.m.deps.Models.List()
	if err != nil {
		return ""
	}
	for _, cm := range models {
		if cm.Repo != repo {
			continue
		}
		for _, s := range cm.Snapshots {
			if commit == "" || s.Commit == commit {
				return s.Dir
			}
		}
	}
	return ""
}
