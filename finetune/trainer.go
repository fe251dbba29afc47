package finetune

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sugarme/gotch"

	"github.com/captune/captune/finetune/runinfo"
	"github.com/captune/captune/inference"
)

// trainer is one run of Run. Its steps, in order: prepare (configuration, data, output folder),
// start (device, resume point, memory check), load (model, optimizer, log, image features), then
// epochs of step, with evaluate and checkpoint at epoch ends and every CheckpointEvery steps, and
// finish (the final model). free releases what load took, whatever happened.
type trainer struct {
	ctx        context.Context
	cfg        Config // after a resume, the checkpoint's
	data       Data
	onProgress func(Progress)
	res        *Result // Run's result, filled in as the run goes

	samples, valSamples []sample
	images              []string // the training images, indexed by sample.image

	device          gotch.Device
	state           trainerState
	from, resumeDir string // the weights loaded; the checkpoint resumed from, or ""
	checked         bool   // the model's config was checked against the settings and the memory before loading

	capt              *inference.Captioner
	opt               *AdamW
	logf              *os.File
	loader, valLoader imageFeeder
	feats             *featureStore // nil without a feature cache
	watch             *captionWatch
	best              *inference.Captioner // the best checkpoint, loaded by finish

	savedStep       int // the step whose weights res.LastCheckpoint holds
	perEpoch, total int // planned optimizer steps
	started         time.Time
	doneAtStart     int // steps done when this process started: the rate counts only its own
}

// prepare checks the configuration and the data and makes the output folder, before anything is
// loaded.
func (t *trainer) prepare() error {
	if err := t.cfg.Validate(); err != nil {
		return err
	}
	var err error
	if t.cfg.SelectBy, err = resolveSelectBy(t.cfg, t.data.Val); err != nil {
		return err
	}
	if t.samples, t.images, err = trainingSamples(t.data.Train); err != nil {
		return err
	}
	t.res.OutDir = t.cfg.OutDir
	if err := prepareOutDir(t.cfg); err != nil {
		return err
	}
	t.res.RemovedTemps = removeStaleTemps(t.cfg.OutDir)
	return nil
}

// start decides where training starts, the base model at step 0 or with cfg.Resume the last
// checkpoint of OutDir, and refuses training that does not fit in memory.
func (t *trainer) start() error {
	var err error
	if t.device, err = inference.ParseDevice(t.cfg.Device); err != nil {
		return err
	}
	t.state = trainerState{Seed: t.cfg.Seed, BestVal: math.MaxFloat64, Config: t.cfg, Version: 1}
	t.from = t.cfg.BaseModel
	if t.cfg.Resume {
		if t.cfg, t.resumeDir, err = resumeFrom(t.cfg, &t.state, t.onProgress); err != nil {
			return err
		}
		if t.resumeDir != "" {
			t.res.Resumed, t.res.LastCheckpoint, t.savedStep = true, t.resumeDir, t.state.Step
			if !t.cfg.lora() { // a LoRA checkpoint holds the adapter: the base loads, then it
				t.from = t.resumeDir
			}
		}
	}
	t.res.Method = t.cfg.method()
	if t.from == t.cfg.BaseModel && startsFromAdapter(t.cfg) || inference.IsAdapterDir(t.from) {
		return nil // its base model's config is known once loaded (load checks then)
	}
	mcfg, err := inference.LoadConfig(t.from)
	if err != nil {
		return err
	}
	t.checked = true
	return t.checkModel(mcfg)
}

// checkModel refuses LoRA targets the model of config mcfg does not have and training that does
// not fit in memory, and tells the memory estimate.
func (t *trainer) checkModel(mcfg inference.Config) error {
	if err := checkLoraPlan(mcfg, t.cfg); err != nil {
		return err
	}
	t.onProgress(Progress{Phase: runinfo.PhaseLoad, Message: "memory estimate: " + memoryLine(mcfg, t.cfg), ValLoss: math.NaN()})
	return checkMemory(mcfg, t.cfg, t.device)
}

