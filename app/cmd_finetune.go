package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/captune/captune/annotate"
	"github.com/captune/captune/finetune"
	"github.com/captune/captune/finetune/runinfo"
	"github.com/captune/captune/inference"
	"github.com/captune/captune/internal/hub"
)

func init() {
	register(&Command{
		Name:    "finetune",
		Summary: "fine-tune a BLIP model on a caption dataset; writes a Hugging Face model folder",
		Usage:   "--data DIR --out DIR [--model DIR] [--method lora [--lora-rank N] [--merge]] [flags] [--resume] [--estimate]",
		Run:     runFinetune,
	})
}

// finetuneFlags are captune finetune's flags that are not fields of finetune.Config.
type finetuneFlags struct {
	data, model, adapter, recipe, captions, holdout *string
	loraTargets                                     *string
	estimateOnly, noEstimate, approved              *bool
}

// defineFinetuneFlags declares the flags, with cfg's fields bound to theirs.
func defineFinetuneFlags(fs *flag.FlagSet, cfg *finetune.Config) finetuneFlags {
	var f finetuneFlags
	f.data = fs.String("data", "", "dataset folder (required)")
	f.model = fs.String("model", "bundled", "base "+ModelFlagHelp)
	f.adapter = fs.String("adapter", "", "LoRA adapter folder to start from, on the model --model names, else on the base model its adapter_config.json names: --method lora trains it further (with its own rank, alpha and layers), a full run merges it in first")
	fs.StringVar(&cfg.OutDir, "out", "", "output folder for the fine-tuned model (required)")
	fs.BoolVar(&cfg.Overwrite, "overwrite", false, "replace the contents of an existing output folder")
	fs.BoolVar(&cfg.Resume, "resume", false, "continue from the newest checkpoint in --out, with the training settings it was started with")
	fs.StringVar(&cfg.Device, "device", cfg.Device, "auto, cpu, cuda or cuda:N")
	fs.StringVar(&cfg.Precision, "precision", "fp32", "fp32, or bf16: bfloat16 matrix products (autocast) with float32 weights and optimizer; about twice as fast on CPUs with AVX512-BF16 or AMX and on recent GPUs")
	fs.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "passes over the training split")
	fs.IntVar(&cfg.MaxSteps, "max-steps", 0, "stop after this many optimizer steps (overrides --epochs)")
	fs.IntVar(&cfg.BatchSize, "batch-size", cfg.BatchSize, "images per micro-batch")
	fs.IntVar(&cfg.GradAccum, "grad-accum", cfg.GradAccum, "micro-batches per optimizer step")
	fs.Float64Var(&cfg.LR, "lr", cfg.LR, "peak learning rate (AdamW)")
	fs.Float64Var(&cfg.WeightDecay, "weight-decay", cfg.WeightDecay, "AdamW weight decay")
	fs.IntVar(&cfg.WarmupSteps, "warmup", cfg.WarmupSteps, "linear warm-up steps")
	fs.StringVar(&cfg.Schedule, "schedule", cfg.Schedule, "after warm-up: cosine, linear or constant")
	fs.Float64Var(&cfg.ClipNorm, "clip-norm", cfg.ClipNorm, "gradient norm cap (0 = off)")
	f.recipe = fs.String("recipe", "blip", "loss recipe: blip (original: [DEC] start, pads and prompt ignored, smoothing 0.1) or hf (transformers forward)")
	fs.StringVar(&cfg.Prompt, "prompt", "", `prompt every caption is trained with, e.g. "a picture of"`)
	fs.IntVar(&cfg.MaxTextLen, "max-text-len", cfg.MaxTextLen, "tokens per training caption with the prompt and the start and end tokens; longer captions are cut (the run warns how many)")
	fs.BoolVar(&cfg.FreezeVision, "freeze-vision", false, "train only the text decoder (without --augment, each image then goes through the vision encoder once per run: see --feature-cache)")
	fs.StringVar(&cfg.FeatureCache, "feature-cache", cfg.FeatureCache, "with --freeze-vision and no --augment, where the frozen encoder's output of each image is kept: auto (memory up to --feature-cache-mb, then OUT/"+finetune.FeatureCacheDir+"), memory, disk, or off (encode at every use)")
	fs.StringVar(&cfg.FeatureCacheDType, "feature-cache-dtype", cfg.FeatureCacheDType, "how cached features are stored on disk: fp16, bf16 or fp32 (exact; memory always is)")
	fs.IntVar(&cfg.FeatureCacheMB, "feature-cache-mb", 0, "memory for cached image features in MB (0 = a quarter of the memory available)")
	fs.IntVar(&cfg.FreezeTextLayers, "freeze-text-layers", 0, "also freeze the text embeddings and the first N decoder layers")
	defineLoraFlags(fs, cfg, &f)
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed (data order, augmentation)")
	fs.BoolVar(&cfg.Augment, "augment", false, "random resized crop and horizontal flip (off: flips break left/right captions)")
	fs.IntVar(&cfg.CheckpointEvery, "checkpoint-every", 0, "steps between checkpoints (0 = at each epoch end)")
	fs.IntVar(&cfg.KeepLast, "keep", cfg.KeepLast, "checkpoints kept besides the best")
	fs.BoolVar(&cfg.StopOnAlarm, "stop-on-alarm", false, "stop after the epoch whose validation captions raise an alarm (collapse, repetition, length, falling CIDEr-D); its checkpoint is kept")
	fs.StringVar(&cfg.SelectBy, "select-by", "", "which checkpoint the output folder holds: cider (highest validation CIDEr-D) or loss (lowest validation loss); default cider when the validation images have captions, else loss")
	fs.StringVar(&cfg.OnNaN, "on-nan", finetune.OnNaNStop, "when the loss is not a number: stop (naming the last good checkpoint) or revert (go back to the last checkpoint and continue at half the learning rate, at most 3 times; logged)")
	fs.IntVar(&cfg.Patience, "patience", 0, "stop after N epochs without a better checkpoint by --select-by (0 = off); checkpoints are kept")
	f.estimateOnly = fs.Bool("estimate", false, "measure a few real steps, print how long the run takes and the memory it needs, and exit without training")
	f.noEstimate = fs.Bool("no-estimate", false, "start training without measuring the estimate first")
	f.approved = fs.Bool("approved-only", false, "train only on approved captions (same as --captions approved)")
	f.captions = fs.String("captions", string(annotate.TrainTrusted), "which captions train: trusted (human-written, imported or approved), approved, or all (unreviewed model captions too)")
	f.holdout = fs.String("holdout", string(annotate.HoldoutAuto), "which images validate: auto (the dataset's val split, else every tenth image), tenth, or none")
	return f
}

