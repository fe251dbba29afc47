package annotate

import "fmt"

// EvalSource names where an evaluation's images came from.
type EvalSource string

// The sources, in the order EvalSet tries them.
const (
	EvalVal     EvalSource = "val"     // the dataset's val split, held out by the run
	EvalTest    EvalSource = "test"    // the dataset's test split, which never trains
	EvalHoldout EvalSource = "holdout" // the images the run held out (every tenth image)
	EvalTrain   EvalSource = "train"   // nothing was held out: the training images themselves
	EvalSplit   EvalSource = "split"   // a split asked for by name (SplitImages)
)

// EvalSet is the images an evaluation scores, each with its reference captions.
type EvalSet struct {
	Images []TrainingImage
	Source EvalSource
	How    string // which images, in a few words, for the user
}

// EvalSet chooses the images that score a model fine-tuned with choices c and h: the dataset's val
// split when the run held it out, else its test split (which never trains), else the images the run
// held out, else the training images, and then How says the scores flatter the model. The captions
// c keeps are the references. The GUI's Compare tab and `captune eval` both call it, so they score
// the same images.
func (d *Dataset) EvalSet(c TrainingCaptions, h Holdout) EvalSet {
	ts := d.TrainingSet(c, h)
	if h == HoldoutAuto && len(ts.Val) > 0 && d.hasSplits() {
		return evalSet(ts.Val, EvalVal, "the dataset's val split")
	}
	if test := d.SplitImages(SplitTest, c); len(test) > 0 {
		return evalSet(test, EvalTest, "the dataset's test split")
	}
	if len(ts.Val) > 0 {
		return evalSet(ts.Val, EvalHoldout, "every tenth image, held out from training")
	}
	return evalSet(ts.Train, EvalTrain, "the training images (nothing was held out: the scores flatter the model)")
}

func evalSet(images []TrainingImage, src EvalSource, how string) EvalSet {
	return EvalSet{Images: images, Source: src, How: fmt.Sprintf("%s, %d %s", how, len(images), either(len(images), "image", "images"))}
}

// SplitImages returns the images of split (SplitNone: every image) that have a caption c keeps,
// with those captions.
func (d *Dataset) SplitImages(split Split, c TrainingCaptions) []TrainingImage {
	var out []TrainingImage
	for _, it := range d.Items() {
		if split != SplitNone && it.Split != split {
			continue
		}
		if img, _, _ := d.trainingImage(it, c); len(img.Captions) > 0 {
			out = append(out, img)
		}
	}
	return out
}

// hasSplits reports whether some image is assigned to the train or val split, which is when
// HoldoutAuto validates on the val split.
func (d *Dataset) hasSplits() bool {
	for _, it := range d.Items() {
		if it.Split == SplitTrain || it.Split == SplitVal {
			return true
		}
	}
	return false
}