// recoverFailure turns a panic of the model code into Run's error. Model code panics on libtorch
// errors (see inference.T); out of memory is the one users can fix.
func (t *trainer) recoverFailure(err *error) {
	if r := recover(); r != nil {
		msg := fmt.Sprint(r)
		if strings.Contains(msg, "memory") {
			*err = fmt.Errorf("%w at step %d (%s): try batch size %d; the last checkpoint %s is kept", ErrOutOfMemory, t.res.Steps+1, msg, max(1, t.cfg.BatchSize/2), orNone(t.res.LastCheckpoint))
		} else {
			*err = fmt.Errorf("training failed at step %d: %s (last checkpoint %s)", t.res.Steps+1, msg, orNone(t.res.LastCheckpoint))
		}
	}
}

// load loads the model and the optimizer (with its moments when resuming) and plans the steps.
func (t *trainer) load() error {
	t.onProgress(Progress{Phase: runinfo.PhaseLoad, Message: "loading " + t.from, ValLoss: math.NaN()})
	from := t.cfg
	if t.from != t.cfg.BaseModel { // a full run resumed: its checkpoint is the model
		from.BaseModel, from.Adapter = t.from, ""
	}
	capt, err := loadBase(from, t.device)
	if err != nil {
		return err
	}
	t.capt = capt
	loraResume := ""
	if t.cfg.lora() {
		loraResume = t.resumeDir
	}
	if t.cfg, err = prepareMethod(capt, t.cfg, loraResume, t.onProgress); err != nil {
		return err
	}
	t.state.Config = t.cfg
	if !t.checked {
		if err := t.checkModel(capt.Model.Config); err != nil {
			return err
		}
	}
	usePrecision(capt.Model, t.cfg, t.onProgress)
	t.res.Lengths = checkCaptionLengths(capt, t.cfg, t.samples, t.onProgress)
	params := trainable(capt.Model, t.cfg)
	if len(params) == 0 {
		return fmt.Errorf("%w: everything is frozen", ErrBadConfig)
	}
	t.opt = NewAdamW(params, t.cfg.LR, t.cfg.Beta1, t.cfg.Beta2, t.cfg.Eps, t.cfg.WeightDecay)
	if t.resumeDir != "" {
		if err := loadOptimizer(t.opt, t.resumeDir, t.state.Step, t.device); err != nil {
			return fmt.Errorf("resume from %s: %w", t.resumeDir, err)
		}
	}
	t.perEpoch, t.total = plannedSteps(t.cfg, len(t.samples))
	t.state.TotalSteps = t.total
	t.res.Steps = t.state.Step
	t.res.Losses = append(t.res.Losses, t.state.Losses...)
	t.res.ValLosses = append(t.res.ValLosses, t.state.ValLosses...)
	if t.res.Resumed {
		t.onProgress(resumeProgress(t.state, t.perEpoch, t.resumeDir))
	}
	if err := t.openData(); err != nil {
		return err
	}
	t.logLine(methodLog(t.cfg, t.state.Step, capt.Model, params))
	return nil
}

// openData opens the training log and readies the images of both splits (their features, when
// they are cached).
func (t *trainer) openData() error {
	logf, err := os.OpenFile(filepath.Join(t.cfg.OutDir, "train_log.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open training log: %w", err)
	}
	t.logf = logf
	var valImages []string
	t.valSamples, valImages, _ = buildSamples(t.data.Val)
	run := featureRun{t.images, valImages, len(t.valSamples), t.total - t.state.Step, t.perEpoch}
	if t.loader, t.valLoader, t.feats, err = prepareFeatures(t.ctx, t.capt, t.cfg, run, t.onProgress); err != nil {
		return err
	}
	t.watch = newCaptionWatch(t.cfg, t.data.Val)
	return nil
}

// logLine appends v to train_log.jsonl.
func (t *trainer) logLine(v any) {
	b, _ := json.Marshal(v)
	t.logf.Write(append(b, '\n'))
}

// free releases, in the reverse order of loading, what the run holds.
func (t *trainer) free() {
	if t.best != nil {
		t.best.Free()
	}
	t.feats.free()
	if t.logf != nil {
		t.logf.Close()
	}
	if t.opt != nil {
		t.opt.Free()
	}
	if t.capt != nil {
		t.capt.Free()
	}
}

