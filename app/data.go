package app

import (
	"fmt"
	"hash/fnv"

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

// trainingData takes the train and validation splits of a dataset. When no image has a split yet,
// every tenth image (chosen by a hash of its path, so the choice is stable) is held out for
// validation and the rest trains; the dataset on disk is not changed.
func trainingData(ds *annotate.Dataset, approvedOnly bool) (finetune.Data, string) {
	hasSplits := false
	for _, it := range ds.Items() {
		if it.Split != annotate.SplitNone {
			hasSplits = true
			break
		}
	}
	if hasSplits {
		return finetune.Data{Train: examplesOf(ds, annotate.SplitTrain, approvedOnly), Val: examplesOf(ds, annotate.SplitVal, approvedOnly)},
			"splits from the dataset"
	}
	var d finetune.Data
	for _, e := range examplesOf(ds, annotate.SplitNone, approvedOnly) {
		if heldOut(e.Image) {
			d.Val = append(d.Val, e)
		} else {
			d.Train = append(d.Train, e)
		}
	}
	return d, fmt.Sprintf("no splits in the dataset: %d images train, %d held out for validation", len(d.Train), len(d.Val))
}

func heldOut(path string) bool {
	h := fnv.New32a()
	h.Write([]byte(path))
	return h.Sum32()%10 == 0
}
