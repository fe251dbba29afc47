package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/captune/captune/annotate"
)

func init() {
	register(&Command{
		Name:    "export",
		Summary: "write a dataset's captions as txt or .caption sidecars, metadata.jsonl, COCO JSON or CSV",
		Usage:   "--data DIR --format txt|caption|jsonl|coco|csv --out PATH [--approved-only] [--split S] [--images link|copy|none] [--copy-images] [--include-rejected] [--include-unreadable]",
		Run:     runExport,
	})
}

func runExport(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	df := addDatasetFlags(fs)
	format := fs.String("format", "", "txt, caption, jsonl, coco or csv (required)")
	out := fs.String("out", "", "destination folder; for coco and csv also a .json / .csv file (required)")
	approvedOnly := fs.Bool("approved-only", false, "export only approved captions, and only images that have one")
	split := fs.String("split", "", "export only this split: train, val or test (default: every image)")
	images := fs.String("images", "", "how images go beside the captions in --out: link (hard links, copies where impossible), copy or none (default: link into a folder, none beside a .json / .csv file)")
	copyImages := fs.Bool("copy-images", false, "copy the images beside a .json / .csv --out file (same as --images copy)")
	includeRejected := fs.Bool("include-rejected", false, "export rejected captions too (marked rejected where the format can say so: CSV, COCO, .captune/project.json)")
	includeUnreadable := fs.Bool("include-unreadable", false, "export files that do not read as images too")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), exportHelp)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &ExitError{Code: 2, Err: fmt.Errorf("unexpected argument %q (see captune export --help)", fs.Arg(0))}
	}
	f, sp, mode, err := parseExportFlags(*format, *out, *split, *images, *copyImages)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	ds, rep, err := df.open("export")
	if err != nil {
		return err
	}
	if rep.RemovedTemps > 0 {
		fmt.Fprintf(env.Stdout, "%s: %s\n", ds.Root(), annotate.RemovedTempsNote(rep.RemovedTemps))
	}
	start := time.Now()
	opts := annotate.ExportOptions{Format: f, Out: *out, ApprovedOnly: *approvedOnly, Split: sp, Images: mode,
		IncludeRejected: *includeRejected, IncludeUnreadable: *includeUnreadable, OnProgress: exportProgress(env)}
	sum, err := annotate.Export(ds, opts)
	if err != nil {
		return err
	}
	printExportSummary(env, sum, f, *out, *approvedOnly, sp, time.Since(start))
	return nil
}

// exportHelp is the usage of captune export, before its flags.
const exportHelp = `Usage: captune export --data DIR --format FORMAT --out PATH [flags]

Writes the captions of the dataset in DIR in another format, with the images placed beside them
so that the result opens on its own (in Captune, kohya_ss, Hugging Face datasets, COCO tools):

  txt      NAME.txt beside each image, one caption per line
  caption  NAME.caption beside each image
  jsonl    metadata.jsonl (Hugging Face imagefolder); with splits, train/, validation/ and test/
           folders, each with its own metadata.jsonl
  coco     COCO captions JSON (--out FILE.json, or a folder for captions.json); images keep the
           ids of the COCO file they came from
  csv      file_name,text,split,origin,state (--out FILE.csv, or a folder for metadata.csv)

Folder formats also get .captune/project.json, COCO and CSV extra fields, so that review states,
origins and splits survive a round trip. Rejected captions and files that do not read as images are
left out unless asked for (--include-rejected, --include-unreadable); images are placed beside a
.json / .csv file only with --copy-images (or --images). What was left out is printed. --out may be DIR itself for a format the dataset does not
use (e.g. .txt sidecars beside the images of a metadata.jsonl dataset); a folder inside DIR is
refused. Every file is written atomically; the temporary files a killed Captune left in DIR
and in the destination are removed (and counted). A failed export (a full disk, say) removes what
it wrote and restores the files it replaced, leaving the destination as it was.

Flags:
`

// parseExportFlags checks the format, destination, split and image flags of captune export and
// returns what they ask for; an error is a usage mistake.
func parseExportFlags(format, out, split, images string, copyImages bool) (annotate.ExportFormat, annotate.Split, annotate.ImageMode, error) {
	if format == "" || out == "" {
		return "", "", "", errors.New("--format and --out are required (see captune export --help)")
	}
	f, err := annotate.ParseExportFormat(format)
	if err != nil {
		return "", "", "", fmt.Errorf("--format: %w", err)
	}
	sp, ok := annotate.ParseSplit(split)
	if !ok {
		return "", "", "", fmt.Errorf("--split %q: want train, val or test", split)
	}
	mode := annotate.ImageMode(strings.ToLower(images))
	if mode != "" && mode != annotate.ImagesLink && mode != annotate.ImagesCopy && mode != annotate.ImagesNone {
		return "", "", "", fmt.Errorf("--images %q: want link, copy or none", images)
	}
	if copyImages {
		if mode != "" && mode != annotate.ImagesCopy {
			return "", "", "", fmt.Errorf("--copy-images and --images %s contradict each other", mode)
		}
		mode = annotate.ImagesCopy
	}
	return f, sp, mode, nil
}

// exportProgress prints "export DONE/TOTAL images" on stderr, at most every 100 ms and at the end.
func exportProgress(env *Env) func(done, total int) {
	var last time.Time
	return func(done, total int) {
		if now := time.Now(); done == total || now.Sub(last) >= 100*time.Millisecond {
			last = now
			fmt.Fprintf(env.Stderr, "\rexport %d/%d images", done, total)
			if done == total {
				fmt.Fprintln(env.Stderr)
			}
		}
	}
}

// printExportSummary tells what an export wrote, where, and what it left out.
func printExportSummary(env *Env, sum annotate.ExportSummary, f annotate.ExportFormat, out string, approvedOnly bool, sp annotate.Split, took time.Duration) {
	what := "all captions"
	if approvedOnly {
		what = "approved captions"
	}
	if sp != annotate.SplitNone {
		what += " of split " + string(sp)
	}
	fmt.Fprintf(env.Stdout, "exported %d images and %d captions (%s) as %s to %s in %s\n",
		sum.Images, sum.Captions, what, f, out, took.Round(time.Millisecond))
	if sum.ImagesPlaced == 0 && sum.ImageMode == annotate.ImagesNone && sum.Images > 0 {
		fmt.Fprintln(env.Stdout, "images not placed beside the captions (--copy-images copies them)")
	}
	if lo := sum.LeftOut(); lo != "" {
		fmt.Fprintln(env.Stdout, lo+" (--include-rejected, --include-unreadable export them)")
	}
	if sum.RemovedTemps > 0 {
		fmt.Fprintf(env.Stdout, "%s: %s\n", out, annotate.RemovedTempsNote(sum.RemovedTemps))
	}
}