// train runs epochs until the planned steps are done or an alarm or early stopping ends the run.
func (t *trainer) train() error {
	t.started, t.doneAtStart = time.Now(), t.state.Step
	for t.state.Step < t.total && !t.res.StoppedByAlarm && !t.res.StoppedEarly {
		if err := t.epoch(); err != nil {
			return err
		}
	}
	return nil
}

// epoch takes the steps of the current epoch from state.Position on. It returns early when the
// run is done, or after a loss that is not a number sent the run back to its last checkpoint
// (whose epoch order the next call takes up).
func (t *trainer) epoch() error {
	st := &t.state
	order := epochOrder(len(t.samples), t.cfg.Seed, st.Epoch, t.cfg.Shuffle)
	for st.Position < len(order) && st.Step < t.total {
		if err := t.ctx.Err(); err != nil {
			t.res.Stopped = true
			return err
		}
		loss, lr, reverted, err := t.step(order)
		if err != nil || reverted {
			return err
		}
		epochEnd := st.Position >= len(order)
		if epochEnd {
			st.Epoch++
			st.Position = 0
		}
		if (t.cfg.CheckpointEvery > 0 && st.Step%t.cfg.CheckpointEvery == 0) || epochEnd || st.Step == t.total {
			if err := t.checkpoint(epochEnd, loss, lr); err != nil {
				return err
			}
		}
		if epochEnd {
			return nil
		}
	}
	return nil
}

// step accumulates the gradients of one optimizer step from order at state.Position and applies
// them. reverted reports a loss that was not a number: the run then went back to its last
// checkpoint instead.
func (t *trainer) step(order []int) (loss, lr float64, reverted bool, err error) {
	st := &t.state
	lr = t.cfg.LRAt(st.Step, t.total) * st.lrScale()
	t.opt.LR = lr
	loss, nSamples, next, err := accumulateGrads(t.capt, t.cfg, t.opt, t.loader, t.samples, order, st.Position, st.Step)
	if err != nil {
		return 0, lr, false, fmt.Errorf("step %d: %w", st.Step+1, err)
	}
	if nanHook != nil {
		loss = nanHook(st.Step+1, loss)
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		err := revertOnNaN(t.cfg, t.capt, t.opt, st, t.res, t.device, t.perEpoch, t.logLine, t.onProgress)
		return loss, lr, true, err
	}
	st.Position = next
	if t.cfg.ClipNorm > 0 {
		t.opt.ClipGradNorm(t.cfg.ClipNorm)
	}
	t.opt.StepOnce()
	st.Step++
	st.Losses = append(st.Losses, loss)
	t.res.Losses = append(t.res.Losses, loss)
	t.res.Steps = st.Step
	t.reportStep(loss, lr, nSamples)
	return loss, lr, false, nil
}

// reportStep tells the caller and the training log about the step just taken, with the rate and
// the time left measured over this process's steps.
func (t *trainer) reportStep(loss, lr float64, nSamples int) {
	st := t.state
	elapsed := time.Since(t.started)
	rate := float64((st.Step-t.doneAtStart)*t.cfg.BatchSize*t.cfg.GradAccum) / elapsed.Seconds()
	eta := time.Duration(float64(elapsed) / float64(st.Step-t.doneAtStart) * float64(t.total-st.Step))
	t.onProgress(Progress{Phase: runinfo.PhaseTrain, Step: st.Step, Total: t.total, Epoch: st.Epoch + 1, Loss: loss,
		LR: lr, SamplesPerSec: rate, ETA: eta, ValLoss: math.NaN()})
	t.logLine(map[string]any{"step": st.Step, "epoch": st.Epoch + 1, "loss": loss, "lr": lr,
		"samples_per_sec": rate, "samples": nSamples, "elapsed_s": elapsed.Seconds()})
}

// checkpoint saves a checkpoint, after evaluating when an epoch ended and there is a validation
// split. loss and lr are the last step's.
func (t *trainer) checkpoint(epochEnd bool, loss, lr float64) error {
	st := &t.state
	if epochEnd && len(t.valSamples) > 0 {
		if err := t.evaluate(loss, lr); err != nil {
			return err
		}
	}
	t.onProgress(Progress{Phase: runinfo.PhaseCheckpoint, Step: st.Step, Total: t.total, Epoch: st.Epoch, ValLoss: math.NaN()})
	dir, err := saveCheckpoint(t.capt, t.opt, st, t.cfg)
	if err != nil {
		return fmt.Errorf("checkpoint at step %d (the previous checkpoint %s is intact): %w", st.Step, orNone(t.res.LastCheckpoint), err)
	}
	t.res.LastCheckpoint, t.savedStep = dir, st.Step
	return nil
}

