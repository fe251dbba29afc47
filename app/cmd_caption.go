package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/captune/captune/inference"
)

func init() {
	register(&Command{
		Name:    "caption",
		Summary: "caption images with a BLIP model",
		Usage:   "[flags] PATH...   (images, or folders of images; -r to recurse)",
		Run:     runCaption,
	})
}

// imageExts are the file types Captune captions.
var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".webp": true, ".gif": true, ".bmp": true, ".tif": true, ".tiff": true}

// decodeFlags adds the generation flags shared by caption and eval.
type decodeFlags struct {
	beams, maxLen, minLen, batch, ngram int
	prompt                              string
	keepPrompt, sample                  bool
	topP, topK, temperature, repetition float64
	seed                                uint64
}

func addDecodeFlags(fs *flag.FlagSet, d *decodeFlags, defaultBeams int) {
	fs.IntVar(&d.beams, "beams", defaultBeams, "beam search width (1 = greedy)")
	fs.IntVar(&d.maxLen, "max-length", 20, "maximum caption length in tokens, counting the start token and prompt")
	fs.IntVar(&d.minLen, "min-length", 5, "minimum caption length in tokens (large values make BLIP repeat itself)")
	fs.StringVar(&d.prompt, "prompt", "", `text every caption starts with, e.g. "a picture of"`)
	fs.BoolVar(&d.keepPrompt, "keep-prompt", false, "keep the prompt in the printed caption")
	fs.BoolVar(&d.sample, "sample", false, "nucleus sampling instead of beam search")
	fs.Float64Var(&d.topP, "top-p", 0.9, "sampling: keep the most likely tokens up to this probability")
	fs.Float64Var(&d.topK, "top-k", 0, "sampling: keep at most this many tokens (0 = no limit)")
	fs.Float64Var(&d.temperature, "temperature", 1.0, "sampling: temperature")
	fs.Uint64Var(&d.seed, "seed", 0, "sampling: random seed")
	fs.Float64Var(&d.repetition, "repetition-penalty", 1.0, "values above 1 discourage repeated words")
	fs.IntVar(&d.ngram, "no-repeat-ngram", 0, "forbid repeating any n-gram of this size (0 = off)")
	fs.IntVar(&d.batch, "batch-size", 8, "images per forward pass")
}

func (d decodeFlags) options() (inference.CaptionOptions, error) {
	o := inference.DefaultDecodeOptions()
	o.NumBeams, o.MaxLength, o.MinLength = d.beams, d.maxLen, d.minLen
	o.RepetitionPenalty, o.NoRepeatNgramSize = d.repetition, d.ngram
	if d.sample {
		o.DoSample, o.NumBeams, o.TopP, o.TopK, o.Temperature, o.Seed = true, 1, d.topP, int(d.topK), d.temperature, d.seed
	}
	switch {
	case d.beams < 1:
		return inference.CaptionOptions{}, fmt.Errorf("--beams %d: want at least 1", d.beams)
	case d.maxLen < 2:
		return inference.CaptionOptions{}, fmt.Errorf("--max-length %d: want at least 2", d.maxLen)
	case d.batch < 1:
		return inference.CaptionOptions{}, fmt.Errorf("--batch-size %d: want at least 1", d.batch)
	}
	return inference.CaptionOptions{Decode: o, Prompt: d.prompt, StripPrompt: !d.keepPrompt, BatchSize: d.batch}, nil
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
			if imageExts[strings.ToLower(filepath.Ext(q))] {
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
	device := fs.String("device", "auto", "auto, cpu, cuda or cuda:N")
	recursive := fs.Bool("r", false, "look into subfolders")
	asJSON := fs.Bool("json", false, `print one JSON object per image: {"file", "caption", "tokens"}`)
	var d decodeFlags
	addDecodeFlags(fs, &d, 3)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return &ExitError{Code: 2, Err: errors.New("no images given (see captune caption --help)")}
	}
	opts, err := d.options()
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	paths, err := collectImages(fs.Args(), *recursive)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return fmt.Errorf("no images found in %s", strings.Join(fs.Args(), ", "))
	}
	dir, err := ResolveModel(*model)
	if err != nil {
		return err
	}
	dev, err := inference.ParseDevice(*device)
	if err != nil {
		return err
	}
	eng := inference.NewEngine()
	defer eng.Close()
	var capt *inference.Captioner
	err = eng.Do(ctx, func() error {
		c, report, err := inference.LoadCaptioner(dir, dev)
		for _, w := range report.Warnings() {
			fmt.Fprintf(env.Stderr, "warning: %s\n", w)
		}
		capt = c
		return err
	})
	if err != nil {
		return err
	}
	defer eng.Do(context.Background(), func() error { capt.Free(); return nil })
	est := inference.EstimateMemory(capt.Model.Config, opts.BatchSize, opts.Decode.NumBeams, opts.Decode.MaxLength, false)
	if avail := inference.AvailableMemory(); !dev.IsCuda() && avail > 0 && est.Total() > avail {
		return fmt.Errorf("captioning needs about %d MB but %d MB are available: lower --batch-size or --beams", est.Total()>>20, avail>>20)
	}
	if len(paths) > 1 {
		fmt.Fprintf(env.Stderr, "memory estimate: %s\n", est)
	}
	if !dev.IsCuda() && len(paths) > 50 {
		fmt.Fprintf(env.Stderr, "note: captioning %d images on the CPU\n", len(paths))
	}

	var bar *progressLine
	if len(paths) > 1 {
		bar = newProgressLine(env.Stderr, "caption", "img", len(paths))
	}
	failed, done := 0, 0
	enc := json.NewEncoder(env.Stdout)
	for start := 0; start < len(paths); start += opts.BatchSize {
		end := min(start+opts.BatchSize, len(paths))
		var imgs []*inference.RGBImage
		var names []string
		for _, p := range paths[start:end] {
			img, err := inference.LoadImage(p)
			if err != nil {
				failed++
				if bar != nil {
					fmt.Fprintln(env.Stderr)
				}
				fmt.Fprintf(env.Stderr, "skip %v\n", err)
				continue
			}
			imgs = append(imgs, img)
			names = append(names, p)
		}
		var caps []inference.Caption
		if len(imgs) > 0 {
			err := eng.Do(ctx, func() error {
				var err error
				caps, err = capt.CaptionImages(ctx, imgs, opts, nil)
				return err
			})
			if err != nil {
				if bar != nil {
					bar.Finish()
				}
				return err
			}
		}
		for i, c := range caps {
			if *asJSON {
				enc.Encode(map[string]any{"file": names[i], "caption": c.Text, "tokens": c.Tokens})
			} else {
				fmt.Fprintf(env.Stdout, "%s\t%s\n", names[i], c.Text)
			}
		}
		done = end
		if bar != nil {
			bar.Update(done, "")
		}
	}
	if failed > 0 {
		return &ExitError{Code: 1, Err: fmt.Errorf("%d of %d images could not be read", failed, len(paths))}
	}
	return nil
}
