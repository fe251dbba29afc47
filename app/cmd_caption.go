package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/captune/captune/annotate"
	"github.com/captune/captune/inference"
	"github.com/sugarme/gotch"
)

func init() {
	register(&Command{
		Name:    "caption",
		Summary: "caption images with a BLIP model",
		Usage:   "[flags] PATH...   (images, or folders of images; -r to recurse)",
		Run:     runCaption,
	})
}

// decodeFlags adds the generation flags shared by caption and eval.
type decodeFlags struct {
	beams, maxLen, minLen, batch, ngram int
	prompt, precision                   string
	keepPrompt, sample                  bool
	topP, topK, temperature, repetition float64
	seed                                uint64
	fs                                  *flag.FlagSet // to tell the flags the user passed
}

// modelDefault ends the help of a flag whose default the model's generation_config.json can give.
func modelDefault(def string) string {
	return " (default: the model's generation_config.json, else " + def + ")"
}

func addDecodeFlags(fs *flag.FlagSet, d *decodeFlags, defaultBeams int) {
	d.fs = fs
	def := inference.CaptuneDecodeOptions()
	fs.IntVar(&d.beams, "beams", defaultBeams, "beam search width (1 = greedy)"+modelDefault(strconv.Itoa(defaultBeams)))
	fs.IntVar(&d.maxLen, "max-length", def.MaxLength, "maximum caption length in tokens, counting the start token and prompt"+modelDefault(strconv.Itoa(def.MaxLength)))
	fs.IntVar(&d.minLen, "min-length", def.MinLength, "minimum caption length in tokens (large values make BLIP repeat itself)"+modelDefault(strconv.Itoa(def.MinLength)))
	fs.StringVar(&d.prompt, "prompt", "", `text every caption starts with, e.g. "a picture of"`)
	fs.BoolVar(&d.keepPrompt, "keep-prompt", false, "keep the prompt in the printed caption")
	fs.BoolVar(&d.sample, "sample", false, "nucleus sampling instead of beam search")
	fs.Float64Var(&d.topP, "top-p", 0.9, "sampling: keep the most likely tokens up to this probability")
	fs.Float64Var(&d.topK, "top-k", 0, "sampling: keep at most this many tokens (0 = no limit)")
	fs.Float64Var(&d.temperature, "temperature", 1.0, "sampling: temperature")
	fs.Uint64Var(&d.seed, "seed", 0, "sampling: random seed")
	fs.Float64Var(&d.repetition, "repetition-penalty", 1.0, "values above 1 discourage repeated words"+modelDefault("1"))
	fs.IntVar(&d.ngram, "no-repeat-ngram", 0, "forbid repeating any n-gram of this size (0 = off)"+modelDefault("0"))
	fs.IntVar(&d.batch, "batch-size", 8, "images per forward pass")
	fs.StringVar(&d.precision, "precision", "fp32", "fp32, or bf16: bfloat16 matrices and matrix products, about twice as fast on CPUs with AVX512-BF16 or AMX and on recent GPUs; captions may differ in a few words")
	// Their usage says the default: the flag package would print Captune's built-in value as if it
	// always applied. DefValue is only the text of that "(default …)" note; the zero text hides it.
	for name := range flagKeys {
		fs.Lookup(name).DefValue = "0"
	}
}

// flagKeys maps the decode flags whose default a model can give to their generation_config.json keys.
var flagKeys = map[string]string{
	"beams": inference.GenNumBeams, "max-length": inference.GenMaxLength, "min-length": inference.GenMinLength,
	"repetition-penalty": inference.GenRepetitionPenalty, "no-repeat-ngram": inference.GenNoRepeatNgramSize,
}

// passed reports the generation_config.json keys whose flags the user passed.
func (d decodeFlags) passed() map[string]bool {
	keys := map[string]bool{}
	if d.fs != nil {
		d.fs.Visit(func(f *flag.Flag) {
			if k, ok := flagKeys[f.Name]; ok {
				keys[k] = true
			}
		})
	}
	return keys
}