// evaluate measures the validation loss, captions the validation images the watch follows, and
// notes whether this epoch is the best so far (or the run should stop early).
func (t *trainer) evaluate(loss, lr float64) error {
	st := &t.state
	t.onProgress(Progress{Phase: runinfo.PhaseEval, Step: st.Step, Total: t.total, Epoch: st.Epoch, ValLoss: math.NaN(), Message: "validation loss"})
	vl, err := validationLoss(t.capt, t.cfg, t.valLoader, t.valSamples)
	if err != nil {
		return fmt.Errorf("validation after step %d: %w", st.Step, err)
	}
	st.ValLosses = append(st.ValLosses, vl)
	t.res.ValLosses = append(t.res.ValLosses, vl)
	t.logLine(map[string]any{"step": st.Step, "epoch": st.Epoch, "val_loss": vl})
	t.onProgress(Progress{Phase: runinfo.PhaseEval, Step: st.Step, Total: t.total, Epoch: st.Epoch, ValLoss: vl, Loss: loss, LR: lr})
	p := Progress{Step: st.Step, Total: t.total, Epoch: st.Epoch}
	if err := watchEpoch(t.ctx, t.watch, t.capt, t.cfg, t.res, p, t.logLine, t.onProgress); err != nil {
		return fmt.Errorf("validation captions after step %d: %w", st.Step, err)
	}
	noteEpoch(st, t.cfg, t.watch, t.res, t.logLine)
	return nil
}

// finish writes the final model to OutDir: the best checkpoint by cfg.SelectBy when there is a
// validation split, otherwise the last weights.
func (t *trainer) finish() error {
	st := t.state
	final := t.capt
	// The final weights are those of a checkpoint already on disk (the best one, or the last one
	// when it was taken at the last step): the model folder shares its weights file.
	var savedIn string
	if t.res.LastCheckpoint != "" && t.savedStep == st.Step {
		savedIn = t.res.LastCheckpoint
	}
	if st.BestDir != "" && len(t.valSamples) > 0 {
		var err error
		if final, err = t.loadBest(st.BestDir); err != nil {
			return fmt.Errorf("load the best checkpoint: %w", err)
		}
		t.res.Best = bestInfo(st, t.cfg, t.perEpoch, t.total)
		savedIn = st.BestDir
	}
	if err := writeBestInfo(t.cfg.OutDir, t.res.Best, t.logLine); err != nil {
		return err
	}
	setGenerationLengths(final, t.res.Lengths)
	save := final.Save
	if savedIn != "" {
		save = func(dir string) error { return final.SaveSharingWeights(dir, savedIn) }
	}
	if t.cfg.lora() {
		save = func(string) error { return finishLora(final, t.cfg, t.res) }
	}
	if err := save(t.cfg.OutDir); err != nil {
		return err
	}
	t.res.FeatureCache = t.feats.finish()
	t.onProgress(Progress{Phase: runinfo.PhaseDone, Step: st.Step, Total: t.total, Epoch: st.Epoch, ValLoss: math.NaN(), Message: "saved " + t.cfg.OutDir})
	return nil
}

// loadBest returns the model of the best checkpoint in dir: for a LoRA run the training model
// with the checkpoint's adapter in place of its own (the base weights never changed), otherwise
// the checkpoint's model, loaded beside the training one.
func (t *trainer) loadBest(dir string) (*inference.Captioner, error) {
	if t.cfg.lora() {
		t.capt.Model.DropLora()
		if _, err := t.capt.Model.LoadAdapter(dir); err != nil {
			return nil, err
		}
		return t.capt, nil
	}
	best, _, err := inference.LoadCaptioner(dir, t.device)
	if err != nil {
		return nil, err
	}
	t.best = best
	return best, nil
}
