package app

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"log"
	"math"
	"os"
	"path/filepath"
	"runtime"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/storage"

	"github.com/captune/captune/assets"
	"github.com/captune/captune/finetune"
	"github.com/captune/captune/finetune/runinfo"
	"github.com/captune/captune/inference"
	"github.com/captune/captune/internal/hub"
	"github.com/captune/captune/ui"
	"github.com/sugarme/gotch"
)

// runGUI opens the main window on args[0] (a folder; image files go to the drop tray), else on the
// last folder used, else on the bundled sample dataset, and returns when the window closes.
func runGUI(env *Env, args []string) int {
	log.SetOutput(&fyneLogFilter{out: env.Stderr})
	a := fyneapp.NewWithID("io.captune.app")
	a.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon))
	eng := inference.NewEngine()
	defer eng.Close()
	m := ui.NewMainWindow(a, guiDeps(eng))
	folder := ""
	switch {
	case len(args) > 0 && !isDir(args[0]):
		// Image files: caption them in the drop tray, as if dropped on the window.
		var uris []fyne.URI
		for _, a := range args {
			if abs, err := filepath.Abs(a); err == nil {
				uris = append(uris, storage.NewFileURI(abs))
			}
		}
		m.Drop(uris)
	case len(args) > 0:
		folder = args[0]
	case !env.Sample && isDir(ui.LastFolder(a.Preferences())):
		folder = ui.LastFolder(a.Preferences())
	default:
		dir, err := BundledSampleDir(filepath.Join(userDataDir(), "Captune", "sample"))
		if err != nil {
			fmt.Fprintf(env.Stderr, "captune: copy the sample dataset: %v\n", err)
		} else {
			folder = dir
		}
	}
	if folder != "" {
		m.OpenFolder(folder)
	}
	m.Window.ShowAndRun()
	// Reached also when the driver quit on SIGINT/SIGTERM without closing through the window:
	// save what is pending.
	if err := m.Shutdown(); err != nil {
		fmt.Fprintf(env.Stderr, "captune: save the captions: %v\n", err)
		return 1
	}
	return 0
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return p != "" && err == nil && st.IsDir()
}

// userDataDir is where Captune keeps the sample copy and fine-tuning runs: $XDG_DATA_HOME (or
// ~/.local/share) on Linux and BSDs, the user config folder elsewhere (Application Support on
// macOS, %AppData% on Windows).
func userDataDir() string {
	if runtime.GOOS != "darwin" && runtime.GOOS != "windows" {
		if x := os.Getenv("XDG_DATA_HOME"); x != "" {
			return x
		}
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, ".local", "share")
		}
	}
	if d, err := os.UserConfigDir(); err == nil {
		return d
	}
	return os.TempDir()
}

// guiDeps wires the real model, trainer and evaluator into the window. Every libtorch call of the
// captioner and evaluator goes through eng; fine-tuning runs on its own locked thread.
func guiDeps(eng *inference.Engine) ui.Deps {
	d := ui.Deps{
		LoadModel: func(ctx context.Context, dir, device, precision string) (ui.Captioner, error) {
			return loadEngineCaptioner(ctx, eng, dir, device, precision)
		},
		Trainer:     finetuneTrainer{},
		Advise:      trainingAdvice,
		Evaluator:   engineEvaluator{eng: eng},
		DecodeImage: decodeForDisplay,
		RunsDir:     filepath.Join(userDataDir(), "Captune", "runs"),
		SampleDir: func() (string, error) {
			return BundledSampleDir(filepath.Join(userDataDir(), "Captune", "sample"))
		},
		Version:     Version,
		License:     License,
		LicenseText: LicenseText,
		Notices:     Notices,
	}
	// The Generation panel follows the chosen model; an adapter decodes as its base advises.
	d.AdviseGeneration = func(dir string) (ui.GenerationAdvice, bool) {
		ref, err := resolveModelRef(dir, "") // an adapter folder decodes as inference.GenerationDir says
		if err != nil {
			ref = modelRef{Base: dir}
		}
		return generationAdvice(ref.generationDir())
	}
	d.Adapter = adapterInfo
	// Thumbnails and the large view: the model's decoder, a large JPEG reduced while decoding.
	d.DecodeImageFit = decodeFitForDisplay
	// The caption editor counts tokens against the length the window trains with.
	d.CountTokens, d.TokenLimit = (&tokenCounter{}).Count, finetune.DefaultConfig().MaxTextLen
	if cache, err := os.UserCacheDir(); err == nil {
		d.ThumbCacheDir = filepath.Join(cache, "captune", "thumbs")
	}
	store := hub.NewStore(hub.SettingsFromEnv())
	store.Client.UserAgent = "captune/" + Version
	d.Models = store
	d.DefaultModel, d.DefaultModelErr = ResolveModel("bundled")
	d.Devices, d.DeviceInfo = guiDevices(eng)
	if err := inference.CheckPrecision(inference.BF16, gotch.CPU); err != nil && len(d.Devices) <= 2 {
		d.NoBF16 = "bf16: " + err.Error() // with CUDA, a run or a load checks its device
	}
	return d
}

