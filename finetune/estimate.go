package finetune

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"time"

	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/finetune/runinfo"
	"github.com/captune/captune/inference"
	"github.com/sugarme/gotch"
)

// RunEstimate is what a run will cost, measured on a few real steps before it starts (see
// runinfo.Estimate).
type RunEstimate = runinfo.Estimate

// DefaultCalibration is how many real optimizer steps an estimate takes unless told otherwise: the
// first warms up, the others are timed.
const DefaultCalibration = 3

// longRun is where an estimate starts to warn: a run longer than this is not one to wait for.
const longRun = time.Hour

// Estimate loads cfg.BaseModel as Run does, takes calibrate (at least 2) real optimizer steps on
// batches of the training split, times one validation batch and one batch of validation captions, and extrapolates to the whole run.
// It writes nothing (not even cfg.OutDir, which may be empty) and leaves the base model as it was;
// cfg.Resume and cfg.Overwrite are ignored: it estimates a run from the start. Like Run it runs on
// the calling goroutine, locked to its OS thread; cancel ctx to stop it within one step (the
// error is then ctx.Err()).
func Estimate(ctx context.Context, cfg Config, data Data, calibrate int, onProgress func(Progress)) (est RunEstimate, err error) {
	if onProgress == nil {
		onProgress = func(Progress) {}
	}
	samples, images, err := trainingSamples(data.Train)
	if err != nil {
		return est, err
	}
	calibrate = max(calibrate, 2)
	device, checked, err := estimateSetup(cfg)
	if err != nil {
		return est, err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer func() {
		// Model code panics on libtorch errors (see inference.T), out of memory among them.
		if r := recover(); r != nil {
			err = fmt.Errorf("estimate: calibration step failed: %v", r)
		}
	}()
	onProgress(Progress{Phase: runinfo.PhaseLoad, Message: "loading " + cfg.BaseModel, ValLoss: math.NaN()})
	started := time.Now()
	capt, err := loadBase(cfg, device)
	if err != nil {
		return est, err
	}
	defer capt.Free()
	est.LoadTime = time.Since(started)
	if cfg, err = prepareMethod(capt, cfg, "", onProgress); err != nil {
		return est, err
	}
	mcfg := capt.Model.Config
	if !checked { // the base was an adapter folder: its model's config is known now
		if err := checkMemory(mcfg, cfg, device); err != nil {
			return est, err
		}
	}
	if !device.IsCuda() {
		est.Available = inference.AvailableMemory()
	}
	estimateMemory(&est, mcfg, capt.Model, cfg)

	perEpoch, total := plannedSteps(cfg, len(samples))
	est.Steps = total
	if valSamples, _, _ := buildSamples(data.Val); len(valSamples) > 0 {
		est.Evals = total / perEpoch // Run validates at each epoch end
	}
	loader := newImageLoader(images, capt.Pre, cfg.Augment)
	cal := calibration{ctx: ctx, capt: capt, cfg: cfg, loader: loader, samples: samples, onProgress: onProgress}
	if est.StepTime, err = cal.measure(cfg, calibrate); err != nil {
		return est, err
	}
	est.Calibrated = calibrate
	if est.Evals > 0 {
		pass, err := cal.timeValidation(data.Val)
		if err != nil {
			return est, err
		}
		est.EvalTime = time.Duration(est.Evals) * pass
	}
	cacheImages := distinctImages(images, data.Val)
	if usesFeatureCache(cfg) {
		est.CacheImages, est.CacheTime = cacheImages, cal.encode.perImage()*time.Duration(cacheImages)
	}
	est.Total = time.Duration(est.Steps)*est.StepTime + est.EvalTime + est.LoadTime + est.CacheTime
	if err := cal.alternatives(&est, mcfg, cacheImages); err != nil {
		return est, err
	}
	est.Advice = advise(est, cfg, mcfg, capt.Model, perEpoch)
	return est, nil
}

// estimateMemory fills in the memory each method needs with cfg's other settings, the parameters
// each trains, and the memory of cfg's own method.
func estimateMemory(est *RunEstimate, mcfg inference.Config, m *inference.Model, cfg Config) {
	full, lora := cfg, asLora(cfg)
	full.Method = MethodFull
	est.Method = cfg.method()
	est.FullMemory = trainingMemory(mcfg, m, full, cfg.BatchSize)
	est.LoraMemory = loraMemory(mcfg, lora, cfg.BatchSize)
	_, est.LoraParams, _ = mcfg.LoraPlan(lora.LoraTargets, int64(lora.LoraRank))
	for _, n := range m.Tensors() {
		if !frozen(n.Name, full) {
			est.FullParams += int64(n.Tensor.Numel())
		}
	}
	est.Memory = est.FullMemory
	if cfg.lora() {
		est.Memory = est.LoraMemory
	}
}

// estimateSetup checks cfg as Run would (without its resume and overwrite rules, which concern
// the output folder), its LoRA targets and whether a step fits in memory: a calibration step that
// does not fit would end the process, not return an error. checked is false when the base model
// is an adapter folder, whose base's config is known only once it is loaded.
func estimateSetup(cfg Config) (device gotch.Device, checked bool, err error) {
	check := cfg
	check.Resume, check.Overwrite = false, false
	if check.OutDir == "" {
		check.OutDir = "unused"
	}
	if err := check.Validate(); err != nil {
		return gotch.CPU, false, err
	}
	if device, err = inference.ParseDevice(cfg.Device); err != nil {
		return gotch.CPU, false, err
	}
	if startsFromAdapter(cfg) {
		return device, false, nil
	}
	mcfg, err := inference.LoadConfig(cfg.BaseModel)
	if err != nil {
		return device, false, err
	}
	if err := checkLoraPlan(mcfg, cfg); err != nil {
		return device, false, err
	}
	return device, true, checkMemory(mcfg, cfg, device)
}

// alternatives measures what the advice compares a run with: for a full run that trains the vision
// encoder, one step with it frozen; for a full run that takes long, one step of a LoRA run.
func (c *calibration) alternatives(est *RunEstimate, mcfg inference.Config, cacheImages int) error {
	cfg := c.cfg
	if cfg.lora() {
		return nil // freezing is moot: only the adapters train
	}
	var err error
	if !cfg.FreezeVision {
		frozen := cfg
		frozen.FreezeVision = true
		est.FrozenMemory = trainingMemory(mcfg, c.capt.Model, frozen, cfg.BatchSize)
		if est.FrozenStepTime, err = c.measure(frozen, 1); err != nil {
			return err
		}
		if usesFeatureCache(frozen) {
			est.FrozenCacheTime = c.encode.perImage() * time.Duration(cacheImages)
		}
	}
	if est.Total <= longRun {
		return nil
	}
	lora := asLora(cfg)
	if lora, err = prepareMethod(c.capt, lora, "", c.onProgress); err != nil {
		return err
	}
	defer c.capt.Model.DropLora()
	est.LoraStepTime, err = c.measure(lora, 1)
	return err
}

// calibration runs real optimizer steps on the loaded model for Estimate; the weights it changes
// are in memory only.
type calibration struct {
	ctx        context.Context
	capt       *inference.Captioner
	cfg        Config
	loader     *imageLoader
	samples    []sample
	order      []int
	pos, step  int // position in order, optimizer steps taken
	epoch      int // epochs begun
	encode     encodeTimer
	onProgress func(Progress)
}

// encodeTimer stands in for the feature cache while Estimate measures a run that uses it: such a
// run encodes each image once, in a pre-pass before the first step, and its steps run only the
// text decoder on the cached encoder output. encodeTimer encodes a micro-batch's images as that
// pre-pass does (decoded, under no-grad), keeps the time apart, and takes the decoder-only loss of
// a cached step, so a step's time less the encoding is a cached step's.
type encodeTimer struct {
	loader *imageLoader
	images int
	time   time.Duration
}

func (e *encodeTimer) loss(c *inference.Captioner, images []int, seeds []uint64, b inference.DecoderBatch) (*ts.Tensor, error) {
	started := time.Now()
	pix, err := e.loader.pixels(c, images, seeds)
	if err != nil {
		return nil, err
	}
	ng := ts.NewNoGradGuard()
	feats := c.Model.EncodeImage(pix)
	ng.Drop()
	pix.MustDrop()
	defer feats.MustDrop()
	e.images += len(images)
	e.time += time.Since(started)
	return c.Model.LossFromImageEmbeds(feats, b)
}

// perImage is the mean time encoding one image took, 0 before any was.
func (e *encodeTimer) perImage() time.Duration {
	if e.images == 0 {
		return 0
	}
	return e.time / time.Duration(e.images)
}

// feeder is what a step of a run with cfg's settings feeds the model: the pixels, or the encoder
// output once per image when the run caches image features.
func (c *calibration) feeder(cfg Config) imageFeeder {
	if !usesFeatureCache(cfg) {
		return c.loader
	}
	c.encode.loader = c.loader
	return &c.encode
}

// distinctImages counts the images a feature cache holds: every training and validation image,
// each once.
func distinctImages(train []string, val []Example) int {
	seen := map[string]bool{}
	for _, p := range train {
		seen[p] = true
	}
	_, valImages, _ := buildSamples(val)
	for _, p := range valImages {
		seen[p] = true
	}
	return len(seen)
}

// measure takes n optimizer steps training what cfg trains (with an optimizer of its own, freed
// before it returns) and returns the mean time of steps 2..n, or of the one step when n is 1 (the
// model is then warm from earlier steps).
func (c *calibration) measure(cfg Config, n int) (time.Duration, error) {
	params := trainable(c.capt.Model, cfg)
	if len(params) == 0 {
		return 0, fmt.Errorf("%w: everything is frozen", ErrBadConfig)
	}
	opt := NewAdamW(params, cfg.LR, cfg.Beta1, cfg.Beta2, cfg.Eps, cfg.WeightDecay)
	defer opt.Free()
	feed := c.feeder(cfg)
	var timed time.Duration
	for i := 0; i < n; i++ {
		if err := c.ctx.Err(); err != nil {
			return 0, err
		}
		c.onProgress(Progress{Phase: runinfo.PhaseEstimate, Step: i, Total: n, ValLoss: math.NaN(), Message: "timing a training step"})
		if c.pos >= len(c.order) {
			c.order = epochOrder(len(c.samples), cfg.Seed, c.epoch, cfg.Shuffle)
			c.pos = 0
			c.epoch++
		}
		started, encoding := time.Now(), c.encode.time
		_, _, next, err := accumulateGrads(c.capt, cfg, opt, feed, c.samples, c.order, c.pos, c.step)
		if err != nil {
			return 0, fmt.Errorf("estimate: step %d: %w", i+1, err)
		}
		if cfg.ClipNorm > 0 {
			opt.ClipGradNorm(cfg.ClipNorm)
		}
		opt.StepOnce()
		c.pos, c.step = next, c.step+1
		if i > 0 || n == 1 {
			// With a feature cache the encoding happens once per run, not in the step.
			timed += time.Since(started) - (c.encode.time - encoding)
		}
	}
	return timed / time.Duration(max(n-1, 1)), nil
}

// timeValidation times one validation pass as Run makes it at each epoch end: the validation loss
// over the split's captions and the greedy captions of its images (the caption watch), each
// extrapolated from one measured batch.
func (c *calibration) timeValidation(val []Example) (time.Duration, error) {
	samples, images, _ := buildSamples(val)
	if len(samples) == 0 {
		return 0, nil
	}
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	c.onProgress(Progress{Phase: runinfo.PhaseEstimate, ValLoss: math.NaN(), Message: "timing a validation batch"})
	vc := calibration{loader: newImageLoader(images, c.capt.Pre, false)}
	feed := vc.feeder(c.cfg)
	started := time.Now()
	if _, err := validationLoss(c.capt, c.cfg, feed, samples[:min(c.cfg.BatchSize, len(samples))]); err != nil {
		return 0, fmt.Errorf("estimate: validation batch: %w", err)
	}
	batches := (len(samples) + c.cfg.BatchSize - 1) / c.cfg.BatchSize
	pass := time.Duration(batches) * (time.Since(started) - vc.encode.time) // cached: encoded in the pre-pass
	w := newCaptionWatch(c.cfg, val)
	if w == nil {
		return pass, nil
	}
	n := min(len(w.val), w.opts.BatchSize)
	started = time.Now()
	if _, err := CaptionExamples(c.ctx, c.capt, w.val[:n], w.opts, nil); err != nil {
		return 0, fmt.Errorf("estimate: validation captions: %w", err)
	}
	imageBatches := (len(w.val) + n - 1) / n
	return pass + time.Duration(imageBatches)*time.Since(started), nil
}

// trainingMemory is inference.EstimateMemory for full training with cfg's freezing at this batch size:
// frozen parameters have no gradient and no AdamW moments, and a frozen vision encoder keeps no
// activations for a backward pass (nothing before it needs a gradient).
func trainingMemory(mcfg inference.Config, m *inference.Model, cfg Config, batch int) int64 {
	est := inference.EstimateMemory(mcfg, batch, 1, cfg.MaxTextLen, true)
	var frozenParams int64
	for _, n := range m.Tensors() {
		if frozen(n.Name, cfg) {
			frozenParams += int64(n.Tensor.Numel())
		}
	}
	total := est.Total() - (est.Gradients+est.Optimizer)/est.Parameters*frozenParams
	if cfg.FreezeVision {
		total -= est.Activations - textActivations(mcfg, cfg, batch)
	}
	return total
}

// advise says, one sentence each, what the run costs when it is long or does not fit, and what
// cheaper settings cost.
func advise(e RunEstimate, cfg Config, mcfg inference.Config, m *inference.Model, perEpoch int) []string {
	var advice []string
	memoryAt := func(b int) int64 { return trainingMemory(mcfg, m, cfg, b) }
	if cfg.lora() {
		memoryAt = func(b int) int64 { return loraMemory(mcfg, cfg, b) }
	}
	if e.Available > 0 && e.Memory > e.Available {
		fit := 0
		for b := cfg.BatchSize - 1; b >= 1 && fit == 0; b-- {
			if memoryAt(b) <= e.Available {
				fit = b
			}
		}
		if fit > 0 {
			advice = append(advice, fmt.Sprintf("Training needs about %s but %s are available: use --batch-size %d (with --grad-accum %d to keep the effective batch).",
				runinfo.GiB(e.Memory), runinfo.GiB(e.Available), fit, (cfg.BatchSize*cfg.GradAccum+fit-1)/fit))
		} else {
			advice = append(advice, fmt.Sprintf("Training needs about %s but %s are available, even at batch size 1.", runinfo.GiB(e.Memory), runinfo.GiB(e.Available)))
		}
	}
	if e.Total > longRun {
		advice = append(advice, fmt.Sprintf("This run takes about %s: start it when the machine can stay busy for hours, or shorten it.", runinfo.Rough(e.Total)))
	}
	if e.FrozenStepTime > 0 {
		frozen := time.Duration(e.Steps)*e.FrozenStepTime + e.EvalTime + e.LoadTime + e.FrozenCacheTime
		cached := ""
		if e.FrozenCacheTime > 0 {
			cached = fmt.Sprintf(", with its image features cached in %s", runinfo.Rough(e.FrozenCacheTime))
		}
		advice = append(advice, fmt.Sprintf("Training only the text decoder (--freeze-vision) takes about %s (%s a step, measured%s) and needs about %s.",
			runinfo.Rough(frozen), runinfo.Seconds(e.FrozenStepTime), cached, runinfo.GiB(e.FrozenMemory)))
	}
	if !cfg.lora() && (e.Total > longRun || (e.Available > 0 && e.Memory > e.Available)) {
		advice = append(advice, loraAdvice(e, cfg))
	}
	if e.Total > longRun && e.StepTime > 0 {
		advice = append(advice, shorter(e, cfg, perEpoch))
	}
	return advice
}

// loraAdvice says what a LoRA run of the same settings trains, needs and (when measured) costs.
func loraAdvice(e RunEstimate, cfg Config) string {
	lora := asLora(cfg)
	s := fmt.Sprintf("A LoRA adapter (--method lora, rank %d) trains %.2gM parameters instead of %.3gM and needs about %s",
		lora.LoraRank, float64(e.LoraParams)/1e6, float64(e.FullParams)/1e6, runinfo.GiB(e.LoraMemory))
	if e.LoraStepTime > 0 {
		s += fmt.Sprintf("; it takes about %s (%s a step, measured)", runinfo.Rough(time.Duration(e.Steps)*e.LoraStepTime+e.EvalTime+e.LoadTime), runinfo.Seconds(e.LoraStepTime))
	}
	return s + "."
}

// shorter suggests the longest run of the same settings that takes about longRun.
func shorter(e RunEstimate, cfg Config, perEpoch int) string {
	evalPerEpoch := time.Duration(0)
	if e.Evals > 0 {
		evalPerEpoch = e.EvalTime / time.Duration(e.Evals)
	}
	budget := longRun - e.LoadTime
	epoch := time.Duration(perEpoch)*e.StepTime + evalPerEpoch
	if epochs := int(budget / epoch); cfg.MaxSteps <= 0 && epochs >= 1 {
		return fmt.Sprintf("With --epochs %d instead of %d it takes about %s.", epochs, cfg.Epochs, runinfo.Rough(time.Duration(epochs)*epoch+e.LoadTime))
	}
	steps := max(1, int(budget/e.StepTime))
	return fmt.Sprintf("With --max-steps %d (%.2g epochs) it takes about %s.", steps, float64(steps)/float64(perEpoch), runinfo.Rough(time.Duration(steps)*e.StepTime+e.LoadTime))
}

// Rough prints a duration as people say it: "4 s", "12 min", "3 h 20 min" (runinfo.Rough).
func Rough(d time.Duration) string { return runinfo.Rough(d) }
