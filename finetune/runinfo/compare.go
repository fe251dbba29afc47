package runinfo

import "github.com/captune/captune/finetune/metrics"

// ImageComparison is one image of the before/after evaluation: one row of the report and of the
// Compare tab's table.
type ImageComparison struct {
	Image      string   `json:"image"` // absolute path
	References []string `json:"references"`
	Base       string   `json:"base_caption"`
	Tuned      string   `json:"finetuned_caption"`
	BaseCIDEr  float64  `json:"base_cider_d"` // CIDEr-D, pycocoevalcap scale (0..10)
	TunedCIDEr float64  `json:"finetuned_cider_d"`
}

// Improvement is the change of the image's CIDEr-D from the base to the fine-tuned model.
func (r ImageComparison) Improvement() float64 { return r.TunedCIDEr - r.BaseCIDEr }

// Comparison is the before/after evaluation of a fine-tuning run: the corpus scores of the base
// and the fine-tuned model on the same images, and every image's captions and scores, the largest
// improvement first.
type Comparison struct {
	Split     string            `json:"split"`    // which images were evaluated, e.g. "val (5 images)"
	Decoding  string            `json:"decoding"` // the decoding settings, printed beside the scores
	BaseModel string            `json:"base_model"`
	Tuned     string            `json:"finetuned_model"`
	Before    metrics.Scores    `json:"before"`
	After     metrics.Scores    `json:"after"`
	Images    []ImageComparison `json:"images"`
	// TunedEpoch is which checkpoint of its run the tuned model is, e.g. "epoch 2 of 5, best
	// validation CIDEr-D 41.2"; "" when unknown.
	TunedEpoch string `json:"-"`
	// ReportPath is the HTML report written of it, "" when none was.
	ReportPath string `json:"-"`
}
