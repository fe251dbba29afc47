package app

import (
	"github.com/captune/captune/inference"
	"github.com/captune/captune/ui"
)

// generationAdvice reads a model folder's generation_config.json for the Generation panel, which
// fills in the numbers the user has not typed. It reads no weights.
func generationAdvice(dir string) (ui.GenerationAdvice, bool) {
	g, err := inference.ReadGenerationConfig(dir)
	if err != nil || len(g.Set) == 0 {
		return ui.GenerationAdvice{}, false
	}
	var a ui.GenerationAdvice
	if g.Has(inference.GenNumBeams) {
		a.Beams = &g.Options.NumBeams
	}
	if g.Has(inference.GenMinLength) {
		a.MinLength = &g.Options.MinLength
	}
	if g.Has(inference.GenMaxLength) {
		a.MaxLength = &g.Options.MaxLength
	}
	if g.Has(inference.GenRepetitionPenalty) {
		a.RepetitionPenalty = &g.Options.RepetitionPenalty
	}
	return a, true
}

// panelKeys are the generation_config.json keys the Generation panel shows: the panel's value
// (the user's, else the model's, else the default) is final for them.
var panelKeys = map[string]bool{
	inference.GenNumBeams: true, inference.GenMinLength: true, inference.GenMaxLength: true, inference.GenRepetitionPenalty: true,
}

// modelCaptionOptions is captionOptions with the model's generation_config.json values for the
// settings the panel does not show (length penalty, no-repeat n-gram size).
func modelCaptionOptions(c *inference.Captioner, g ui.GenerationSettings) inference.CaptionOptions {
	o := captionOptions(g)
	o.Decode = c.Generation.Apply(o.Decode, func(key string) bool { return panelKeys[key] })
	return o
}
