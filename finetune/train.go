package finetune

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/finetune/runinfo"
	"github.com/captune/captune/inference"
	"github.com/captune/captune/inference/safetensors"
	"github.com/captune/captune/internal/atomicfile"
)

// Example is one training or validation image with its reference captions.
type Example struct {
	Image    string   // absolute path
	Captions []string // every caption becomes one training sample
}

// Data is a dataset split for training.
type Data struct {
	Train []Example
	Val   []Example
}

// Progress reports training as it goes; Phase says what is happening (runinfo's Phase constants).
type Progress = runinfo.Progress

// Result summarises a finished (or stopped) run: runinfo.Result, which the window shows, and what
// only the command line reports.
type Result struct {
	runinfo.Result
	Lengths      CaptionLengths    // the training captions' token lengths and the decoding lengths they set
	FeatureCache FeatureCacheStats // cached image features (Images 0: not used)
}

// ErrOutOfMemory is returned when training does not fit, before it starts or when it runs out.
var ErrOutOfMemory = errors.New("not enough memory")

// ErrNaNLoss is returned when the loss stops being a number.
var ErrNaNLoss = errors.New("loss is not a number")

// sample is one (image, caption) training pair.
type sample struct {
	image   int // index into the image list
	caption string
}

// trainerState is what a checkpoint records besides weights and optimizer moments.
type trainerState struct {
	Step       int       `json:"step"`
	Epoch      int       `json:"epoch"`       // 0-based epoch the next step belongs to
	Position   int       `json:"position"`    // samples of that epoch already consumed
	Seed       uint64    `json:"seed"`        // with Epoch, determines the data order
	TotalSteps int       `json:"total_steps"` // planned
	Losses     []float64 `json:"losses"`
	ValLosses  []float64 `json:"val_losses"`
	BestVal    float64   `json:"best_val_loss"` // MaxFloat64 until a validation ran
	BestDir    string    `json:"best_checkpoint"`
	CIDErs     []float64 `json:"val_cider"`  // validation CIDEr-D after each epoch
	BestCIDEr  float64   `json:"best_cider"` // of the best checkpoint when selecting by cider
	BestStep   int       `json:"best_step"`  // 0 until a checkpoint was the best
	BestEpoch  int       `json:"best_epoch"` // 1-based
	Stale      int       `json:"epochs_without_improvement"`
	LRScale    float64   `json:"lr_scale,omitempty"`    // learning-rate factor after NaN reverts; 0 = 1
	NaNReverts int       `json:"nan_reverts,omitempty"` // times the run went back to a checkpoint
	Config     Config    `json:"config"`
	Version    int       `json:"format_version"`
}

