package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/captune/captune/finetune"
	"github.com/captune/captune/internal/hub"
)

func init() {
	register(&Command{
		Name:    "export-job",
		Summary: "write a training job (dataset, base model, train.py for Hugging Face accelerate) to run on GPUs or a cluster",
		Usage:   "--data DIR --out JOB [--model M] [every captune finetune flag]",
		Run:     runExportJob,
	})
}

// jobIgnoredFlags are finetune flags that do not shape a job: the job's machine picks its device,
// and a job has no estimate to make first.
var jobIgnoredFlags = []string{"device", "estimate", "no-estimate"}

func runExportJob(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	cfg := finetune.DefaultConfig()
	f := defineFinetuneFlags(fs, &cfg)
	fs.Lookup("out").Usage = "job folder to write (required)"
	fs.Lookup("overwrite").Usage = "replace the contents of an existing job folder"
	for _, name := range jobIgnoredFlags {
		fs.Lookup(name).Usage += " (ignored by export-job)"
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *f.data == "" || cfg.OutDir == "" {
		return &ExitError{Code: 2, Err: errors.New("--data and --out are required (see captune export-job --help)")}
	}
	if cfg.Resume {
		return &ExitError{Code: 2, Err: fmt.Errorf("--resume: %w (it starts from its base model)", finetune.ErrJobResume)}
	}
	ds, d, err := f.openTrainingData(env, fs, &cfg)
	if err != nil {
		return err
	}
	defer ds.Close()
	repo, rev := hubSnapshot(cfg.BaseModel)
	sum, err := finetune.ExportJob(cfg, d, finetune.JobOptions{DataRoot: ds.Root(), HubRepo: repo, HubRevision: rev, CaptuneVersion: Version})
	if err != nil {
		return fmt.Errorf("export job %s: %w", cfg.OutDir, err)
	}
	base := sum.BaseModel
	if repo == "" {
		base = filepath.Join(sum.Dir, base)
	}
	fmt.Fprintf(env.Stdout, "job written to %s: %d training images (%d captions), %d validation; %d steps per epoch at one process, %d in all; base model %s; %d files hard-linked, %d copied\n",
		sum.Dir, sum.TrainImages, sum.TrainSamples, sum.ValImages, sum.StepsPerEpoch, sum.TotalSteps, base, sum.Linked, sum.Copied)
	fmt.Fprintf(env.Stdout, "run it: cd %s && accelerate launch train.py   (see README.md)\n", sum.Dir)
	return nil
}

// hubSnapshot returns the repo id and commit of a model folder that is a Hugging Face cache
// snapshot (…/models--ORG--NAME/snapshots/COMMIT), or "" for any other folder.
func hubSnapshot(dir string) (repo, revision string) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", ""
	}
	if filepath.Base(filepath.Dir(abs)) != "snapshots" || !strings.HasPrefix(filepath.Base(filepath.Dir(filepath.Dir(abs))), "models--") {
		return "", ""
	}
	return hub.ModelName(abs), filepath.Base(abs)
}
