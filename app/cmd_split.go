package app

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/captune/captune/annotate"
)

func init() {
	register(&Command{
		Name:    "split",
		Summary: "assign every image of a dataset to train/val/test at random (seeded), and save",
		Usage:   "--data DIR [--train 0.8] [--val 0.1] [--test 0.1] [--seed S]",
		Run:     runSplit,
	})
}

func runSplit(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	data := fs.String("data", "", "dataset folder (required)")
	train := fs.Float64("train", 0.8, "share of images for training")
	val := fs.Float64("val", 0.1, "share for validation")
	test := fs.Float64("test", 0.1, "share for testing")
	seed := fs.Int64("seed", 1, "random seed: the same seed on the same images gives the same splits")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" {
		return &ExitError{Code: 2, Err: errors.New("--data is required (see captune split --help)")}
	}
	ds, _, err := annotate.Open(*data, annotate.OpenOptions{})
	if err != nil {
		return err
	}
	defer ds.Close()
	if err := ds.Lock(); err != nil {
		return err
	}
	if err := ds.AssignSplits(*seed, *train, *val, *test); err != nil {
		return err
	}
	if err := ds.Save(); err != nil {
		return err
	}
	counts := map[annotate.Split]int{}
	for _, it := range ds.Items() {
		counts[it.Split]++
	}
	fmt.Fprintf(env.Stdout, "%d images: %d train, %d val, %d test\n", ds.Len(), counts[annotate.SplitTrain], counts[annotate.SplitVal], counts[annotate.SplitTest])
	return nil
}
