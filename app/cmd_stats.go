package app

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/captune/captune/annotate"
)

func init() {
	register(&Command{
		Name:    "stats",
		Summary: "count a dataset's images, captions, review states, origins and splits, and list what is wrong in its caption files",
		Usage:   "--data DIR [--json] [--recursive=false] [--source FORMAT] [--sidecar-ext EXT] [--text-column NAME]",
		Run:     runStats,
	})
}

// datasetFlags are the flags that say how to open a dataset, shared by stats and export.
type datasetFlags struct {
	data, source, sidecarExt, textColumn *string
	recursive                            *bool
}

func addDatasetFlags(fs *flag.FlagSet) datasetFlags {
	return datasetFlags{
		data:       fs.String("data", "", "dataset folder (required)"),
		recursive:  fs.Bool("recursive", true, "also read images in sub-folders"),
		source:     fs.String("source", "", "caption format to read: jsonl, coco, sidecar or csv (default: .captune/project.json's, else the first found in that order)"),
		sidecarExt: fs.String("sidecar-ext", "", `sidecar extension, e.g. ".txt", ".caption" (default: the most common)`),
		textColumn: fs.String("text-column", "", `caption key in metadata.jsonl or column in a CSV (default: text, caption or captions)`),
	}
}

// open checks the flags and opens the dataset.
func (f datasetFlags) open(cmd string) (*annotate.Dataset, annotate.Report, error) {
	if *f.data == "" {
		return nil, annotate.Report{}, &ExitError{Code: 2, Err: fmt.Errorf("--data is required (see captune %s --help)", cmd)}
	}
	opts := annotate.OpenOptions{Recursive: *f.recursive, SidecarExt: *f.sidecarExt, TextColumn: *f.textColumn}
	if *f.source != "" {
		src, err := annotate.ParseFormat(*f.source)
		if err != nil {
			return nil, annotate.Report{}, &ExitError{Code: 2, Err: fmt.Errorf("--source: %w", err)}
		}
		opts.Source = src
	}
	return annotate.Open(*f.data, opts)
}

// statsOutput is what captune stats --json prints.
type statsOutput struct {
	Root   string          `json:"root"`
	Stats  annotate.Stats  `json:"stats"`
	Report annotate.Report `json:"report"`
}

// maxListedWarnings bounds the warnings the text output lists; --json lists them all.
const maxListedWarnings = 20

func runStats(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	df := addDatasetFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON (root, stats, report with every warning) instead of text")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: captune stats --data DIR [flags]

Opens the dataset in DIR the way the window does (changing nothing but removing the temporary
files a killed Captune left) and prints: the caption format found, images captioned and
uncaptioned, captions by review state and origin, images by split, orphan captions (entries or
files whose image is missing), duplicates, the leftover temporary files removed, and the warnings
(malformed lines with file and line, refused paths, encoding repairs).

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &ExitError{Code: 2, Err: fmt.Errorf("unexpected argument %q (see captune stats --help)", fs.Arg(0))}
	}
	ds, rep, err := df.open("stats")
	if err != nil {
		return err
	}
	out := statsOutput{Root: ds.Root(), Stats: ds.Stats(), Report: rep}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	printStats(env.Stdout, out)
	return nil
}

func printStats(w io.Writer, o statsOutput) {
	s, r := o.Stats, o.Report
	source := "none found (captions will be written as sidecar .txt files)"
	if r.Captions > 0 || len(r.SourceFiles) > 0 {
		source = string(r.Source)
		if r.Source == annotate.FormatSidecar {
			source += " (" + r.SidecarExt + ")"
		}
		if len(r.SourceFiles) > 0 {
			source += ": " + strings.Join(r.SourceFiles, ", ")
		}
	}
	fmt.Fprintf(w, "dataset     %s\n", o.Root)
	fmt.Fprintf(w, "source      %s\n", source)
	fmt.Fprintf(w, "images      %d (%d captioned, %d uncaptioned)\n", s.Images, s.Captioned, s.Uncaptioned)
	fmt.Fprintf(w, "captions    %d%s\n", s.Captions, counts(map[string]int{
		"approved": s.ByState[annotate.StateApproved], "unreviewed": s.ByState[annotate.StateUnreviewed], "rejected": s.ByState[annotate.StateRejected]},
		[]string{"approved", "unreviewed", "rejected"}))
	fmt.Fprintf(w, "origins     %s\n", strings.TrimPrefix(counts(s.ByOrigin, nil), ": "))
	fmt.Fprintf(w, "splits      %s\n", strings.TrimPrefix(counts(s.BySplit, []string{"train", "val", "test", "none"}), ": "))
	fmt.Fprintf(w, "to review   %d images with unreviewed captions\n", s.ToReview)
	fmt.Fprintf(w, "orphans     %d captions without an image\n", r.Orphans)
	fmt.Fprintf(w, "duplicates  %d\n", r.Duplicates)
	if r.RemovedTemps > 0 {
		fmt.Fprintf(w, "leftovers   %s\n", annotate.RemovedTempsNote(r.RemovedTemps))
	}
	fmt.Fprintf(w, "warnings    %d\n", len(r.Warnings))
	for i, wn := range r.Warnings {
		if i == maxListedWarnings {
			fmt.Fprintf(w, "  ... and %d more (--json lists them all)\n", len(r.Warnings)-maxListedWarnings)
			break
		}
		fmt.Fprintf(w, "  %s: %s\n", wn.Kind, wn)
	}
}

// counts formats ": a 3, b 2" in the given order, then the other keys sorted; zero counts of
// ordered keys are left out.
func counts(m map[string]int, order []string) string {
	var parts []string
	seen := map[string]bool{}
	for _, k := range order {
		seen[k] = true
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	var rest []string
	for k := range m {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(parts) == 0 {
		return ": none"
	}
	return ": " + strings.Join(parts, ", ")
}