// Run fine-tunes cfg.BaseModel on data and writes the result to cfg.OutDir as a Hugging Face model
// folder (loadable by Captune and by transformers), with checkpoints under OutDir/checkpoints and a
// train_log.jsonl. It runs on the calling goroutine (locked to its OS thread for the duration);
// cancel ctx to stop within one step: the last checkpoint and the base model stay as they were.
func Run(ctx context.Context, cfg Config, data Data, onProgress func(Progress)) (res Result, err error) {
	if onProgress == nil {
		onProgress = func(Progress) {}
	}
	t := &trainer{ctx: ctx, cfg: cfg, data: data, onProgress: onProgress, res: &res}
	if err := t.prepare(); err != nil {
		return res, err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ts.MustGradSetEnabled(true)
	if err := t.start(); err != nil {
		return res, err
	}
	defer t.recoverFailure(&err)
	defer t.free()
	if err := t.load(); err != nil {
		return res, err
	}
	if err := t.train(); err != nil {
		return res, err
	}
	err = t.finish() // before the return reads res, which finish fills in
	return res, err
}

// checkMemory refuses, before anything is loaded, training that does not fit in the RAM available.
// A full run that does not fit names what a LoRA run of the same settings needs when that fits.
func checkMemory(mcfg inference.Config, cfg Config, device gotch.Device) error {
	need := runMemory(mcfg, cfg, cfg.BatchSize)
	avail := inference.AvailableMemory()
	if device.IsCuda() || avail <= 0 || need <= avail {
		return nil
	}
	lora := ""
	if lcfg := asLora(cfg); !cfg.lora() && runMemory(mcfg, lcfg, cfg.BatchSize) <= avail {
		lora = fmt.Sprintf("; or train a LoRA adapter (--method lora), which needs about %d MB", runMemory(mcfg, lcfg, cfg.BatchSize)>>20)
	}
	for fit := cfg.BatchSize - 1; fit >= 1; fit-- {
		if runMemory(mcfg, cfg, fit) <= avail {
			return fmt.Errorf("%w: training needs about %d MB but %d MB are available: use batch size %d (with --grad-accum %d to keep the effective batch)%s",
				ErrOutOfMemory, need>>20, avail>>20, fit, (cfg.BatchSize*cfg.GradAccum+fit-1)/fit, lora)
		}
	}
	return fmt.Errorf("%w: training needs about %d MB but %d MB are available, even at batch size 1%s", ErrOutOfMemory, need>>20, avail>>20, lora)
}

// runMemory is what checkMemory expects a run of cfg at this batch size to need: for a full run
// the whole model's training memory (what freezing saves is not counted before the weights are
// loaded), for a LoRA run loraMemory.
func runMemory(mcfg inference.Config, cfg Config, batch int) int64 {
	if cfg.lora() {
		return loraMemory(mcfg, cfg, batch)
	}
	return inference.EstimateMemory(mcfg, batch, 1, cfg.MaxTextLen, true).Total()
}

// asLora is cfg as a LoRA run with its LoRA settings (a full run's are DefaultConfig's unless set).
func asLora(cfg Config) Config {
	cfg.Method = MethodLora
	return cfg
}

// memoryLine is the memory estimate a run reports before it loads the model.
func memoryLine(mcfg inference.Config, cfg Config) string {
	if !cfg.lora() {
		return inference.EstimateMemory(mcfg, cfg.BatchSize, 1, cfg.MaxTextLen, true).String()
	}
	_, params, _ := mcfg.LoraPlan(cfg.LoraTargets, int64(cfg.LoraRank))
	return fmt.Sprintf("%d MB with LoRA (%.3gM adapter parameters train, the %.3gM of the base model do not)",
		loraMemory(mcfg, cfg, cfg.BatchSize)>>20, float64(params)/1e6, float64(mcfg.ParameterCount())/1e6)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func buildSamples(ex []Example) ([]sample, []string, error) {
	var samples []sample
	var images []string
	for _, e := range ex {
		caps := 0
		for _, c := range e.Captions {
			if strings.TrimSpace(c) != "" {
				samples = append(samples, sample{image: len(images), caption: c})
				caps++
			}
		}
		if caps > 0 {
			images = append(images, e.Image)
		}
	}
	return samples, images, nil
}

// trainingSamples is buildSamples for the training split, which must hold at least one caption.
func trainingSamples(train []Example) ([]sample, []string, error) {
	samples, images, err := buildSamples(train)
	if err != nil {
		return nil, nil, err
	}
	if len(samples) == 0 {
		if len(train) == 0 {
			return nil, nil, fmt.Errorf("%w: the split has no images", ErrNoData)
		}
		return nil, nil, fmt.Errorf("%w: %d images, none with a caption", ErrNoData, len(train))
	}
	return samples, images, nil
}

// plannedSteps returns the optimizer steps of one epoch over n samples and of the whole run.
func plannedSteps(cfg Config, n int) (perEpoch, total int) {
	perEpoch = (n + cfg.BatchSize*cfg.GradAccum - 1) / (cfg.BatchSize * cfg.GradAccum)
	total = cfg.MaxSteps
	if total <= 0 {
		total = perEpoch * cfg.Epochs
	}
	return perEpoch, total
}

// accumulateGrads clears the gradients and runs the micro-batches of one optimizer step (0-based
// step) on order from position pos, leaving their summed gradients for the update. It returns the
// step's mean loss, the samples it used and the position after them.
func accumulateGrads(capt *inference.Captioner, cfg Config, opt *AdamW, feed imageFeeder, samples []sample, order []int, pos, step int) (loss float64, used, next int, err error) {
	opt.ZeroGrad()
	defer adapterDropout(capt.Model, cfg.Seed, step)()
	for a := 0; a < cfg.GradAccum && pos < len(order); a++ {
		end := min(pos+cfg.BatchSize, len(order))
		batch := make([]sample, 0, end-pos)
		for _, i := range order[pos:end] {
			batch = append(batch, samples[i])
		}
		l, err := trainMicroBatch(capt, cfg, feed, batch, step, float64(cfg.GradAccum))
		if err != nil {
			return 0, 0, pos, err
		}
		loss += l / float64(cfg.GradAccum)
		used += len(batch)
		pos = end
	}
	return loss, used, pos, nil
}

// ErrNoData is returned when there is nothing to train on.
var ErrNoData = errors.New("no captioned images in the training split")

func prepareOutDir(cfg Config) error {
	entries, err := os.ReadDir(cfg.OutDir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return os.MkdirAll(cfg.OutDir, 0o755)
	case err != nil:
		return fmt.Errorf("output folder %s: %w", cfg.OutDir, err)
	case len(entries) == 0 || cfg.Resume:
		return nil
	case !cfg.Overwrite:
		return fmt.Errorf("output folder %s already holds files: pass --overwrite to replace them or --resume to continue", cfg.OutDir)
	}
	abs, _ := filepath.Abs(cfg.OutDir)
	base, _ := filepath.Abs(cfg.BaseModel)
	if abs == base {
		return fmt.Errorf("output folder %s is the base model's folder: choose another", cfg.OutDir)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(cfg.OutDir, e.Name())); err != nil {
			return fmt.Errorf("clear output folder: %w", err)
		}
	}
	return nil
}

// trainable marks the parameters cfg trains as requiring gradients, the frozen ones as not, and
// returns those it trains: for a LoRA run the adapters only (LoraTrainable).
func trainable(m *inference.Model, cfg Config) []NamedParam {
	if cfg.lora() {
		return LoraTrainable(m)
	}
	var out []NamedParam
	for _, n := range m.Tensors() {
		if frozen(n.Name, cfg) {
			n.Tensor.MustRequiresGrad_(false)
			continue
		}
		n.Tensor.MustRequiresGrad_(true) // an earlier estimate may have frozen it
		out = append(out, NamedParam{Name: n.Name, Tensor: n.Tensor})
	}
	return out
}

// frozen reports whether cfg freezes the parameter with this Hugging Face name.
func frozen(name string, cfg Config) bool {
	if cfg.FreezeVision && strings.HasPrefix(name, "vision_model.") {
		return true
	}
	if cfg.FreezeTextLayers > 0 {
		if strings.HasPrefix(name, "text_decoder.bert.embeddings.") {
			return true
		}
		for i := 0; i < cfg.FreezeTextLayers; i++ {
			if strings.HasPrefix(name, fmt.Sprintf("text_decoder.bert.encoder.layer.%d.", i)) {
				return true
			}
		}
	}
	return false
}

// epochOrder is the sample order of one epoch: a permutation drawn from (seed, epoch) only, so a
// resumed run sees the same order as an uninterrupted one.
func epochOrder(n int, seed uint64, epoch int, shuffle bool) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	if shuffle {
		r := rand.New(rand.NewPCG(seed, uint64(epoch)*0x9e3779b97f4a7c15+1))
		r.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	return order
}

func trainMicroBatch(c *inference.Captioner, cfg Config, feed imageFeeder, batch []sample, step int, accum float64) (float64, error) {
	images := make([]int, len(batch))
	seeds := make([]uint64, len(batch))
	caps := make([]string, len(batch))
	for i, s := range batch {
		images[i], seeds[i], caps[i] = s.image, uint64(step)*7919+uint64(i)+cfg.Seed*104729, s.caption
	}
	ids, promptLen := c.EncodeCaptions(caps, cfg.Prompt, cfg.MaxTextLen)
	b, err := c.Model.PrepareBatch(ids, promptLen, cfg.Recipe)
	if err != nil {
		return 0, err
	}
	loss, err := feed.loss(c, images, seeds, b)
	if err != nil {
		return 0, err
	}
	v := loss.Float64Values()[0]
	scaled := loss.MustDivScalar(ts.FloatScalar(accum), true)
	if err := scaled.Backward(); err != nil {
		scaled.MustDrop()
		return 0, err
	}
	scaled.MustDrop()
	return v, nil
}

func validationLoss(c *inference.Captioner, cfg Config, feed imageFeeder, samples []sample) (float64, error) {
	ng := ts.NewNoGradGuard()
	defer ng.Drop()
	var sum float64
	var n int
	for start := 0; start < len(samples); start += cfg.BatchSize {
		end := min(start+cfg.BatchSize, len(samples))
		images := make([]int, 0, end-start)
		caps := make([]string, 0, end-start)
		for _, s := range samples[start:end] {
			images = append(images, s.image)
			caps = append(caps, s.caption)
		}
		ids, promptLen := c.EncodeCaptions(caps, cfg.Prompt, cfg.MaxTextLen)
		b, err := c.Model.PrepareBatch(ids, promptLen, cfg.Recipe)
		if err != nil {
			return 0, err
		}
		loss, err := feed.loss(c, images, make([]uint64, len(images)), b)
		if err != nil {
			return 0, err
		}
		sum += loss.Float64Values(true)[0] * float64(end-start)
		n += end - start
	}
	return sum / float64(n), nil
}

// saveCheckpoint writes OutDir/checkpoints/step-NNNNNN (a full model folder plus optimizer moments
// and trainer state) through a temporary folder named by atomicfile (a killed writer's leftover is
// recognised and removed by the next run) renamed into place once complete, then prunes old ones.
// A folder named step-NNNNNN is therefore always whole.
func saveCheckpoint(c *inference.Captioner, opt *AdamW, state *trainerState, cfg Config) (string, error) {
	root := filepath.Join(cfg.OutDir, "checkpoints")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	final := filepath.Join(root, fmt.Sprintf("step-%06d", state.Step))
	tmp, err := atomicfile.Mkdir(final)
	if err != nil {
		return "", err
	}
	st := *state
	if st.BestStep > 0 && st.BestStep == st.Step {
		st.BestDir = final
	}
	if err := fillCheckpoint(tmp, c, opt, st); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if _, err := os.Stat(final); err == nil {
		removeDir(final)
	}
	if err := os.Rename(tmp, final); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	atomicfile.SyncDir(root)
	*state = st
	pruneCheckpoints(root, cfg.KeepLast, state.BestDir)
	return final, nil
}

// checkpointHook, when set (by tests), is called while a checkpoint folder is half written.
var checkpointHook func(step int)

// fillCheckpoint writes a checkpoint's files into dir, the trainer state last: the model folder,
// or for a LoRA run the adapter folder (the base weights never change), then the optimizer's
// moments.
func fillCheckpoint(dir string, c *inference.Captioner, opt *AdamW, st trainerState) error {
	save := c.Save
	if c.Model.Lora != nil {
		save = c.Model.SaveAdapter
	}
	if err := save(dir); err != nil {
		return err
	}
	if checkpointHook != nil {
		checkpointHook(st.Step)
	}
	if err := safetensors.Write(filepath.Join(dir, "optimizer.safetensors"), opt.State(), nil); err != nil {
		return err
	}
	return writeJSONFile(filepath.Join(dir, "trainer_state.json"), st)
}

// removeDir removes a folder by first renaming it to a temporary name, so that a removal cut
// short by a kill leaves a leftover the next run removes, never a partial folder under its name.
func removeDir(dir string) error {
	tmp := atomicfile.TempPath(dir)
	if err := os.Rename(dir, tmp); err != nil {
		return err
	}
	return os.RemoveAll(tmp)
}

func checkpointDirs(root string) []string {
	entries, _ := os.ReadDir(root)
	var dirs []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "step-") {
			dirs = append(dirs, filepath.Join(root, e.Name()))
		}
	}
	sort.Strings(dirs)
	return dirs
}

