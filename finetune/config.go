package finetune

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/captune/captune/inference"
)

// Config holds every training setting. DefaultConfig's values work on BLIP-base without tuning.
type Config struct {
	BaseModel string // Hugging Face BLIP folder to start from (or a LoRA adapter folder, on its base)
	// Adapter is a LoRA adapter folder to put on BaseModel first ("" for none): a LoRA run trains it
	// further, a full run merges it in (as for an adapter folder given as BaseModel).
	Adapter   string
	OutDir    string // where checkpoints, train_log.jsonl and the final model go
	Overwrite bool   // allow an OutDir that already holds files (they are replaced)
	Resume    bool   // continue from the newest checkpoint in OutDir, with its training settings
	Device    string // auto, cpu, cuda, cuda:N
	// Precision is "fp32" (or "") or "bf16": bfloat16 matrix products through autocast, float32
	// weights, gradients and optimizer state (see inference.Precision). A device without fast
	// bfloat16 trains in fp32 and the run says so.
	Precision string

	Epochs    int // passes over the training split (ignored when MaxSteps > 0)
	MaxSteps  int // optimizer steps; 0 = Epochs passes
	BatchSize int // images per micro-batch
	GradAccum int // micro-batches per optimizer step

	LR, WeightDecay, Beta1, Beta2, Eps float64
	WarmupSteps                        int     // linear warm-up from 0
	Schedule                           string  // after warm-up: cosine (to 0), linear (to 0) or constant
	ClipNorm                           float64 // global gradient-norm cap; 0 = off

	Recipe           inference.LossRecipe
	Prompt           string // text every caption is trained and generated with
	MaxTextLen       int    // tokens per caption including [CLS]/[SEP]
	FreezeVision     bool   // train only the text decoder
	FreezeTextLayers int    // also freeze the embeddings and the first N decoder layers

	// Method is MethodFull (or "": every weight not frozen trains) or MethodLora: LoRA adapters as
	// peft makes them train on LoraTargets and the base weights stay as they are (FreezeVision and
	// FreezeTextLayers are then moot). A LoRA run's OutDir is a peft adapter folder.
	Method      string
	LoraRank    int      // r: the adapters' rank
	LoraAlpha   float64  // the adapters' output is scaled by LoraAlpha / LoraRank
	LoraDropout float64  // dropout on the adapters' input while training
	LoraTargets []string // names of inference.LoraTargetNames, or ends of layer names (peft's target_modules)
	Merge       bool     // a LoRA run also writes OutDir/merged: the base model with the adapter merged in

	Seed    uint64
	Shuffle bool
	Augment bool // random resized crop (scale 0.5–1) and horizontal flip

	// FeatureCache says where the encoder output of each image is kept when FreezeVision is set and
	// Augment is not (see featcache.go): "auto" (or "") in memory up to FeatureCacheMB, then on disk
	// in OutDir/feature-cache; "memory"; "disk"; "off" encodes every image at every use.
	FeatureCache string
	// FeatureCacheDType is how disk entries store the features: "fp16" (or ""), "bf16", or "fp32"
	// (exact). Entries in memory are always exact.
	FeatureCacheDType string
	FeatureCacheMB    int // memory budget for cached features; 0 = a quarter of the memory available

	CheckpointEvery int // steps between checkpoints (0: only at epoch ends)
	KeepLast        int // step checkpoints kept besides the best one
	EvalBeams       int // beams for validation captions
	EvalMaxLength   int
	EvalMinLength   int
	StopOnAlarm     bool // end the run after the epoch whose validation captions raised an alarm
	// SelectBy picks the checkpoint the output folder holds: "cider" (highest validation CIDEr-D),
	// "loss" (lowest validation loss), or "" for cider when the validation images have captions,
	// loss otherwise.
	SelectBy string
	Patience int // stop after this many epochs without a better checkpoint; 0 = off
	// OnNaN says what a loss that is not a number does: "stop" (or "") ends the run naming the last
	// good checkpoint; "revert" goes back to it and continues at half the learning rate.
	OnNaN string
}

