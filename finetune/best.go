package finetune

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"github.com/captune/captune/finetune/runinfo"
)

// The criteria Config.SelectBy names.
const (
	SelectCIDEr = runinfo.SelectCIDEr
	SelectLoss  = runinfo.SelectLoss
)

// BestFile is the file in a run's output folder that says which checkpoint the folder's model is.
const BestFile = "captune_best.json"

// BestInfo is the content of BestFile: the checkpoint the output folder's model was copied from
// and why it was chosen.
type BestInfo = runinfo.BestInfo

// ReadBestInfo reads dir's BestFile; ok is false when the folder has none (a model not written by
// a run with validation).
func ReadBestInfo(dir string) (b BestInfo, ok bool) {
	if err := readJSON(filepath.Join(dir, BestFile), &b); err != nil || b.Epoch == 0 {
		return BestInfo{}, false
	}
	return b, true
}

// resolveSelectBy returns the criterion a run selects its model by: the one asked for, or cider
// when the validation images have captions (the caption watch scores them) and loss otherwise.
func resolveSelectBy(cfg Config, val []Example) (string, error) {
	scored := newCaptionWatch(cfg, val) != nil
	switch {
	case cfg.SelectBy == SelectCIDEr && !scored:
		return "", fmt.Errorf("%w: --select-by cider needs validation images with captions", ErrBadConfig)
	case cfg.SelectBy != "":
		return cfg.SelectBy, nil
	case scored:
		return SelectCIDEr, nil
	}
	return SelectLoss, nil
}

// noteEpoch records an epoch end's validation in st: its CIDEr-D (when the watch scored it),
// whether it is the best so far by cfg.SelectBy (logged), and, with cfg.Patience, marks res to stop
// after too many epochs without improvement (logged).
func noteEpoch(st *trainerState, cfg Config, w *captionWatch, res *Result, logLine func(any)) {
	if w != nil && len(w.history) > 0 {
		st.CIDErs = append(st.CIDErs, w.history[len(w.history)-1].CIDErD)
	}
	value, better := math.NaN(), false
	switch {
	case cfg.SelectBy == SelectCIDEr && len(st.CIDErs) > 0:
		value = st.CIDErs[len(st.CIDErs)-1]
		better = st.BestStep == 0 || value > st.BestCIDEr
		if better {
			st.BestCIDEr = value
		}
	case cfg.SelectBy == SelectLoss && len(st.ValLosses) > 0:
		value = st.ValLosses[len(st.ValLosses)-1]
		better = value < st.BestVal
		if better {
			st.BestVal = value
		}
	}
	if better {
		st.BestStep, st.BestEpoch, st.Stale = st.Step, st.Epoch, 0
		logLine(map[string]any{"step": st.Step, "epoch": st.Epoch, "best": true, "select_by": cfg.SelectBy, "value": value})
		return
	}
	st.Stale++
	if cfg.Patience > 0 && st.Stale >= cfg.Patience {
		res.StoppedEarly = true
		logLine(map[string]any{"step": st.Step, "epoch": st.Epoch, "stopped_early": true, "epochs_without_improvement": st.Stale})
	}
}

// bestInfo describes the best checkpoint of st, planned epochs of a run of total steps.
func bestInfo(st trainerState, cfg Config, perEpoch, total int) BestInfo {
	b := BestInfo{SelectBy: cfg.SelectBy, Step: st.BestStep, Epoch: st.BestEpoch,
		Epochs: (total + perEpoch - 1) / max(1, perEpoch), Checkpoint: filepath.Base(st.BestDir), Value: st.BestVal}
	if cfg.SelectBy == SelectCIDEr {
		b.Value = st.BestCIDEr
	}
	return b
}

// writeBestInfo writes b to dir's BestFile and logs it, or removes a BestFile of an earlier run
// when the model is the last weights.
func writeBestInfo(dir string, b BestInfo, logLine func(any)) error {
	path := filepath.Join(dir, BestFile)
	if b.Epoch == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", path, err)
		}
		return nil
	}
	logLine(map[string]any{"best_checkpoint": b})
	if err := writeJSONFile(path, b); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// captionStatsHook, when set (by tests), may change an epoch's validation caption stats before
// they are recorded.
var captionStatsHook func(epoch int, st *CaptionStats)