func pruneCheckpoints(root string, keep int, best string) {
	if keep <= 0 {
		keep = 1
	}
	dirs := checkpointDirs(root)
	for i := 0; i < len(dirs)-keep; i++ {
		if dirs[i] != best {
			removeDir(dirs[i])
		}
	}
}

// loadOptimizer restores the AdamW moments a checkpoint in dir saved at step.
func loadOptimizer(opt *AdamW, dir string, step int, device gotch.Device) error {
	f, err := safetensors.Open(filepath.Join(dir, "optimizer.safetensors"))
	if err != nil {
		return err
	}
	defer f.Close()
	return opt.LoadState(f, int64(step), device)
}

// checkpointFiles are the files every complete checkpoint holds: a full run's, or a LoRA run's.
var checkpointFiles = [][]string{
	{"config.json", "model.safetensors", "optimizer.safetensors", "trainer_state.json"},
	{inference.AdapterConfigFile, inference.AdapterWeightsFile, "optimizer.safetensors", "trainer_state.json"},
}

// latestCheckpoint returns the newest complete checkpoint under outDir, or "" if none.
func latestCheckpoint(outDir string) (string, error) {
	dirs := checkpointDirs(filepath.Join(outDir, "checkpoints"))
	for i := len(dirs) - 1; i >= 0; i-- {
		for _, files := range checkpointFiles {
			if allExist(dirs[i], files) {
				return dirs[i], nil
			}
		}
	}
	return "", nil
}

func allExist(dir string, files []string) bool {
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}

func writeJSONFile(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return safetensors.WriteAtomic(path, func(w io.Writer) error {
		_, err := w.Write(append(data, '\n'))
		return err
	})
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}