// defineLoraFlags declares --method and the LoRA flags.
func defineLoraFlags(fs *flag.FlagSet, cfg *finetune.Config, f *finetuneFlags) {
	fs.StringVar(&cfg.Method, "method", cfg.Method, "full (train every weight not frozen; --out gets a whole model) or lora (train small LoRA adapters as peft makes them, the base weights stay as they are; --out becomes a peft adapter folder of a few MB, which --model takes like a model; adapters start at zero and usually want a higher --lr, 1e-4 to 1e-3)")
	fs.IntVar(&cfg.LoraRank, "lora-rank", cfg.LoraRank, "with --method lora: the adapters' rank r (more learns more, and takes more memory and disk)")
	fs.Float64Var(&cfg.LoraAlpha, "lora-alpha", 0, "with --method lora: the adapters' alpha; their output is scaled by alpha / rank (default: the rank, a scaling of 1)")
	fs.Float64Var(&cfg.LoraDropout, "lora-dropout", cfg.LoraDropout, "with --method lora: dropout on the adapters' input while training (0 to less than 1)")
	f.loraTargets = fs.String("lora-targets", strings.Join(cfg.LoraTargets, ","), "with --method lora: comma-separated layers that get adapters: query, key, value (the text decoder's self- and cross-attention), output (its attention and feed-forward outputs), intermediate (its feed-forward input), qkv (the vision encoder's attention; no feature cache then), or the end of a layer name")
	fs.BoolVar(&cfg.Merge, "merge", false, "with --method lora: also write OUT/"+finetune.MergedDir+", the base model with the adapter merged into its weights (a plain Hugging Face model folder)")
}

// resolveLora sets cfg's LoRA targets from --lora-targets and refuses LoRA flags on a full run
// (they would be ignored without a word). A resumed run takes its method from its checkpoint.
func (f finetuneFlags) resolveLora(fs *flag.FlagSet, cfg *finetune.Config) error {
	cfg.LoraTargets = nil
	for _, t := range strings.Split(*f.loraTargets, ",") {
		if t = strings.TrimSpace(t); t != "" {
			cfg.LoraTargets = append(cfg.LoraTargets, t)
		}
	}
	if cfg.Method == finetune.MethodLora || cfg.Resume {
		return nil
	}
	var given []string
	fs.Visit(func(fl *flag.Flag) {
		if strings.HasPrefix(fl.Name, "lora-") || fl.Name == "merge" {
			given = append(given, "--"+fl.Name)
		}
	})
	if len(given) > 0 {
		return fmt.Errorf("%s: only with --method lora", strings.Join(given, ", "))
	}
	return nil
}

