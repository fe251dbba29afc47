package app

import (
	"context"
	"flag"
	"fmt"

	"github.com/captune/captune/annotate"
	"github.com/captune/captune/finetune"
)

func init() {
	register(&Command{
		Name:    "selftest",
		Summary: "check the training recipe and the model: start tokens, label shift, loss masking, overfitting, beam search",
		Usage:   "[--model DIR] [--data DIR] [--device D]",
		Run:     runSelftest,
	})
}

func runSelftest(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	model := fs.String("model", "bundled", ModelFlagHelp)
	data := fs.String("data", "", "dataset with at least 10 captioned images (default: the bundled sample)")
	device := fs.String("device", "auto", "auto, cpu, cuda or cuda:N")
	steps := fs.Int("steps", 150, "optimizer steps for the overfit check")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := ResolveModel(*model)
	if err != nil {
		return err
	}
	if *data == "" {
		tmp, err := tempSampleCopy()
		if err != nil {
			return err
		}
		*data = tmp
	}
	ds, _, err := annotate.Open(*data, annotate.OpenOptions{})
	if err != nil {
		return err
	}
	defer ds.Close()
	ex := examples(ds.SplitImages(annotate.SplitNone, annotate.TrainAll))
	failed := 0
	_, err = finetune.SelfTest(ctx, finetune.SelfTestOptions{Model: dir, Examples: ex, Device: *device, OverfitStep: *steps}, func(c finetune.Check) {
		verdict := "PASS"
		if !c.Pass {
			verdict = "FAIL"
			failed++
		}
		fmt.Fprintf(env.Stdout, "%s  %s: %s\n", verdict, c.Name, c.Figure)
	})
	if err != nil {
		return err
	}
	if failed > 0 {
		return &ExitError{Code: 1, Err: fmt.Errorf("%d check(s) failed", failed)}
	}
	return nil
}