// guiDevices lists the devices for the pickers and one line on what captune doctor finds.
func guiDevices(eng *inference.Engine) ([]string, string) {
	var r DoctorReport
	var derr error
	err := eng.Do(context.Background(), func() error {
		r, derr = Doctor()
		return nil
	})
	if err == nil {
		err = derr
	}
	if err != nil {
		return []string{"cpu"}, fmt.Sprintf("libtorch check failed: %v (run captune doctor)", err)
	}
	devices := []string{"auto", "cpu"}
	info := fmt.Sprintf("CPU only: no CUDA device (libtorch %s, %d threads)", r.LibtorchCompiled, r.Threads)
	if r.CUDAAvailable {
		for i := range r.CUDADevices {
			devices = append(devices, fmt.Sprintf("cuda:%d", i))
		}
		info = fmt.Sprintf("CUDA: %d device(s); auto uses cuda:0 (libtorch %s)", r.CUDADevices, r.LibtorchCompiled)
	}
	return devices, info
}

// decodeForDisplay reads an image as the model sees it (EXIF orientation applied), for thumbnails
// and the large view.
func decodeForDisplay(path string) (image.Image, error) {
	img, err := inference.LoadImage(path)
	if err != nil {
		return nil, err
	}
	return rgbaOf(img), nil
}

// rgbaOf converts the decoder's RGB to an opaque image.RGBA for the canvas.
func rgbaOf(img *inference.RGBImage) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, img.W, img.H))
	for i, j := 0, 0; i < len(img.Pix); i, j = i+3, j+4 {
		out.Pix[j], out.Pix[j+1], out.Pix[j+2], out.Pix[j+3] = img.Pix[i], img.Pix[i+1], img.Pix[i+2], 255
	}
	return out
}

// decodeFitForDisplay reads an image as decodeForDisplay does, letting libjpeg-turbo decode a large
// JPEG at a reduced scale that still covers fitSide pixels (thumbnails: several times faster).
func decodeFitForDisplay(path string, fitSide int) (image.Image, int, int, error) {
	img, w, h, err := inference.LoadImageFit(path, fitSide)
	if err != nil {
		return nil, 0, 0, err
	}
	return rgbaOf(img), w, h, nil
}

// captionOptions turns the Generation panel's settings into the captioner's.
func captionOptions(g ui.GenerationSettings) inference.CaptionOptions {
	o := inference.DefaultDecodeOptions()
	o.NumBeams, o.MinLength, o.MaxLength, o.RepetitionPenalty = g.Beams, g.MinLength, g.MaxLength, g.RepetitionPenalty
	if g.Sample {
		o.DoSample, o.NumBeams, o.TopP, o.Temperature = true, 1, g.TopP, g.Temperature
	}
	return inference.CaptionOptions{Decode: o, Prompt: g.Prompt, StripPrompt: true, BatchSize: 8}
}