// resolve completes cfg from the parsed flags (recipe, base model and the model's recommended
// settings for flags not given) and returns the training data choices.
func (f finetuneFlags) resolve(env *Env, fs *flag.FlagSet, cfg *finetune.Config) (choice annotate.TrainingCaptions, hold annotate.Holdout, err error) {
	choice, err = annotate.ParseTrainingCaptions(*f.captions)
	if err != nil {
		return "", "", &ExitError{Code: 2, Err: err}
	}
	if *f.approved {
		choice = annotate.TrainApproved
	}
	hold, err = annotate.ParseHoldout(*f.holdout)
	if err != nil {
		return "", "", &ExitError{Code: 2, Err: err}
	}
	r, err := inference.ParseLossRecipe(*f.recipe)
	if err != nil {
		return "", "", &ExitError{Code: 2, Err: err}
	}
	cfg.Recipe = r
	if err := f.resolveLora(fs, cfg); err != nil {
		return "", "", &ExitError{Code: 2, Err: err}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	ref, err := resolveModelRef(modelSpec(fs, *f.model, *f.adapter), *f.adapter)
	if err != nil {
		return "", "", err
	}
	cfg.BaseModel, cfg.Adapter = ref.Base, ref.Adapter // --model ADAPTER too: the base, and the adapter on it
	if rec, ok := finetune.LoadRecommendation(cfg.BaseModel); ok {
		var note string
		if *cfg, note = rec.Apply(*cfg, func(name string) bool { return set[name] }); note != "" {
			fmt.Fprintln(env.Stderr, note)
		}
	}
	if cfg.Method == finetune.MethodLora && !set["lora-alpha"] {
		cfg.LoraAlpha = finetune.LoraAlphaFor(cfg.LoraRank)
	}
	if cfg.Method == finetune.MethodLora && !set["lr"] && !cfg.Resume {
		full := cfg.LR
		cfg.LR = runinfo.MethodLR(full, cfg.Method)
		fmt.Fprintf(env.Stderr, "LoRA: learning rate %g, %d times full fine-tuning's %g (--lr sets another)\n", cfg.LR, runinfo.LoraLRFactor, full)
	}
	if err := cfg.Validate(); err != nil {
		return "", "", &ExitError{Code: 2, Err: err}
	}
	if err := finetune.CheckLoraTargets(*cfg); err != nil {
		return "", "", &ExitError{Code: 2, Err: err}
	}
	return choice, hold, nil
}

func runFinetune(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	cfg := finetune.DefaultConfig()
	f := defineFinetuneFlags(fs, &cfg)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *f.data == "" || cfg.OutDir == "" {
		return &ExitError{Code: 2, Err: errors.New("--data and --out are required (see captune finetune --help)")}
	}
	ds, d, err := f.openTrainingData(env, fs, &cfg)
	if err != nil {
		return err
	}
	defer ds.Close()
	if done, err := estimateBeforeTraining(ctx, env, cfg, d, *f.estimateOnly, *f.noEstimate); done {
		return err
	}
	start := time.Now()
	onProgress, finish := finetunePrinter(env)
	res, err := finetune.Run(ctx, cfg, d, onProgress)
	finish()
	return reportFinetune(env, res, err, start)
}

// finetunePrinter prints a run's progress on stderr: one line redrawn for the steps, a line per
// validation and caption check; finish ends the redrawn line.
func finetunePrinter(env *Env) (onProgress func(finetune.Progress), finish func()) {
	var last time.Time
	drew := false
	onProgress = func(p finetune.Progress) {
		switch p.Phase {
		case runinfo.PhaseLoad, runinfo.PhaseResume:
			if drew { // a revert after a NaN loss comes between step lines
				fmt.Fprintln(env.Stderr)
				drew = false
			}
			fmt.Fprintf(env.Stderr, "%s\n", p.Message)
		case runinfo.PhaseCache:
			if now := time.Now(); p.Step == p.Total || now.Sub(last) >= 100*time.Millisecond {
				last, drew = now, true
				fmt.Fprintf(env.Stderr, "\r%s\x1b[K", p.Message)
			}
		case runinfo.PhaseTrain:
			if now := time.Now(); p.Step == p.Total || now.Sub(last) >= 100*time.Millisecond {
				last, drew = now, true
				fmt.Fprintf(env.Stderr, "\rstep %d/%d %s epoch %d loss %.4f lr %.2g %.1f samples/s ETA %s\x1b[K",
					p.Step, p.Total, drawBar(p.Step, p.Total), p.Epoch, p.Loss, p.LR, p.SamplesPerSec, formatDuration(p.ETA))
			}
		case runinfo.PhaseEval:
			if !math.IsNaN(p.ValLoss) {
				fmt.Fprintf(env.Stderr, "\nepoch %d: validation loss %.4f\n", p.Epoch, p.ValLoss)
			}
		case runinfo.PhaseCaptions:
			if p.Captions == nil {
				break // captioning started
			}
			fmt.Fprintln(env.Stderr, p.Message)
			if p.Alarm != "" {
				fmt.Fprintf(env.Stderr, "warning: epoch %d: %s\n", p.Epoch, p.Alarm)
			}
		}
	}
	finish = func() {
		if drew {
			fmt.Fprintln(env.Stderr)
		}
	}
	return onProgress, finish
}

// reportFinetune says how a run ended: its error with the checkpoint to resume from, or the result.
func reportFinetune(env *Env, res finetune.Result, err error, start time.Time) error {
	if res.RemovedTemps > 0 {
		fmt.Fprintf(env.Stderr, "%s: %s\n", res.OutDir, annotate.RemovedTempsNote(res.RemovedTemps))
	}
	if err != nil {
		if res.LastCheckpoint != "" {
			fmt.Fprintf(env.Stderr, "last checkpoint: %s (continue with --resume)\n", res.LastCheckpoint)
		}
		return err
	}
	if res.StoppedByAlarm {
		fmt.Fprintf(env.Stderr, "stopped early by an alarm (--stop-on-alarm); checkpoints kept in %s\n", filepath.Join(res.OutDir, "checkpoints"))
	}
	if res.NaNReverts > 0 {
		fmt.Fprintf(env.Stderr, "the loss was not a number %d time(s): the run went back to its last checkpoint at half the learning rate each time (see train_log.jsonl)\n", res.NaNReverts)
	}
	if res.StoppedEarly {
		fmt.Fprintf(env.Stderr, "stopped early: no better checkpoint for --patience epochs; checkpoints kept in %s\n", filepath.Join(res.OutDir, "checkpoints"))
	}
	if len(res.Losses) == 0 {
		return fmt.Errorf("no training step ran")
	}
	which := ""
	if res.Best.Epoch > 0 {
		which = " (" + res.Best.String() + ")"
	}
	written := "model written to " + res.OutDir
	if res.Method == finetune.MethodLora {
		written = fmt.Sprintf("LoRA adapter (%s) written to %s", hub.FormatBytes(res.AdapterBytes), res.OutDir)
	}
	fmt.Fprintf(env.Stdout, "fine-tuned %d steps in %s: loss %.4f -> %.4f; %s%s\n",
		res.Steps, time.Since(start).Round(time.Second), res.Losses[0], res.Losses[len(res.Losses)-1], written, which)
	if res.MergedDir != "" {
		fmt.Fprintf(env.Stdout, "merged model (base with the adapter merged in) written to %s\n", res.MergedDir)
	}
	if l := res.Lengths.String(); l != "" {
		fmt.Fprintln(env.Stdout, l)
	}
	if res.FeatureCache.Images > 0 {
		fmt.Fprintln(env.Stdout, res.FeatureCache.String())
	}
	return nil
}

// openTrainingData completes cfg from the flags (see resolve), opens the dataset a run (or an
// exported job) trains on and picks its training and validation images, printing what the opening
// warned about, the temporary files of a killed writer it removed, and the images chosen.
func (f finetuneFlags) openTrainingData(env *Env, fs *flag.FlagSet, cfg *finetune.Config) (*annotate.Dataset, finetune.Data, error) {
	choice, hold, err := f.resolve(env, fs, cfg)
	if err != nil {
		return nil, finetune.Data{}, err
	}
	ds, report, err := annotate.Open(*f.data, annotate.OpenOptions{})
	if err != nil {
		return nil, finetune.Data{}, err
	}
	for _, w := range report.Warnings {
		fmt.Fprintf(env.Stderr, "warning: %v\n", w)
	}
	if report.RemovedTemps > 0 {
		fmt.Fprintf(env.Stderr, "%s: %s\n", ds.Root(), annotate.RemovedTempsNote(report.RemovedTemps))
	}
	d, set := trainingData(ds, choice, hold)
	fmt.Fprintf(env.Stderr, "data: %s; %s (%d training images, %d validation)\n", choice.Describe(), set.How, len(d.Train), len(d.Val))
	for _, w := range set.Warnings {
		fmt.Fprintf(env.Stderr, "warning: %s\n", w)
	}
	return ds, d, nil
}
