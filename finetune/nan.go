package finetune

import (
	"fmt"
	"path/filepath"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/inference"
	"github.com/captune/captune/inference/safetensors"
)

// The choices of Config.OnNaN.
const (
	OnNaNStop   = "stop"
	OnNaNRevert = "revert"
)

// MaxNaNReverts is how often a run with Config.OnNaN "revert" goes back before it gives up: each
// revert halves the learning rate, so the third leaves an eighth of it.
const MaxNaNReverts = 3

// lrScale is the factor a run's learning rate is multiplied by after its NaN reverts.
func (st trainerState) lrScale() float64 {
	if st.LRScale > 0 {
		return st.LRScale
	}
	return 1
}

// revertOnNaN handles a step whose loss is not a number: with cfg.OnNaN "revert" and a checkpoint
// to go back to, it loads the last checkpoint into capt, opt and st, halves the learning rate,
// logs and reports it and returns nil; otherwise the error that stops the run.
func revertOnNaN(cfg Config, capt *inference.Captioner, opt *AdamW, st *trainerState, res *Result, device gotch.Device, perEpoch int, logLine func(any), onProgress func(Progress)) error {
	failed := st.Step + 1
	stop := fmt.Errorf("step %d: %w (try a lower learning rate; the last good checkpoint is %s)", failed, ErrNaNLoss, orNone(res.LastCheckpoint))
	if cfg.OnNaN != OnNaNRevert || res.LastCheckpoint == "" {
		return stop
	}
	if st.NaNReverts >= MaxNaNReverts {
		return fmt.Errorf("%w after %d reverts to a checkpoint at ever half the learning rate", stop, st.NaNReverts)
	}
	scale, reverts := st.lrScale()/2, st.NaNReverts+1
	dir := res.LastCheckpoint
	if err := loadCheckpointInto(dir, capt, opt, st, device); err != nil {
		return fmt.Errorf("%w; going back to %s failed: %v", stop, dir, err)
	}
	st.LRScale, st.NaNReverts = scale, reverts
	res.Steps, res.NaNReverts = st.Step, reverts
	res.Losses = append([]float64(nil), st.Losses...)
	res.ValLosses = append([]float64(nil), st.ValLosses...)
	logLine(map[string]any{"step": st.Step, "epoch": st.Epoch + 1, "nan_loss_at_step": failed, "reverted_to": filepath.Base(dir), "lr_scale": scale})
	p := resumeProgress(*st, perEpoch, dir)
	p.Message = fmt.Sprintf("loss not a number at step %d: back to %s (step %d) at %g× the learning rate", failed, filepath.Base(dir), st.Step, scale)
	onProgress(p)
	return nil
}

// loadCheckpointInto copies a checkpoint's weights (a LoRA run's: its adapter), optimizer moments
// and trainer state into a running training.
func loadCheckpointInto(dir string, capt *inference.Captioner, opt *AdamW, st *trainerState, device gotch.Device) error {
	var saved trainerState
	if err := readJSON(filepath.Join(dir, "trainer_state.json"), &saved); err != nil {
		return err
	}
	file, params := "model.safetensors", capt.Model.Tensors()
	if capt.Model.Lora != nil { // a LoRA run's checkpoint holds the adapter; the base never changed
		file, params = inference.AdapterWeightsFile, capt.Model.LoraParams()
	}
	f, err := safetensors.Open(filepath.Join(dir, file))
	if err != nil {
		return err
	}
	defer f.Close()
	ng := ts.NewNoGradGuard()
	defer ng.Drop()
	for _, p := range params {
		if _, ok := f.Info(p.Name); !ok {
			return fmt.Errorf("%s has no tensor %s", dir, p.Name)
		}
		t, err := f.Tensor(p.Name)
		if err != nil {
			return err
		}
		if device != gotch.CPU {
			t = t.MustTo(device, true)
		}
		p.Tensor.Copy_(t)
		t.MustDrop()
	}
	if err := loadOptimizer(opt, dir, saved.Step, device); err != nil {
		return err
	}
	*st = saved
	return nil
}

// nanHook, when set (by tests), may replace a step's loss (1-based step) to inject a NaN.
var nanHook func(step int, loss float64) float64
