package annotate

import (
	"fmt"
	"hash/fnv"
	"strings"
)

// TrainingCaptions says which captions a fine-tuning run learns from. Rejected captions never train.
type TrainingCaptions string

// The caption choices. TrainTrusted is the default: a model fine-tuned on its own unchecked
// captions learns its mistakes back (seen: BLEU-4 70 → 40, a third of the images given one caption).
const (
	TrainTrusted  TrainingCaptions = "trusted"  // written or imported by people, or approved by one
	TrainApproved TrainingCaptions = "approved" // approved captions only
	TrainAll      TrainingCaptions = "all"      // every caption, unreviewed model captions included
)

// TrainingCaptionChoices lists the choices in menu order.
var TrainingCaptionChoices = []TrainingCaptions{TrainTrusted, TrainApproved, TrainAll}

// Describe says in a few words what the choice trains on.
func (c TrainingCaptions) Describe() string {
	switch c {
	case TrainApproved:
		return "approved captions only"
	case TrainAll:
		return "all captions, unreviewed model captions too"
	}
	return "human-written, imported and approved captions"
}

// keeps reports whether the choice trains on caption cp.
func (c TrainingCaptions) keeps(cp Caption) bool {
	switch {
	case cp.State == StateRejected:
		return false
	case c == TrainApproved:
		return cp.State == StateApproved
	case c == TrainAll:
		return true
	}
	return cp.State == StateApproved || !cp.Origin.IsModel()
}

// Holdout says which images validate a run (the rest train).
type Holdout string

// The holdout choices. Images of the test split never train nor validate.
const (
	HoldoutAuto  Holdout = "auto"  // the dataset's train and val splits when it has any, else HoldoutTenth
	HoldoutTenth Holdout = "tenth" // every tenth image, chosen by a hash of its path (stable across runs)
	HoldoutNone  Holdout = "none"  // every image trains; nothing validates
)

// HoldoutChoices lists the choices in menu order.
var HoldoutChoices = []Holdout{HoldoutAuto, HoldoutTenth, HoldoutNone}

// Describe says in a few words which images validate.
func (h Holdout) Describe() string {
	switch h {
	case HoldoutTenth:
		return "every tenth image"
	case HoldoutNone:
		return "none (every image trains)"
	}
	return "the dataset's val split, else every tenth image"
}

// ParseTrainingCaptions reads a choice by name ("approved-only" is TrainApproved).
func ParseTrainingCaptions(s string) (TrainingCaptions, error) {
	switch c := TrainingCaptions(strings.ToLower(strings.TrimSpace(s))); c {
	case TrainTrusted, TrainApproved, TrainAll:
		return c, nil
	case "approved-only":
		return TrainApproved, nil
	}
	return "", fmt.Errorf("training captions %q: want trusted, approved or all", s)
}

// ParseHoldout reads a holdout choice by name.
func ParseHoldout(s string) (Holdout, error) {
	switch h := Holdout(strings.ToLower(strings.TrimSpace(s))); h {
	case HoldoutAuto, HoldoutTenth, HoldoutNone:
		return h, nil
	}
	return "", fmt.Errorf("validation images %q: want auto, tenth or none", s)
}

// TrainingImage is one image of a run with the captions it learns from.
type TrainingImage struct {
	Path     string // absolute
	Captions []string
}

// TrainingSet is what a fine-tuning run uses: which images train and which validate, and what was
// left out, with warnings a user should read before starting.
type TrainingSet struct {
	Train, Val []TrainingImage
	How        string // which images validate, in a few words
	// Untrusted counts images left out because their only captions are unreviewed model captions;
	// Unreviewed counts kept images that learn from unreviewed model captions (TrainAll).
	Untrusted, Unreviewed int
	Warnings              []string
}

// MinTrainingImages is the size below which a run is warned to learn little but the images.
const MinTrainingImages = 20

// TrainingSet chooses a run's images and captions. The dataset on disk is not changed.
func (d *Dataset) TrainingSet(c TrainingCaptions, h Holdout) TrainingSet {
	items := d.Items()
	var s TrainingSet
	switch {
	case h == HoldoutNone:
		s.How = "no validation images"
	case h == HoldoutAuto && d.hasSplits():
		s.How = "the dataset's train and val splits"
	default:
		h, s.How = HoldoutTenth, "every tenth image held out for validation"
	}
	for _, it := range items {
		if it.Split == SplitTest || (h == HoldoutAuto && it.Split == SplitNone) {
			continue
		}
		img, unreviewed, untrusted := d.trainingImage(it, c)
		if len(img.Captions) == 0 {
			if untrusted {
				s.Untrusted++
			}
			continue
		}
		if unreviewed {
			s.Unreviewed++
		}
		if validates(h, it) {
			s.Val = append(s.Val, img)
		} else {
			s.Train = append(s.Train, img)
		}
	}
	s.Warnings = s.warnings(c)
	return s
}

// trainingImage is it with the captions c keeps; unreviewed says a kept caption is an unreviewed
// model caption, untrusted that one was left out.
func (d *Dataset) trainingImage(it *Item, c TrainingCaptions) (img TrainingImage, unreviewed, untrusted bool) {
	img.Path = d.AbsPath(it)
	for _, cp := range it.Captions {
		model := cp.Origin.IsModel() && cp.State == StateUnreviewed
		if !c.keeps(cp) {
			untrusted = untrusted || model
			continue
		}
		unreviewed = unreviewed || model
		img.Captions = append(img.Captions, cp.Text)
	}
	return img, unreviewed, untrusted
}

// validates reports whether an image of a set chosen with h validates.
func validates(h Holdout, it *Item) bool {
	switch h {
	case HoldoutAuto:
		return it.Split == SplitVal
	case HoldoutNone:
		return false
	}
	f := fnv.New32a()
	f.Write([]byte(it.Path))
	return f.Sum32()%10 == 0
}

func (s TrainingSet) warnings(c TrainingCaptions) []string {
	var w []string
	n := len(s.Train) + len(s.Val)
	if s.Untrusted > 0 {
		w = append(w, fmt.Sprintf("%d %s only unreviewed model captions and %s left out: approve the good ones, or train on all captions.",
			s.Untrusted, either(s.Untrusted, "image has", "images have"), either(s.Untrusted, "is", "are")))
	}
	if s.Unreviewed > 0 {
		w = append(w, fmt.Sprintf("%d of %d images learn from unreviewed model captions: a model trained on its own unchecked captions can get worse.",
			s.Unreviewed, n))
	}
	switch {
	case len(s.Train) == 0 && c != TrainAll && s.Untrusted > 0:
		w = append(w, "No image has a caption to train on with "+c.Describe()+".")
	case len(s.Train) == 0:
		w = append(w, "No image has a caption to train on.")
	case len(s.Train) < MinTrainingImages:
		w = append(w, fmt.Sprintf("Only %d training %s: the model will mostly memorise %s.",
			len(s.Train), either(len(s.Train), "image", "images"), either(len(s.Train), "it", "them")))
	}
	if len(s.Val) == 0 && len(s.Train) > 0 {
		w = append(w, "No validation images: the run cannot pick its best checkpoint, and Compare scores the test split, else the training images.")
	}
	return w
}

func either(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
