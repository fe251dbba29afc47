package finetune

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/captune/captune/finetune/runinfo"
	"github.com/captune/captune/internal/atomicfile"
)

// resumeFrom reads the newest complete checkpoint in cfg.OutDir into state and returns the
// settings to continue with (see resumedConfig) and the checkpoint ("" when there is none: the run
// starts over). Either way it cuts train_log.jsonl back to the step the run continues after.
func resumeFrom(cfg Config, state *trainerState, onProgress func(Progress)) (Config, string, error) {
	dir, err := latestCheckpoint(cfg.OutDir)
	if err != nil {
		return cfg, "", err
	}
	if dir != "" {
		if err := readJSON(filepath.Join(dir, "trainer_state.json"), state); err != nil {
			return cfg, "", fmt.Errorf("resume from %s: %w", dir, err)
		}
		var differ []string
		if cfg, differ = resumedConfig(cfg, state.Config); len(differ) > 0 {
			onProgress(Progress{Phase: runinfo.PhaseLoad, ValLoss: math.NaN(), Message: fmt.Sprintf(
				"continuing %s with the settings it was trained with: %s", filepath.Base(dir), strings.Join(differ, ", "))})
		}
		if err := cfg.Validate(); err != nil {
			return cfg, "", fmt.Errorf("resume from %s: %w", dir, err)
		}
		state.Config = cfg
	}
	// The steps a killed run logged after its newest checkpoint run again: log them once.
	if err := cutLog(filepath.Join(cfg.OutDir, "train_log.jsonl"), state.Step); err != nil {
		return cfg, "", err
	}
	return cfg, dir, nil
}

// resumedConfig returns the settings a resumed run trains with: the checkpoint's (saved), which
// decide the training (learning rate and schedule, steps, batches, seed, freezing, loss, how cached
// features are rounded on disk), with the caller's for this session only (folders, device,
// checkpoint interval and count, evaluation decoding, what a NaN loss does, where image features
// are cached). It also names the caller's training settings that differ from the checkpoint's: a
// resumed run continues the training the checkpoint belongs to, whatever the command line says.
// A checkpoint without settings (none has been written so) keeps the caller's.
func resumedConfig(caller, saved Config) (Config, []string) {
	if saved.BatchSize <= 0 || saved.GradAccum <= 0 {
		return caller, nil
	}
	out := saved
	out.BaseModel, out.OutDir, out.Overwrite, out.Resume, out.Device = caller.BaseModel, caller.OutDir, caller.Overwrite, caller.Resume, caller.Device
	out.CheckpointEvery, out.KeepLast, out.OnNaN = caller.CheckpointEvery, caller.KeepLast, caller.OnNaN
	out.FeatureCache, out.FeatureCacheMB = caller.FeatureCache, caller.FeatureCacheMB // where features are kept, not what they are
	out.EvalBeams, out.EvalMaxLength, out.EvalMinLength = caller.EvalBeams, caller.EvalMaxLength, caller.EvalMinLength
	// Merging is what the end of the run writes, not how it trains: asked for now or at the start.
	out.Merge = saved.Merge || caller.Merge
	if out.Method = saved.method(); out.Method == MethodFull {
		// A full run's LoRA settings mean nothing (a checkpoint older than LoRA has none).
		out.LoraRank, out.LoraAlpha, out.LoraDropout, out.LoraTargets = caller.LoraRank, caller.LoraAlpha, caller.LoraDropout, caller.LoraTargets
	}
	var differ []string
	cv, ov := reflect.ValueOf(caller), reflect.ValueOf(out)
	for i := 0; i < cv.NumField(); i++ {
		a, b := cv.Field(i).Interface(), ov.Field(i).Interface()
		if !reflect.DeepEqual(a, b) && !(cv.Type().Field(i).Name == "Method" && caller.method() == b) {
			differ = append(differ, fmt.Sprintf("%s %v (not %v)", cv.Type().Field(i).Name, b, a))
		}
	}
	return out, differ
}

// cutLog removes from a training log the lines after step (those a killed run wrote after its
// newest checkpoint, which the resumed run writes again) and a line cut short by the kill,
// replacing the file atomically. A missing log is not an error.
func cutLog(path string, step int) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("training log: %w", err)
	}
	var kept bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var entry struct {
			Step *int `json:"step"`
		}
		if len(strings.TrimSpace(string(line))) == 0 || json.Unmarshal(line, &entry) != nil {
			continue // cut short by a kill
		}
		if entry.Step != nil && *entry.Step > step {
			continue
		}
		kept.Write(line)
		kept.WriteByte('\n')
	}
	if bytes.Equal(kept.Bytes(), data) {
		return nil
	}
	if err := atomicfile.WriteFile(path, kept.Bytes(), 0o644); err != nil {
		return fmt.Errorf("training log: %w", err)
	}
	return nil
}

// resumeProgress is the report a resumed run makes before its first step: where it continues
// from and the losses so far. Validation runs at epoch ends only, so the n-th validation loss
// belongs to step n × perEpoch.
func resumeProgress(st trainerState, perEpoch int, dir string) Progress {
	p := Progress{Phase: runinfo.PhaseResume, Step: st.Step, Total: st.TotalSteps, Epoch: st.Epoch + 1, ValLoss: math.NaN(),
		Message: fmt.Sprintf("continuing from %s (step %d of %d)", filepath.Base(dir), st.Step, st.TotalSteps),
		History: append([]float64(nil), st.Losses...), ValHistory: append([]float64(nil), st.ValLosses...)}
	if n := len(st.Losses); n > 0 {
		p.Loss = st.Losses[n-1]
	}
	for i := range st.ValLosses {
		p.ValSteps = append(p.ValSteps, (i+1)*perEpoch)
	}
	return p
}
