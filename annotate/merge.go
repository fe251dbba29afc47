package annotate

import "fmt"

// MergeOutcome says what MergeModelCaption did with a model caption.
type MergeOutcome int

// The outcomes of MergeModelCaption.
const (
	MergeAdded    MergeOutcome = iota // the image had no caption of this model: added, unreviewed
	MergeReplaced                     // its unreviewed caption by the same model was replaced
	MergeSame                         // its caption by the same model already says this
	MergeReviewed                     // a person wrote or approved one of its captions: left alone
	MergeEmpty                        // the caption is blank
)

// MergeModelCaption folds a caption that the model named by origin wrote for item i (e.g. from a
// sharded captioning run) into the dataset as part of the batch, never over a person's work: an
// image with a caption written, imported or approved by a person is left alone; an unreviewed
// caption by the same model is replaced; otherwise the caption is added, unreviewed.
func (b *Batch) MergeModelCaption(i int, text string, origin Origin) (MergeOutcome, error) {
	if !origin.IsModel() {
		return 0, fmt.Errorf("merge caption: origin %q is not a model", origin)
	}
	text = cleanCaption(text)
	if text == "" {
		return MergeEmpty, nil
	}
	it := b.d.Item(i)
	same := -1
	for c, cp := range it.Captions {
		if cp.State == StateApproved || !cp.Origin.IsModel() {
			return MergeReviewed, nil
		}
		if cp.Origin == origin && cp.State == StateUnreviewed && same < 0 {
			same = c
		}
	}
	if same >= 0 {
		if it.Captions[same].Text == text {
			return MergeSame, nil
		}
		return MergeReplaced, b.SetCaption(i, same, text, origin)
	}
	_, err := b.AddCaption(i, text, origin)
	return MergeAdded, err
}
