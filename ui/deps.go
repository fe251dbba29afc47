package ui

import (
	"context"
	"fmt"
	"image"
	"strings"

	"github.com/captune/captune/annotate"
	"github.com/captune/captune/finetune/runinfo"
	"github.com/captune/captune/internal/hub"
)

// The screens reach the model and the trainer only through the small interfaces below, so that
// package ui never links libtorch and every screen can be tested with fakes. Package app provides
// the real implementations (engine-backed captioner, finetune.Run-backed trainer).

// GenerationSettings are the decoding settings of the Generation panel, with the defaults of
// docs/BLIP.md (DefaultGeneration).
type GenerationSettings struct {
	Beams             int     // 1 = greedy; more = beam search
	MinLength         int     // tokens, counting the start token and prompt
	MaxLength         int     // tokens, counting the start token and prompt
	Prompt            string  // text every caption starts with (stripped from the result)
	Sample            bool    // nucleus sampling instead of beam search
	TopP              float64 // sampling: cumulative probability kept
	Temperature       float64 // sampling: logits divided by this
	RepetitionPenalty float64 // > 1 discourages repeated words
}

// DefaultGeneration returns the evaluation decoding of the BLIP paper: 3 beams, 5–20 tokens.
func DefaultGeneration() GenerationSettings {
	return GenerationSettings{Beams: 3, MinLength: 5, MaxLength: 20, TopP: 0.9, Temperature: 1, RepetitionPenalty: 1}
}

// GenerationAdvice is what a model folder's generation_config.json sets for decoding; a nil field
// sets nothing (a set 0 is a value). The Generation panel fills in the numbers the user has not
// typed: the user's value wins, then the model's, then DefaultGeneration's.
type GenerationAdvice struct {
	Beams, MinLength, MaxLength *int
	RepetitionPenalty           *float64
}

// Validate reports settings the model cannot decode with, phrased for the user.
func (g GenerationSettings) Validate() error {
	switch {
	case g.Beams < 1:
		return fmt.Errorf("beams %d: want at least 1", g.Beams)
	case g.MaxLength < 2:
		return fmt.Errorf("max length %d: want at least 2", g.MaxLength)
	case g.MinLength < 0 || g.MinLength > g.MaxLength:
		return fmt.Errorf("min length %d: want between 0 and the max length %d", g.MinLength, g.MaxLength)
	case g.Sample && (g.TopP <= 0 || g.TopP > 1):
		return fmt.Errorf("top-p %v: want a number in (0, 1]", g.TopP)
	case g.Sample && g.Temperature <= 0:
		return fmt.Errorf("temperature %v: want a positive number", g.Temperature)
	case g.RepetitionPenalty <= 0:
		return fmt.Errorf("repetition penalty %v: want a positive number (1 = off)", g.RepetitionPenalty)
	}
	return nil
}

// Summary describes the settings in a few words, for the panel header and reports.
func (g GenerationSettings) Summary() string {
	var b strings.Builder
	if g.Sample {
		fmt.Fprintf(&b, "sampling top-p %g", g.TopP)
	} else if g.Beams <= 1 {
		b.WriteString("greedy")
	} else {
		fmt.Fprintf(&b, "beams %d", g.Beams)
	}
	fmt.Fprintf(&b, " · %d–%d", g.MinLength, g.MaxLength)
	if g.Prompt != "" {
		fmt.Fprintf(&b, " · %q", g.Prompt)
	}
	return b.String()
}

// Captioner captions image files with one loaded model. Implementations may be slow and must be
// safe to call from any goroutine (the app's runs every model call on its engine thread).
type Captioner interface {
	// Name is the short model name recorded in caption origins ("model:NAME").
	Name() string
	// Caption returns one caption per path, in order, calling onProgress (if not nil) with the
	// number of images done so far. When some images cannot be read it returns the other captions
	// with "" for those and an *ImageError naming them. It stops early when ctx is cancelled.
	Caption(ctx context.Context, paths []string, gen GenerationSettings, onProgress func(done int)) ([]string, error)
	// Close frees the model. The captioner is not used afterwards.
	Close() error
}

// ImageError reports images a Captioner could not read; the captions of the others are valid.
type ImageError struct {
	Paths []string
	Errs  []error
}

func (e *ImageError) Error() string {
	if len(e.Errs) == 1 {
		return e.Errs[0].Error()
	}
	return fmt.Sprintf("%d images could not be read, the first: %v", len(e.Errs), e.Errs[0])
}

// ModelLoader loads the captioning model in a Hugging Face folder onto a device ("auto", "cpu",
// "cuda:N") to compute in precision ("fp32" or "bf16"). Loading a large model takes seconds: the
// UI calls it off its goroutine.
type ModelLoader func(ctx context.Context, dir, device, precision string) (Captioner, error)

// TrainingAdvice is what a base model's folder recommends for fine-tuning it; zero fields have no
// advice. The Fine-tune panel fills in the numbers the user has not typed.
type TrainingAdvice struct {
	Epochs    int
	LR        float64
	BatchSize int
	Note      string // why, in a sentence or two
}

// TrainSettings are the Fine-tune panel's settings for one run.
type TrainSettings struct {
	Dataset      *annotate.Dataset
	BaseModel    string // model folder
	OutDir       string // run folder: checkpoints, log and the fine-tuned model
	Epochs       int
	LR           float64
	BatchSize    int
	FreezeVision bool
	Device       string
	Precision    string                    // "fp32" or "bf16" (bfloat16 matrix products, float32 weights)
	Captions     annotate.TrainingCaptions // which captions train
	Holdout      annotate.Holdout          // which images validate
	Resume       bool                      // continue from the newest checkpoint in OutDir, with its training settings
	Overwrite    bool                      // replace what OutDir holds
	Prompt       string
	// Method is "full" (every weight trains; OutDir gets a whole model) or "lora" (small adapters
	// of rank LoraRank train beside the frozen base; OutDir gets the adapter, peft's layout).
	Method   string
	LoraRank int
}

