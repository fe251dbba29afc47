package finetune_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/captune/captune/annotate"
	"github.com/captune/captune/finetune"
	"github.com/captune/captune/finetune/runinfo"
	"github.com/captune/captune/finetune/synth"
)

// Fine-tuning: the dataset chooses the images that train and validate, Run trains on the calling
// goroutine and reports progress, and the output folder is a model to caption with.
func ExampleRun() {
	ctx := context.Background()
	work, err := os.MkdirTemp("", "captune-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(work)
	data := filepath.Join(work, "shapes")
	if err := synth.WriteDataset(ctx, data, synth.Config{Variant: synth.VariantBase, Seed: 1, Size: 64}, 20, synth.FormatSidecar, nil); err != nil {
		log.Fatal(err)
	}
	ds, _, err := annotate.Open(data, annotate.OpenOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer ds.Close()
	set := ds.TrainingSet(annotate.TrainTrusted, annotate.HoldoutTenth)
	examples := func(images []annotate.TrainingImage) []finetune.Example {
		var out []finetune.Example
		for _, im := range images {
			out = append(out, finetune.Example{Image: im.Path, Captions: im.Captions})
		}
		return out
	}

	cfg := finetune.DefaultConfig()
	cfg.BaseModel = "../inference/testdata/models/tiny-a"
	cfg.OutDir = filepath.Join(work, "run")
	cfg.Device, cfg.MaxSteps, cfg.BatchSize = "cpu", 4, 4
	phases := map[runinfo.Phase]bool{}
	res, err := finetune.Run(ctx, cfg, finetune.Data{Train: examples(set.Train), Val: examples(set.Val)}, func(p finetune.Progress) {
		phases[p.Phase] = true // a window would redraw here, through fyne.Do
	})
	if err != nil {
		log.Fatal(err)
	}
	_, statErr := os.Stat(filepath.Join(res.OutDir, "model.safetensors"))
	fmt.Println("steps:", res.Steps, "trained:", phases[runinfo.PhaseTrain], "model written:", statErr == nil)
	// Output:
	// steps: 4 trained: true model written: true
}