// DefaultConfig returns settings for fine-tuning BLIP on a few hundred to a few thousand images:
// the learning rate and weight decay of BLIP's COCO recipe scaled for small batches (AdamW 2e-5 at
// batch 8 rather than 1e-5 at 32×8 GPUs: small domain datasets need more steps per image), 5
// epochs with a short warm-up and cosine decay as in BLIP's caption_coco.yaml, the original loss
// recipe (docs/BLIP.md), gradient clipping at 1.0 as a guard for small batches, and the evaluation
// decoding of the paper (3 beams, 5–20 tokens).
func DefaultConfig() Config {
	return Config{
		Device: "auto", Epochs: 5, BatchSize: 8, GradAccum: 1,
		LR: 2e-5, WeightDecay: 0.05, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8,
		WarmupSteps: 10, Schedule: "cosine", ClipNorm: 1.0,
		Recipe: inference.RecipeBLIP, MaxTextLen: 40,
		Seed: 42, Shuffle: true, KeepLast: 2, EvalBeams: 3, EvalMaxLength: 20, EvalMinLength: 5,
		FeatureCache: FeatureCacheAuto, FeatureCacheDType: "fp16",
		Method: MethodFull, LoraRank: 16, LoraAlpha: LoraAlphaFor(16), LoraDropout: 0.05,
		LoraTargets: append([]string(nil), inference.DefaultLoraTargets...),
	}
}

// LoraAlphaFor is the alpha of a LoRA run of rank r when none is given: r itself, so that the
// adapters' scaling alpha / r is 1 at any rank and choosing a larger rank does not shrink their
// steps (a fixed alpha, peft's default 8, would halve them at rank 16).
func LoraAlphaFor(rank int) float64 { return float64(rank) }

// The choices of Config.Method.
const (
	MethodFull = "full"
	MethodLora = "lora"
)

// ErrBadConfig is wrapped by every configuration error.
var ErrBadConfig = errors.New("invalid training settings")

// Validate checks the settings before anything is loaded.
func (c Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrBadConfig, fmt.Sprintf(format, a...))
	}
	switch {
	case c.BaseModel == "":
		return bad("no base model")
	case c.OutDir == "":
		return bad("no output folder")
	case math.IsNaN(c.LR) || math.IsInf(c.LR, 0) || c.LR <= 0:
		return bad("learning rate %v must be a positive number", c.LR)
	case c.LR > 1:
		return bad("learning rate %v is far too large (BLIP fine-tunes at 1e-5 to 5e-5)", c.LR)
	case math.IsNaN(c.WeightDecay) || c.WeightDecay < 0:
		return bad("weight decay %v must be >= 0", c.WeightDecay)
	case c.Beta1 < 0 || c.Beta1 >= 1 || c.Beta2 < 0 || c.Beta2 >= 1:
		return bad("betas (%v, %v) must be in [0, 1)", c.Beta1, c.Beta2)
	case c.Eps <= 0:
		return bad("eps %v must be positive", c.Eps)
	case c.Epochs <= 0 && c.MaxSteps <= 0:
		return bad("set epochs or max steps")
	case c.BatchSize <= 0:
		return bad("batch size %d must be positive", c.BatchSize)
	case c.GradAccum <= 0:
		return bad("gradient accumulation %d must be positive", c.GradAccum)
	case c.WarmupSteps < 0:
		return bad("warm-up steps %d must be >= 0", c.WarmupSteps)
	case c.Schedule != "cosine" && c.Schedule != "linear" && c.Schedule != "constant":
		return bad("schedule %q: want cosine, linear or constant", c.Schedule)
	case c.MaxTextLen < 4:
		return bad("max text length %d is too short", c.MaxTextLen)
	case c.ClipNorm < 0:
		return bad("clip norm %v must be >= 0", c.ClipNorm)
	case c.Resume && c.Overwrite:
		return bad("resume and overwrite exclude each other")
	case c.SelectBy != "" && c.SelectBy != SelectCIDEr && c.SelectBy != SelectLoss:
		return bad("select by %q: want cider or loss", c.SelectBy)
	case c.Patience < 0:
		return bad("patience %d must be >= 0", c.Patience)
	case c.OnNaN != "" && c.OnNaN != OnNaNStop && c.OnNaN != OnNaNRevert:
		return bad("on NaN %q: want stop or revert", c.OnNaN)
	case !validFeatureCache(c.FeatureCache):
		return bad("feature cache %q: want auto, memory, disk or off", c.FeatureCache)
	case !validFeatureDType(c.FeatureCacheDType):
		return bad("feature cache dtype %q: want fp16, bf16 or fp32", c.FeatureCacheDType)
	case !validPrecision(c.Precision):
		return bad("precision %q: want fp32 or bf16", c.Precision)
	case c.FeatureCacheMB < 0:
		return bad("feature cache memory %d MB must be >= 0", c.FeatureCacheMB)
	}
	if err := c.validateLora(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	return nil
}

