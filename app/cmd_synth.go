package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/captune/captune/finetune/synth"
)

func init() {
	register(&Command{
		Name:    "synth",
		Summary: "write a synthetic shapes-and-captions dataset (the bundled demo domain), reproducible from a seed",
		Usage:   "--out DIR [--n N] [--seed S] [--variant base|textures] [--size PX] [--format sidecar|jsonl]",
		Run:     runSynth,
	})
}

func runSynth(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	out := fs.String("out", "", "output folder, created if missing; must be empty (required)")
	n := fs.Int("n", 50, "number of images")
	seed := fs.Uint64("seed", 1, "random seed; the same seed and flags give byte-identical files")
	variant := fs.String("variant", string(synth.VariantBase), `"base" (circles, squares, triangles) or "textures" (adds striped, dotted, checkered and star)`)
	size := fs.Int("size", synth.DefaultSize, fmt.Sprintf("image width and height in pixels (%d to %d)", synth.MinSize, synth.MaxSize))
	format := fs.String("format", string(synth.FormatSidecar), `captions as "sidecar" NAME.txt files or one "jsonl" metadata.jsonl`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	usageErr := func(err error) error { return &ExitError{Code: 2, Err: err} }
	switch {
	case fs.NArg() > 0:
		return usageErr(fmt.Errorf("unexpected argument %q (see captune synth --help)", fs.Arg(0)))
	case *out == "":
		return usageErr(errors.New("--out is required (see captune synth --help)"))
	case *n < 1:
		return usageErr(fmt.Errorf("--n %d: want at least 1", *n))
	}
	if *size == 0 {
		*size = synth.DefaultSize // what synth.Config means by 0; said here so the summary names it
	}
	cfg := synth.Config{Variant: synth.Variant(*variant), Seed: *seed, Size: *size}
	if err := cfg.Validate(); err != nil {
		return usageErr(err)
	}
	f := synth.Format(*format)
	if f != synth.FormatSidecar && f != synth.FormatJSONL {
		return usageErr(fmt.Errorf("--format %q: want %q or %q", *format, synth.FormatSidecar, synth.FormatJSONL))
	}

	start := time.Now()
	var last time.Time
	progress := func(done, total int) {
		// Redraw the line at most every 100 ms, and always at the end.
		if now := time.Now(); done == total || now.Sub(last) >= 100*time.Millisecond {
			last = now
			fmt.Fprintf(env.Stderr, "\rsynth %d/%d images", done, total)
			if done == total {
				fmt.Fprintln(env.Stderr)
			}
		}
	}
	if err := synth.WriteDataset(ctx, *out, cfg, *n, f, progress); err != nil {
		fmt.Fprintln(env.Stderr)
		return err
	}
	captions := fmt.Sprintf("%d sidecar .txt captions", *n)
	if f == synth.FormatJSONL {
		captions = fmt.Sprintf("%d captions in %s", *n, synth.MetadataFile)
	}
	fmt.Fprintf(env.Stdout, "wrote %d %dx%d images and %s to %s (variant %s, seed %d) in %s\n",
		*n, *size, *size, captions, *out, cfg.Variant, cfg.Seed, time.Since(start).Round(time.Millisecond))
	return nil
}
