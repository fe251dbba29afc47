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

	"github.com/sugarme/gotch"

	"github.com/captune/captune/annotate"
	"github.com/captune/captune/finetune"
	"github.com/captune/captune/finetune/metrics"
	"github.com/captune/captune/finetune/runinfo"
	"github.com/captune/captune/inference"
)

func init() {
	register(&Command{
		Name:    "eval",
		Summary: "score captions of a split against the dataset's references (BLEU, ROUGE-L, CIDEr-D, ×100)",
		Usage:   "--data DIR [--model DIR [--adapter DIR] | --adapter DIR | --predictions FILE] [--base DIR] [--split S | --holdout H] [--captions C] [--json] [--report out.html]",
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

// evalFlags are captune eval's command line.
type evalFlags struct {
	data, model, adapter, base, preds, split, report, device string
	asJSON                                                   bool
	refs                                                     annotate.TrainingCaptions
	hold                                                     annotate.Holdout
	decode                                                   decodeFlags
}

// parse reads the flags; a usage error is an *ExitError with code 2.
func (f *evalFlags) parse(fs *flag.FlagSet, args []string) error {
	fs.StringVar(&f.data, "data", "", "dataset folder with reference captions (required)")
	fs.StringVar(&f.model, "model", "", "model to caption with: "+ModelFlagHelp)
	fs.StringVar(&f.adapter, "adapter", "", AdapterFlagHelp)
	fs.StringVar(&f.base, "base", "", "also caption with this base model and compare before/after (e.g. --base BASE --adapter RUN: the base, then the base with the run's adapter)")
	fs.StringVar(&f.preds, "predictions", "", `jsonl of {"file_name", "text"} to score instead of captioning`)
	fs.StringVar(&f.split, "split", "", "split to score: train, val, test or all (default: the val split, else the test split, else the images --holdout held out)")
	captions := fs.String("captions", string(annotate.TrainTrusted), "which captions are references: trusted (human-written, imported or approved), approved, or all")
	holdout := fs.String("holdout", string(annotate.HoldoutAuto), "the run's holdout, which chooses the images without --split: auto, tenth or none")
	fs.BoolVar(&f.asJSON, "json", false, "print scores as JSON")
	fs.StringVar(&f.report, "report", "", "write a before/after HTML report here (needs --base), with a .json beside it")
	fs.StringVar(&f.device, "device", "auto", "auto, cpu, cuda or cuda:N")
	addDecodeFlags(fs, &f.decode, 3)
	if err := fs.Parse(args); err != nil {
		return err
	}
	usage := func(err error) error { return &ExitError{Code: 2, Err: err} }
	if f.data == "" || (f.model == "" && f.adapter == "" && f.preds == "") {
		return usage(errors.New("--data and one of --model, --adapter or --predictions are required (see captune eval --help)"))
	}
	if f.preds != "" && (f.model != "" || f.adapter != "") {
		return usage(errors.New("--predictions scores a file's captions: give it without --model and --adapter"))
	}
	if f.report != "" && f.base == "" {
		return usage(errors.New("--report needs --base (the model before fine-tuning)"))
	}
	if _, err := f.decode.options(inference.GenerationConfig{}); err != nil {
		return usage(err)
	}
	var err error
	if f.refs, err = annotate.ParseTrainingCaptions(*captions); err != nil {
		return usage(err)
	}
	if f.hold, err = annotate.ParseHoldout(*holdout); err != nil {
		return usage(err)
	}
	return nil
}

// evalCaptioner captions the evaluation images with one model after another, each on its own
// engine.
type evalCaptioner struct {
	env    *Env
	decode decodeFlags
	dev    gotch.Device
	ex     []finetune.Example
}

// caption captions the images with the model spec and adapter name (resolveModelRef); each model
// decodes with the flags the user passed, else its generation_config.json's values. The captions
// name the model's folder (the adapter's, which is a run folder for a LoRA run).
func (e *evalCaptioner) caption(ctx context.Context, spec, adapter string) (modelCaptions, error) {
	ref, err := resolveModelRef(spec, adapter)
	if err != nil {
		return modelCaptions{}, err
	}
	opts, err := e.decode.modelOptions(ref.generationDir())
	if err != nil {
		return modelCaptions{}, err
	}
	out := modelCaptions{Model: ref.Dir(), Decoding: finetune.DecodingSummary(opts)}
	eng := inference.NewEngine()
	defer eng.Close()
	bar := newProgressLine(e.env.Stderr, "caption", "img", len(e.ex))
	err = eng.Do(ctx, func() error {
		c, _, err := ref.load(e.dev)
		if err != nil {
			return err
		}
		defer c.Free()
		if err := e.decode.usePrecision(c, e.env.Stderr); err != nil {
			return err
		}
		out.Captions, err = finetune.CaptionExamples(ctx, c, e.ex, opts, func(done, total int) { bar.Update(done, "") })
		return err
	})
	return out, err
}

// model is the captions of the model spec and adapter name, made when the evaluation asks for them.
func (e *evalCaptioner) model(spec, adapter string) captionSource {
	return func(ctx context.Context) (modelCaptions, error) { return e.caption(ctx, spec, adapter) }
}

func runEval(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	var f evalFlags
	if err := f.parse(fs, args); err != nil {
		return err
	}
	ds, _, err := annotate.Open(f.data, annotate.OpenOptions{})
	if err != nil {
		return err
	}
	defer ds.Close()
	ex, spName, how, err := evalImages(ds, f.split, f.refs, f.hold)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	if len(ex) == 0 {
		return fmt.Errorf("%s: no image has a reference caption", how)
	}
	dev, err := inference.ParseDevice(f.device)
	if err != nil {
		return err
	}
	ec := &evalCaptioner{env: env, decode: f.decode, dev: dev, ex: ex}
	tuned := ec.model(f.model, f.adapter)
	if f.preds != "" {
		tuned = func(context.Context) (modelCaptions, error) {
			caps, err := readPredictions(f.preds, ds.Root())
			return modelCaptions{Model: f.preds, Captions: caps, Decoding: "predictions file"}, err
		}
	}
	if f.base == "" {
		t, err := tuned(ctx)
		if err != nil {
			return err
		}
		scores, err := finetune.Score(ex, t.Captions)
		if err != nil {
			return err
		}
		return printScores(env, f.asJSON, spName, how, t.Decoding, len(ex), scores)
	}
	cmp, err := evaluateBeforeAfter(ctx, ex, how, ec.model(f.base, ""), tuned)
	if err != nil {
		return err
	}
	return printComparison(env, cmp, f.report, f.asJSON)
}

// printComparison writes the before/after report (HTML, with its JSON beside) when asked, and
// prints the scores.
func printComparison(env *Env, cmp runinfo.Comparison, report string, asJSON bool) error {
	if report != "" {
		if err := writeComparisonReport(&cmp, report); err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "report: %s\n", report)
	}
	if asJSON {
		return json.NewEncoder(env.Stdout).Encode(cmp)
	}
	fmt.Fprintf(env.Stdout, "%s; %s\nbefore  %s\nafter   %s\n", cmp.Split, cmp.Decoding, cmp.Before, cmp.After)
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