// options returns the decoding the flags ask for with a model whose generation_config.json says gen:
// the user's flags win, then the model's values, then Captune's defaults. A zero gen sets nothing.
func (d decodeFlags) options(gen inference.GenerationConfig) (inference.CaptionOptions, error) {
	o := inference.DefaultDecodeOptions()
	o.NumBeams, o.MaxLength, o.MinLength = d.beams, d.maxLen, d.minLen
	o.RepetitionPenalty, o.NoRepeatNgramSize = d.repetition, d.ngram
	passed := d.passed()
	o = gen.Apply(o, func(key string) bool { return passed[key] })
	if d.sample {
		o.DoSample, o.NumBeams, o.TopP, o.TopK, o.Temperature, o.Seed = true, 1, d.topP, int(d.topK), d.temperature, d.seed
	}
	switch {
	case o.NumBeams < 1:
		return inference.CaptionOptions{}, fmt.Errorf("--beams %d: want at least 1", o.NumBeams)
	case o.MaxLength < 2:
		return inference.CaptionOptions{}, fmt.Errorf("--max-length %d: want at least 2", o.MaxLength)
	case d.batch < 1:
		return inference.CaptionOptions{}, fmt.Errorf("--batch-size %d: want at least 1", d.batch)
	}
	return inference.CaptionOptions{Decode: o, Prompt: d.prompt, StripPrompt: !d.keepPrompt, BatchSize: d.batch}, nil
}

// modelOptions is options with the generation_config.json of the model folder dir (see
// modelRef.generationDir).
func (d decodeFlags) modelOptions(dir string) (inference.CaptionOptions, error) {
	gen, err := inference.ReadGenerationConfig(dir)
	if err != nil {
		return inference.CaptionOptions{}, err
	}
	return d.options(gen)
}

// collectImages expands files and folders into image paths, in order, without duplicates.
func collectImages(paths []string, recursive bool) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			add(p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if q != p && (!recursive || strings.HasPrefix(d.Name(), ".")) {
					return filepath.SkipDir
				}
				return nil
			}
			if annotate.IsImageName(q) {
				found = append(found, q)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(found)
		for _, q := range found {
			add(q)
		}
	}
	return out, nil
}

func runCaption(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	model := fs.String("model", "bundled", ModelFlagHelp)
	adapter := fs.String("adapter", "", AdapterFlagHelp)
	device := fs.String("device", "auto", "auto, cpu, cuda or cuda:N")
	recursive := fs.Bool("r", false, "look into subfolders")
	asJSON := fs.Bool("json", false, `print one JSON object per image: {"file", "caption", "tokens", "rel", "model"} (rel: the path within the folder given)`)
	sharding := addShardFlags(fs)
	var d decodeFlags
	addDecodeFlags(fs, &d, 3)
	if err := fs.Parse(args); err != nil {
		return err
	}
	paths, err := captionPaths(env, fs, d, sharding, *recursive)
	if err != nil || len(paths) == 0 {
		return err // an empty shard has nothing to caption
	}
	ref, err := resolveModelRef(modelSpec(fs, *model, *adapter), *adapter)
	if err != nil {
		return err
	}
	opts, err := d.modelOptions(ref.generationDir())
	if err != nil {
		return err
	}
	dev, err := inference.ParseDevice(*device)
	if err != nil {
		return err
	}
	eng := inference.NewEngine()
	defer eng.Close()
	capt, err := loadCaptionModel(ctx, eng, ref, dev, d, env.Stderr)
	if err != nil {
		return err
	}
	defer eng.Do(context.Background(), func() error { capt.Free(); return nil })
	if err := checkCaptionMemory(env, capt, opts, dev, len(paths)); err != nil {
		return err
	}
	r := &captionRun{env: env, eng: eng, capt: capt, opts: opts, args: fs.Args(), modelDir: ref.Dir(), asJSON: *asJSON}
	return r.run(ctx, paths)
}

// captionPaths checks the parsed flags and returns the images of this run's shard, in order.
// Usage mistakes exit with code 2.
func captionPaths(env *Env, fs *flag.FlagSet, d decodeFlags, sharding shardFlags, recursive bool) ([]string, error) {
	if fs.NArg() == 0 {
		return nil, &ExitError{Code: 2, Err: errors.New("no images given (see captune caption --help)")}
	}
	if _, err := d.options(inference.GenerationConfig{}); err != nil {
		return nil, &ExitError{Code: 2, Err: err}
	}
	if err := sharding.check(); err != nil {
		return nil, err
	}
	paths, err := collectImages(fs.Args(), recursive)
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no images found in %s", strings.Join(fs.Args(), ", "))
	}
	return sharding.apply(env, fs.Args(), paths)
}

