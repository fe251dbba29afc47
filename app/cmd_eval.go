package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/captune/captune/annotate"
	"github.com/captune/captune/finetune"
	"github.com/captune/captune/finetune/metrics"
	"github.com/captune/captune/inference"
)

func init() {
	register(&Command{
		Name:    "eval",
		Summary: "score captions of a split against the dataset's references (BLEU, ROUGE-L, CIDEr-D, ×100)",
		Usage:   "--data DIR [--model DIR | --predictions FILE] [--base DIR] [--split S | --holdout H] [--captions C] [--json] [--report out.html]",
		Run:     runEval,
	})
}

// evalImages picks what captune eval scores: the split asked for by name ("all": every image), else
// the images annotate.EvalSet chooses for a run with choices c and h, the same the window's Compare
// tab scores. name goes into the JSON output, how is for people.
func evalImages(ds *annotate.Dataset, asked string, c annotate.TrainingCaptions, h annotate.Holdout) (ex []finetune.Example, name, how string, err error) {
	if asked == "" {
		set := ds.EvalSet(c, h)
		return examples(set.Images), string(set.Source), set.How, nil
	}
	sp, ok := annotate.ParseSplit(asked)
	if asked == "all" {
		sp, ok = annotate.SplitNone, true
	}
	if !ok {
		return nil, "", "", fmt.Errorf("--split %q: want train, val, test or all", asked)
	}
	ex = examples(ds.SplitImages(sp, c))
	return ex, asked, fmt.Sprintf("split %s, %d images", asked, len(ex)), nil
}

// readPredictions reads a jsonl of {"file_name", "text"}; file names are relative to root.
func readPredictions(path, root string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var p struct {
			FileName string `json:"file_name"`
			Text     string `json:"text"`
		}
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			return nil, fmt.Errorf("read predictions %s line %d: %w", path, n, err)
		}
		if p.FileName == "" {
			return nil, fmt.Errorf("read predictions %s line %d: no file_name", path, n)
		}
		abs := p.FileName
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(root, filepath.FromSlash(p.FileName))
		}
		out[filepath.Clean(abs)] = p.Text
	}
	return out, sc.Err()
}

func runEval(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	data := fs.String("data", "", "dataset folder with reference captions (required)")
	model := fs.String("model", "", "model to caption with: "+ModelFlagHelp)
	base := fs.String("base", "", "also caption with this base model and compare before/after")
	preds := fs.String("predictions", "", `jsonl of {"file_name", "text"} to score instead of captioning`)
	split := fs.String("split", "", "split to score: train, val, test or all (default: the val split, else the test split, else the images --holdout held out)")
	captions := fs.String("captions", string(annotate.TrainTrusted), "which captions are references: trusted (human-written, imported or approved), approved, or all")
	holdout := fs.String("holdout", string(annotate.HoldoutAuto), "the run's holdout, which chooses the images without --split: auto, tenth or none")
	asJSON := fs.Bool("json", false, "print scores as JSON")
	report := fs.String("report", "", "write a before/after HTML report here (needs --base), with a .json beside it")
	device := fs.String("device", "auto", "auto, cpu, cuda or cuda:N")
	var d decodeFlags
	addDecodeFlags(fs, &d, 3)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" || (*model == "" && *preds == "") {
		return &ExitError{Code: 2, Err: errors.New("--data and one of --model or --predictions are required (see captune eval --help)")}
	}
	if *report != "" && *base == "" {
		return &ExitError{Code: 2, Err: errors.New("--report needs --base (the model before fine-tuning)")}
	}
	if _, err := d.options(inference.GenerationConfig{}); err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	refs, err := annotate.ParseTrainingCaptions(*captions)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	hold, err := annotate.ParseHoldout(*holdout)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	ds, _, err := annotate.Open(*data, annotate.OpenOptions{})
	if err != nil {
		return err
	}
	defer ds.Close()
	ex, spName, how, err := evalImages(ds, *split, refs, hold)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	if len(ex) == 0 {
		return fmt.Errorf("%s: no image has a reference caption", how)
	}
	dev, err := inference.ParseDevice(*device)
	if err != nil {
		return err
	}
	// Each model decodes with the flags the user passed, else its generation_config.json's values.
	decodings := map[string]string{} // model folder → its decoding
	caption := func(spec string) (map[string]string, string, error) {
		dir, err := ResolveModel(spec)
		if err != nil {
			return nil, "", err
		}
		opts, err := d.modelOptions(dir)
		if err != nil {
			return nil, "", err
		}
		decodings[dir] = finetune.DecodingSummary(opts)
		eng := inference.NewEngine()
		defer eng.Close()
		var caps map[string]string
		bar := newProgressLine(env.Stderr, "caption", "img", len(ex))
		err = eng.Do(ctx, func() error {
			c, _, err := inference.LoadCaptioner(dir, dev)
			if err != nil {
				return err
			}
			defer c.Free()
			caps, err = finetune.CaptionExamples(ctx, c, ex, opts, func(done, total int) { bar.Update(done, "") })
			return err
		})
		return caps, dir, err
	}
	var cands map[string]string
	var tunedName string
	if *preds != "" {
		if cands, err = readPredictions(*preds, ds.Root()); err != nil {
			return err
		}
		tunedName = *preds
	} else if cands, tunedName, err = caption(*model); err != nil {
		return err
	}
	scores, err := finetune.Score(ex, cands)
	if err != nil {
		return err
	}
	decoding := decodings[tunedName]
	if *preds != "" {
		decoding = "predictions file"
	}
	if *base == "" {
		return printScores(env, *asJSON, spName, how, decoding, len(ex), scores)
	}
	baseCaps, baseName, err := caption(*base)
	if err != nil {
		return err
	}
	cmp, err := finetune.Compare(ex, baseCaps, cands)
	if err != nil {
		return err
	}
	if b := decodings[baseName]; b != decoding {
		decoding += "; base model: " + b
	}
	cmp.Split, cmp.Decoding, cmp.BaseModel, cmp.Tuned = how, decoding, baseName, tunedName
	if *report != "" {
		if err := cmp.WriteHTML(*report); err != nil {
			return err
		}
		if err := cmp.WriteJSON(strings.TrimSuffix(*report, filepath.Ext(*report)) + ".json"); err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "report: %s\n", *report)
	}
	if *asJSON {
		return json.NewEncoder(env.Stdout).Encode(cmp)
	}
	fmt.Fprintf(env.Stdout, "%s; %s\nbefore  %s\nafter   %s\n", how, decoding, cmp.Before, cmp.After)
	return nil
}

func printScores(env *Env, asJSON bool, split, how, decoding string, n int, s metrics.Scores) error {
	if asJSON {
		return json.NewEncoder(env.Stdout).Encode(map[string]any{
			"split": split, "images": n, "decoding": decoding, "scale": "x100",
			"bleu_1": 100 * s.Bleu[0], "bleu_2": 100 * s.Bleu[1], "bleu_3": 100 * s.Bleu[2], "bleu_4": 100 * s.Bleu[3],
			"rouge_l": 100 * s.RougeL, "cider_d": 100 * s.CIDErD,
		})
	}
	fmt.Fprintf(env.Stdout, "%s; %s\n%s\n", how, decoding, s)
	return nil
}
