package app

import (
	"github.com/captune/captune/annotate"
	"github.com/captune/captune/finetune"
)

// evalData is what an evaluation scores of a model fine-tuned with choices c and h (annotate
// decides which images: the GUI's Compare tab and captune eval call this alike), as finetune's
// examples, with a description of which images they are.
func evalData(ds *annotate.Dataset, c annotate.TrainingCaptions, h annotate.Holdout) ([]finetune.Example, string) {
	set := ds.EvalSet(c, h)
	return examples(set.Images), set.How
}

// trainingData is the dataset's training set for the choices (annotate decides which images train
// and validate), as finetune's examples.
func trainingData(ds *annotate.Dataset, c annotate.TrainingCaptions, h annotate.Holdout) (finetune.Data, annotate.TrainingSet) {
	set := ds.TrainingSet(c, h)
	return finetune.Data{Train: examples(set.Train), Val: examples(set.Val)}, set
}

func examples(images []annotate.TrainingImage) []finetune.Example {
	out := make([]finetune.Example, len(images))
	for i, im := range images {
		out[i] = finetune.Example{Image: im.Path, Captions: im.Captions}
	}
	return out
}