// modelSpec is the --model value resolveModelRef takes: with --adapter and no --model typed, ""
// (the adapter's own base) rather than the flag's default.
func modelSpec(fs *flag.FlagSet, model, adapter string) string {
	typed := false
	fs.Visit(func(f *flag.Flag) { typed = typed || f.Name == "model" })
	if adapter != "" && !typed {
		return ""
	}
	return model
}

// loadCaptionModel loads the captioner of ref on the engine's thread at the precision d asks for,
// printing the load report's warnings to stderr. The caller frees it on the engine.
func loadCaptionModel(ctx context.Context, eng *inference.Engine, ref modelRef, dev gotch.Device, d decodeFlags, stderr io.Writer) (*inference.Captioner, error) {
	var capt *inference.Captioner
	err := eng.Do(ctx, func() error {
		c, report, err := ref.load(dev)
		for _, w := range report.Warnings() {
			fmt.Fprintf(stderr, "warning: %s\n", w)
		}
		capt = c
		if err == nil {
			err = d.usePrecision(c, stderr)
		}
		return err
	})
	return capt, err
}

// checkCaptionMemory refuses a run that would not fit in the CPU's free memory, and says what it
// will use and where when there is more than one image.
func checkCaptionMemory(env *Env, capt *inference.Captioner, opts inference.CaptionOptions, dev gotch.Device, images int) error {
	est := inference.EstimateMemory(capt.Model.Config, opts.BatchSize, opts.Decode.NumBeams, opts.Decode.MaxLength, false)
	if avail := inference.AvailableMemory(); !dev.IsCuda() && avail > 0 && est.Total() > avail {
		return fmt.Errorf("captioning needs about %d MB but %d MB are available: lower --batch-size or --beams", est.Total()>>20, avail>>20)
	}
	if images > 1 {
		fmt.Fprintf(env.Stderr, "memory estimate: %s\n", est)
	}
	if !dev.IsCuda() && images > 50 {
		fmt.Fprintf(env.Stderr, "note: captioning %d images on the CPU\n", images)
	}
	return nil
}

// captionRun captions a list of images batch by batch and prints each caption as its batch ends.
// An image that cannot be read is skipped and counted; the run then exits with code 1.
type captionRun struct {
	env      *Env
	eng      *inference.Engine
	capt     *inference.Captioner
	opts     inference.CaptionOptions
	args     []string // the paths the user gave, for the JSON "rel" field
	modelDir string
	asJSON   bool

	enc    *json.Encoder
	bar    *progressLine // nil for a single image
	failed int
}

func (r *captionRun) run(ctx context.Context, paths []string) error {
	r.enc = json.NewEncoder(r.env.Stdout)
	if len(paths) > 1 {
		r.bar = newProgressLine(r.env.Stderr, "caption", "img", len(paths))
	}
	for start := 0; start < len(paths); start += r.opts.BatchSize {
		end := min(start+r.opts.BatchSize, len(paths))
		if err := r.batch(ctx, paths[start:end]); err != nil {
			if r.bar != nil {
				r.bar.Finish()
			}
			return err
		}
		if r.bar != nil {
			r.bar.Update(end, "")
		}
	}
	if r.failed > 0 {
		return &ExitError{Code: 1, Err: fmt.Errorf("%d of %d images could not be read", r.failed, len(paths))}
	}
	return nil
}

// batch captions the images of paths that can be read and prints their captions.
func (r *captionRun) batch(ctx context.Context, paths []string) error {
	imgs, names := r.load(paths)
	if len(imgs) == 0 {
		return nil
	}
	var caps []inference.Caption
	err := r.eng.Do(ctx, func() error {
		var err error
		caps, err = r.capt.CaptionImages(ctx, imgs, r.opts, nil)
		return err
	})
	if err != nil {
		return err
	}
	for i, c := range caps {
		if r.asJSON {
			r.enc.Encode(captionJSON(r.args, names[i], r.modelDir, c))
		} else {
			fmt.Fprintf(r.env.Stdout, "%s\t%s\n", names[i], c.Text)
		}
	}
	return nil
}

// load reads the images of paths, skipping with a note on stderr those it cannot read.
func (r *captionRun) load(paths []string) (imgs []*inference.RGBImage, names []string) {
	for _, p := range paths {
		img, err := inference.LoadImage(p)
		if err != nil {
			r.failed++
			if r.bar != nil {
				fmt.Fprintln(r.env.Stderr)
			}
			fmt.Fprintf(r.env.Stderr, "skip %v\n", err)
			continue
		}
		imgs = append(imgs, img)
		names = append(names, p)
	}
	return imgs, names
}
