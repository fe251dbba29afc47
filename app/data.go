package app

import (
	"github.com/captune/captune/annotate"
	"github.com/captune/captune/finetune"
)

// examplesOf groups a split's captions by image. approvedOnly keeps only approved captions.
func examplesOf(ds *annotate.Dataset, split annotate.Split, approvedOnly bool) []finetune.Example {
	var out []finetune.Example
	index := map[int]int{}
	for _, p := range ds.Pairs(split, approvedOnly) {
		i, ok := index[p.Item]
		if !ok {
			i = len(out)
			index[p.Item] = i
			out = append(out, finetune.Example{Image: p.Image})
		}
		out[i].Captions = append(out[i].Captions, p.Caption)
	}
	return out
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