// engineCaptioner is a loaded model whose calls all run on the engine's thread.
type engineCaptioner struct {
	eng *inference.Engine
	c   *inference.Captioner
}

func loadEngineCaptioner(ctx context.Context, eng *inference.Engine, dir, device, precision string) (*engineCaptioner, error) {
	dev, err := inference.ParseDevice(device)
	if err != nil {
		return nil, err
	}
	var c *inference.Captioner
	err = eng.Do(ctx, func() error {
		var err error
		if c, _, err = inference.LoadCaptioner(dir, dev); err == nil {
			err = decodeFlags{precision: precision}.usePrecision(c, io.Discard)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &engineCaptioner{eng: eng, c: c}, nil
}

func (e *engineCaptioner) Name() string { return e.c.Name }

// Caption decodes the images on the calling goroutine (pure Go) and captions the readable ones on
// the engine; unreadable ones are reported in a *ui.ImageError.
func (e *engineCaptioner) Caption(ctx context.Context, paths []string, gen ui.GenerationSettings, onProgress func(int)) ([]string, error) {
	var imgs []*inference.RGBImage
	var idx []int
	var bad ui.ImageError
	for i, p := range paths {
		img, err := inference.LoadImage(p)
		if err != nil {
			bad.Paths, bad.Errs = append(bad.Paths, p), append(bad.Errs, err)
			continue
		}
		imgs, idx = append(imgs, img), append(idx, i)
	}
	out := make([]string, len(paths))
	if len(imgs) > 0 {
		var caps []inference.Caption
		err := e.eng.Do(ctx, func() error {
			var err error
			caps, err = e.c.CaptionImages(ctx, imgs, modelCaptionOptions(e.c, gen), func(done int) {
				if onProgress != nil {
					onProgress(done)
				}
			})
			return err
		})
		if err != nil {
			return nil, err
		}
		for k, c := range caps {
			out[idx[k]] = c.Text
		}
	}
	if len(bad.Paths) > 0 {
		return out, &bad
	}
	return out, nil
}

// Close frees the model's tensors on the engine thread.
func (e *engineCaptioner) Close() error {
	return e.eng.Do(context.Background(), func() error {
		e.c.Free()
		return nil
	})
}

// adapterInfo reads a LoRA adapter folder for the model picker: its rank, and its base resolved as
// LoadCaptioner resolves it (the rank also when the base cannot be found).
func adapterInfo(dir string) (ui.AdapterInfo, error) {
	cfg, err := inference.ReadLoraConfig(dir)
	if err != nil {
		return ui.AdapterInfo{}, err
	}
	info := ui.AdapterInfo{Rank: int(cfg.R)}
	info.Base, err = inference.AdapterBase(dir)
	return info, err
}

// trainingAdvice reads a base model folder's recommended fine-tuning settings for the Fine-tune panel.
func trainingAdvice(dir string) (ui.TrainingAdvice, bool) {
	r, ok := finetune.LoadRecommendation(dir)
	return ui.TrainingAdvice{Epochs: r.Epochs, LR: r.LR, BatchSize: r.BatchSize, Note: r.Note}, ok
}

// trainConfig is the fine-tuning configuration of the window's settings.
func trainConfig(s ui.TrainSettings) finetune.Config {
	cfg := finetune.DefaultConfig()
	cfg.BaseModel, cfg.OutDir, cfg.Device, cfg.Precision = s.BaseModel, s.OutDir, s.Device, s.Precision
	cfg.Epochs, cfg.LR, cfg.BatchSize, cfg.FreezeVision = s.Epochs, s.LR, s.BatchSize, s.FreezeVision
	cfg.Resume, cfg.Overwrite, cfg.Prompt = s.Resume, s.Overwrite && !s.Resume, s.Prompt
	if s.Method == ui.MethodLora {
		// The window sets the method and rank; alpha follows the rank (a scaling of 1), dropout and
		// targets keep their defaults.
		cfg.Method, cfg.LoraRank, cfg.LoraAlpha = finetune.MethodLora, s.LoraRank, finetune.LoraAlphaFor(s.LoraRank)
	}
	if rec, ok := finetune.LoadRecommendation(s.BaseModel); ok {
		// The panel shows epochs, learning rate and batch size (filled from the advice unless the
		// user typed them); the warm-up it does not show follows the advice.
		cfg, _ = rec.Apply(cfg, func(flag string) bool { return flag != "warmup" })
	}
	return cfg
}

// Estimate measures the run the settings describe (finetune.Estimate) before the window starts it.
func (finetuneTrainer) Estimate(ctx context.Context, s ui.TrainSettings, onProgress func(runinfo.Progress)) (runinfo.Estimate, error) {
	if s.Dataset == nil {
		return runinfo.Estimate{}, errors.New("no dataset")
	}
	data, _ := trainingData(s.Dataset, s.Captions, s.Holdout)
	return finetune.Estimate(ctx, trainConfig(s), data, finetune.DefaultCalibration, onProgress)
}

// finetuneTrainer runs finetune.Run on the dataset's train and val splits.
type finetuneTrainer struct{}

func (finetuneTrainer) Train(ctx context.Context, s ui.TrainSettings, onProgress func(runinfo.Progress)) (runinfo.Result, error) {
	if s.Dataset == nil {
		return runinfo.Result{}, errors.New("no dataset")
	}
	cfg := trainConfig(s)
	data, set := trainingData(s.Dataset, s.Captions, s.Holdout)
	onProgress(runinfo.Progress{Phase: runinfo.PhaseLoad, ValLoss: math.NaN(),
		Message: fmt.Sprintf("data: %s; %s (%d training images, %d validation)", s.Captions.Describe(), set.How, len(data.Train), len(data.Val))})
	res, err := finetune.Run(ctx, cfg, data, onProgress)
	return res.Result, err
}

// engineEvaluator captions the evaluation images with both models on the engine, scores them
// (evaluateBeforeAfter), and writes compare.html and compare.json into the run folder.
type engineEvaluator struct{ eng *inference.Engine }

func (e engineEvaluator) Compare(ctx context.Context, req ui.CompareRequest, onProgress func(done, total int)) (runinfo.Comparison, error) {
	ex, how := evalData(req.Dataset, req.Captions, req.Holdout)
	if len(ex) == 0 {
		return runinfo.Comparison{}, errors.New("no captioned images to evaluate")
	}
	dev, err := inference.ParseDevice(req.Device)
	if err != nil {
		return runinfo.Comparison{}, err
	}
	opts := captionOptions(req.Generation)
	total := 2 * len(ex)
	// caption captions ex with the model in dir, counting its captions after offset others.
	caption := func(dir string, offset int) captionSource {
		return func(ctx context.Context) (modelCaptions, error) {
			out := modelCaptions{Model: dir, Decoding: finetune.DecodingSummary(opts)}
			err := e.eng.Do(ctx, func() error {
				c, _, err := inference.LoadCaptioner(dir, dev)
				if err != nil {
					return fmt.Errorf("load %s: %w", dir, err)
				}
				defer c.Free()
				out.Captions, err = finetune.CaptionExamples(ctx, c, ex, opts, func(done, _ int) { onProgress(offset+done, total) })
				return err
			})
			return out, err
		}
	}
	cmp, err := evaluateBeforeAfter(ctx, ex, how, caption(req.BaseModel, 0), caption(req.TunedModel, len(ex)))
	if err != nil || req.RunDir == "" {
		return cmp, err
	}
	return cmp, writeComparisonReport(&cmp, filepath.Join(req.RunDir, "compare.html"))
}

// Check at compile time that the adapters satisfy the window's interfaces.
var (
	_ ui.Captioner  = (*engineCaptioner)(nil)
	_ ui.Trainer    = finetuneTrainer{}
	_ ui.Evaluator  = engineEvaluator{}
	_ ui.ModelStore = (*hub.Store)(nil)
)
