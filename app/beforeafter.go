package app

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/captune/captune/finetune"
	"github.com/captune/captune/finetune/runinfo"
)

// modelCaptions are one model's captions of the evaluation images.
type modelCaptions struct {
	Model    string            // the model's folder, or the predictions file they were read from
	Captions map[string]string // by image path
	Decoding string            // how they were decoded (finetune.DecodingSummary)
}

// captionSource makes one model's captions of the evaluation images.
type captionSource func(ctx context.Context) (modelCaptions, error)

// evaluateBeforeAfter is the before/after evaluation of a fine-tuned model, the one workflow the
// Compare tab (engineEvaluator) and captune eval --base share: caption the evaluation images ex
// with the base model, then with the tuned one, and score both against the same references. how
// says which images they are (annotate.EvalSet's How). The comparison names both models, how
// they decoded, and which checkpoint of its run the tuned model is, when its folder says so.
func evaluateBeforeAfter(ctx context.Context, ex []finetune.Example, how string, base, tuned captionSource) (runinfo.Comparison, error) {
	b, err := base(ctx)
	if err != nil {
		return runinfo.Comparison{}, err
	}
	t, err := tuned(ctx)
	if err != nil {
		return runinfo.Comparison{}, err
	}
	cmp, err := finetune.Compare(ex, b.Captions, t.Captions)
	if err != nil {
		return runinfo.Comparison{}, err
	}
	decoding := t.Decoding
	if b.Decoding != decoding {
		decoding += "; base model: " + b.Decoding
	}
	cmp.Split, cmp.Decoding, cmp.BaseModel, cmp.Tuned = how, decoding, b.Model, t.Model
	if best, ok := finetune.ReadBestInfo(t.Model); ok {
		cmp.TunedEpoch = best.String()
	}
	return cmp, nil
}

// writeComparisonReport writes cmp's HTML report to html and its JSON beside it (same name, .json),
// and records the report's path in cmp.
func writeComparisonReport(cmp *runinfo.Comparison, html string) error {
	if err := cmp.WriteHTML(html); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	if err := cmp.WriteJSON(strings.TrimSuffix(html, filepath.Ext(html)) + ".json"); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	cmp.ReportPath = html
	return nil
}