// validateLora checks the method and, for a LoRA run, its adapter settings (a full run ignores
// them, as a checkpoint made before LoRA existed has none). Targets are checked against the model
// once its config is read (inference.Config.LoraPlan).
func (c Config) validateLora() error {
	switch {
	case c.Method != "" && c.Method != MethodFull && c.Method != MethodLora:
		return fmt.Errorf("method %q: want full or lora", c.Method)
	case !c.lora():
		return nil
	case c.LoraRank < 1:
		return fmt.Errorf("LoRA rank %d: want 1 or more", c.LoraRank)
	case math.IsNaN(c.LoraAlpha) || math.IsInf(c.LoraAlpha, 0) || c.LoraAlpha <= 0:
		return fmt.Errorf("LoRA alpha %v: want a positive number", c.LoraAlpha)
	case math.IsNaN(c.LoraDropout) || c.LoraDropout < 0 || c.LoraDropout >= 1:
		return fmt.Errorf("LoRA dropout %v: want 0 or more and less than 1", c.LoraDropout)
	case len(inference.LoraTargetModules(c.LoraTargets)) == 0:
		return fmt.Errorf("no LoRA targets: name some of %s", strings.Join(inference.LoraTargetNameList(), ", "))
	}
	return nil
}

// lora reports whether c trains LoRA adapters.
func (c Config) lora() bool { return c.Method == MethodLora }

// method is c.Method with "" spelled out.
func (c Config) method() string {
	if c.Method == "" {
		return MethodFull
	}
	return c.Method
}

// LRAt returns the learning rate for optimizer step (0-based) out of total.
func (c Config) LRAt(step, total int) float64 {
	if c.WarmupSteps > 0 && step < c.WarmupSteps {
		return c.LR * float64(step+1) / float64(c.WarmupSteps)
	}
	rest := total - c.WarmupSteps
	if rest <= 0 {
		return c.LR
	}
	progress := float64(step-c.WarmupSteps) / float64(rest)
	switch c.Schedule {
	case "cosine":
		return c.LR * 0.5 * (1 + math.Cos(math.Pi*progress))
	case "linear":
		return c.LR * (1 - progress)
	}
	return c.LR
}

// RecommendationFile is the optional file in a model folder with training settings that suit the
// model better than DefaultConfig (the bundled demo model is small and needs a far higher learning
// rate than BLIP-base).
const RecommendationFile = "captune_training.json"

// Recommendation is the content of RecommendationFile.
type Recommendation struct {
	LR          float64 `json:"lr"`
	Epochs      int     `json:"epochs"`
	BatchSize   int     `json:"batch_size"`
	WarmupSteps int     `json:"warmup_steps"`
	Note        string  `json:"note,omitempty"`
}

// LoadRecommendation reads modelDir's RecommendationFile; ok is false when the folder has none or
// it cannot be read (a model without one trains with DefaultConfig's values).
func LoadRecommendation(modelDir string) (r Recommendation, ok bool) {
	data, err := os.ReadFile(filepath.Join(modelDir, RecommendationFile))
	if err != nil || json.Unmarshal(data, &r) != nil {
		return Recommendation{}, false
	}
	return r, true
}

// Apply returns c with the recommended settings, except those the user chose: keep reports them by
// their command-line flag names ("lr", "epochs", "batch-size", "warmup"). Epochs are not changed
// when c has MaxSteps. The string says what changed ("" when nothing).
func (r Recommendation) Apply(c Config, keep func(flag string) bool) (Config, string) {
	if keep == nil {
		keep = func(string) bool { return false }
	}
	var changed []string
	if r.LR > 0 && !keep("lr") && c.LR != r.LR {
		c.LR = r.LR
		changed = append(changed, fmt.Sprintf("learning rate %g", r.LR))
	}
	if r.Epochs > 0 && !keep("epochs") && c.MaxSteps == 0 && c.Epochs != r.Epochs {
		c.Epochs = r.Epochs
		changed = append(changed, fmt.Sprintf("%d epochs", r.Epochs))
	}
	if r.BatchSize > 0 && !keep("batch-size") && c.BatchSize != r.BatchSize {
		c.BatchSize = r.BatchSize
		changed = append(changed, fmt.Sprintf("batch %d", r.BatchSize))
	}
	if r.WarmupSteps > 0 && !keep("warmup") && c.WarmupSteps != r.WarmupSteps {
		c.WarmupSteps = r.WarmupSteps
		changed = append(changed, fmt.Sprintf("%d warm-up steps", r.WarmupSteps))
	}
	if len(changed) == 0 {
		return c, ""
	}
	return c, "the base model recommends " + strings.Join(changed, ", ") + " (" + RecommendationFile + "; set them to override)"
}