// The fine-tuning methods of TrainSettings.Method, as finetune.Config.Method spells them.
const (
	MethodFull = "full"
	MethodLora = "lora"
)

// AdapterInfo is what the model picker shows of a LoRA adapter folder (adapter_config.json).
type AdapterInfo struct {
	Base string // the base model's folder, resolved as loading the adapter resolves it; "" when not found
	Rank int    // the adapter's rank r
}

// Trainer fine-tunes a model. Train is synchronous (the UI runs it in a goroutine), reports
// through onProgress from its own goroutine, and stops within a step when ctx is cancelled. The
// progress and the result are runinfo's plain types, the ones package finetune fills in.
type Trainer interface {
	Train(ctx context.Context, s TrainSettings, onProgress func(runinfo.Progress)) (runinfo.Result, error)
}

// CompareRequest asks for the before/after evaluation of a run.
type CompareRequest struct {
	Dataset    *annotate.Dataset
	BaseModel  string // folder
	TunedModel string // folder (usually RunDir)
	RunDir     string // where the report files go
	Generation GenerationSettings
	Device     string
	Captions   annotate.TrainingCaptions // the run's choices: the same images validate
	Holdout    annotate.Holdout
}

// Evaluator captions the evaluation images with the base and the fine-tuned model and scores
// both, writing the HTML report into the run folder (its path in the Comparison's ReportPath). It
// reports progress as done/total captions.
type Evaluator interface {
	Compare(ctx context.Context, req CompareRequest, onProgress func(done, total int)) (runinfo.Comparison, error)
}

// ModelStore is the Hugging Face model cache behind the Models dialog; internal/hub's Store is the
// real one (cgo-free, so the dialog's tests drive it against a fake hub). The window never makes
// a request itself: it uses hub's plain types and sentinel errors, not its client. Download is
// synchronous and stops when ctx is cancelled, keeping the partial file for the next call.
type ModelStore interface {
	// Settings are the hub endpoint, where the token came from, the cache folder, offline mode.
	Settings() hub.Settings
	// List returns the model repos in the cache, those downloaded by Python tools included.
	List() ([]hub.CachedModel, error)
	// CheckSpace returns an error wrapping hub.ErrDiskFull when need bytes of repo will not fit.
	CheckSpace(repo string, need int64) error
	// Download fetches repo into the cache and returns its folder, calling onProgress (from the
	// calling goroutine) at most every 100 ms.
	Download(ctx context.Context, repo string, onProgress func(hub.Progress)) (dir string, err error)
	// Delete removes repo from the cache.
	Delete(repo string) error
}

// Deps is everything the window needs from outside package ui. Zero fields switch features off
// (no loader: auto-captioning explains that there is no model).
type Deps struct {
	LoadModel    ModelLoader
	DefaultModel string // folder of the default (bundled) model; "" when there is none
	// DefaultModelErr says why there is no default model, shown in the model picker.
	DefaultModelErr error
	Trainer         Trainer
	Evaluator       Evaluator
	// Advise returns a base model folder's fine-tuning advice; nil or false: the defaults apply.
	Advise func(modelDir string) (TrainingAdvice, bool)
	// AdviseGeneration reads a model folder's decoding settings without loading the model; nil or
	// false: the defaults apply.
	AdviseGeneration func(modelDir string) (GenerationAdvice, bool)
	// Devices lists the devices for the pickers, the first being the default ("auto", "cpu", …).
	Devices []string
	// DeviceInfo is one line about what the machine offers (from captune doctor).
	DeviceInfo string
	// NoBF16 says why the default device cannot compute in bf16 ("" when it can): the Precision
	// menu then offers fp32 only and shows the reason.
	NoBF16 string
	// DecodeImage reads an image file for display; nil means the standard library decoders.
	DecodeImage func(path string) (image.Image, error)
	// DecodeImageFit reads an image for a thumbnail or the large view, possibly reduced while it is
	// decoded (libjpeg-turbo's DCT scaling) but keeping at least fitSide pixels on its longer side;
	// w and h are the whole image's size, as the status bar shows it. nil means DecodeImage.
	DecodeImageFit func(path string, fitSide int) (img image.Image, w, h int, err error)
	// RunsDir is where fine-tuning runs go by default, one folder per run.
	RunsDir string
	// Adapter reads a LoRA adapter folder (adapter_config.json) and resolves its base model, so
	// that the model picker lists the adapters of past runs under their base; nil or an error: the
	// adapter is listed at the end, by its folder name.
	Adapter func(dir string) (AdapterInfo, error)
	// ThumbCacheDir holds the thumbnail cache on disk; "" keeps thumbnails in memory only.
	ThumbCacheDir string
	// SampleDir copies the bundled sample dataset to the user's folder and returns it; nil hides
	// File › Open Sample.
	SampleDir func() (string, error)
	// Models is the Hugging Face model cache of the Models dialog; nil offers no downloads.
	Models ModelStore
	// Version is the Captune release shown by Help › About, the same string captune version prints.
	Version string
	// License names Captune's license (an SPDX expression); LicenseText and Notices are the texts of
	// LICENSE and THIRD_PARTY_NOTICES.md, which Help › About shows.
	License, LicenseText, Notices string
	// CountTokens counts a caption's tokens as fine-tuning the model in modelDir encodes it (with
	// the start and end tokens; 0 when unknown), for the caption editor's count against TokenLimit,
	// the training length. nil hides the count.
	CountTokens func(modelDir, text string) int
	TokenLimit  int
}
