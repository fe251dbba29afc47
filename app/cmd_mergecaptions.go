package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/captune/captune/annotate"
)

func init() {
	register(&Command{
		Name:    "merge-captions",
		Summary: "fold captune caption outputs (e.g. one per shard) into a dataset as model captions, never over a person's",
		Usage:   "--data DIR [--model-name NAME] FILE...",
		Run:     runMergeCaptions,
	})
}

// mergeCount tallies what merge-captions did.
type mergeCount struct {
	lines, unmatched int
	outcomes         map[annotate.MergeOutcome]int
	firstUnmatched   string
}

func runMergeCaptions(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	data := fs.String("data", "", "dataset folder (required)")
	name := fs.String("model-name", "", `model the captions are from, recorded as their origin "model:NAME" (default: the "model" of each --json line)`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" || fs.NArg() == 0 {
		return &ExitError{Code: 2, Err: errors.New("--data and at least one caption file are required (see captune merge-captions --help)")}
	}
	ds, _, err := annotate.Open(*data, annotate.OpenOptions{})
	if err != nil {
		return err
	}
	defer ds.Close()
	if err := ds.Lock(); err != nil {
		return err
	}
	n := mergeCount{outcomes: map[annotate.MergeOutcome]int{}}
	b := ds.NewBatch()
	for _, file := range fs.Args() {
		if err := mergeFile(ds, b, file, *name, &n); err != nil {
			return err
		}
	}
	if err := ds.Save(); err != nil {
		return err
	}
	o := n.outcomes
	fmt.Fprintf(env.Stdout, "%d captions read: %d added, %d replaced an unreviewed caption of the same model, %d unchanged, %d left alone (a person wrote or approved the image's captions)\n",
		n.lines, o[annotate.MergeAdded], o[annotate.MergeReplaced], o[annotate.MergeSame], o[annotate.MergeReviewed])
	if n.unmatched > 0 {
		fmt.Fprintf(env.Stderr, "warning: %d captions name images that are not in %s, e.g. %s\n", n.unmatched, ds.Root(), n.firstUnmatched)
	}
	return nil
}

// mergeFile merges the captions of one captune caption output, read up to its last full line.
func mergeFile(ds *annotate.Dataset, b *annotate.Batch, file, modelName string, n *mergeCount) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("merge captions: %w", err)
	}
	if i := bytes.LastIndexByte(data, '\n'); i+1 < len(data) {
		data = data[:i+1] // a line cut short by a killed run
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		row, ok := parseCaptionLine(sc.Text())
		if !ok {
			continue
		}
		model := modelName
		if model == "" {
			model = row.Model
		}
		if model == "" {
			return &ExitError{Code: 2, Err: fmt.Errorf("%s line %d: no model name: pass --model-name", file, line)}
		}
		n.lines++
		i, found := datasetItem(ds, row)
		if !found {
			if n.unmatched++; n.firstUnmatched == "" {
				n.firstUnmatched = row.File
			}
			continue
		}
		out, err := b.MergeModelCaption(i, row.Caption, annotate.ModelOrigin(model))
		if err != nil {
			return fmt.Errorf("%s line %d: %w", file, line, err)
		}
		n.outcomes[out]++
	}
	return sc.Err()
}

// parseCaptionLine reads a --json line or a tab-separated "file<TAB>caption" line of captune caption.
func parseCaptionLine(line string) (captionRow, bool) {
	var row captionRow
	if strings.HasPrefix(line, "{") {
		return row, json.Unmarshal([]byte(line), &row) == nil && row.File != ""
	}
	file, caption, ok := strings.Cut(line, "\t")
	return captionRow{File: file, Caption: caption}, ok && file != ""
}

// datasetItem finds the image a caption line names: by its file path (as given, relative to the
// working folder) within the dataset, else by its path within the folder that was captioned.
func datasetItem(ds *annotate.Dataset, row captionRow) (int, bool) {
	if abs, err := filepath.Abs(row.File); err == nil {
		if rel, err := filepath.Rel(ds.Root(), abs); err == nil {
			if i, ok := ds.Index(filepath.ToSlash(rel)); ok {
				return i, true
			}
		}
	}
	if row.Rel != "" {
		return ds.Index(row.Rel)
	}
	return 0, false
}
