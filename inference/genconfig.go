package inference

import (
	"fmt"
	"os"
	"path/filepath"
)

// Keys of generation_config.json that Captune decodes with, as transformers names them.
const (
	GenMaxLength         = "max_length"
	GenMinLength         = "min_length"
	GenNumBeams          = "num_beams"
	GenRepetitionPenalty = "repetition_penalty"
	GenLengthPenalty     = "length_penalty"
	GenNoRepeatNgramSize = "no_repeat_ngram_size"
)

// CaptuneDecodeOptions is Captune's built-in decoding, for the settings neither the user nor the
// model's generation_config.json sets: the BLIP paper's evaluation decoding, 3 beams, 5–20 tokens.
func CaptuneDecodeOptions() DecodeOptions {
	o := DefaultDecodeOptions()
	o.NumBeams, o.MinLength = 3, 5
	return o
}

// GenerationConfig is what a model folder's generation_config.json says about decoding. The model's
// values win over Captune's built-in defaults, and a value the user sets wins over both: Set tells
// "the file says min_length 0" from "the file says nothing".
type GenerationConfig struct {
	Options DecodeOptions   // DefaultDecodeOptions with the file's values over them
	Set     map[string]bool // the Gen* keys the file sets
}

// Has reports whether the file sets key (one of the Gen* constants).
func (g GenerationConfig) Has(key string) bool { return g.Set[key] }

// Apply returns o with the values the file sets, except for the keys keep reports (the user's).
// keep may be nil.
func (g GenerationConfig) Apply(o DecodeOptions, keep func(key string) bool) DecodeOptions {
	take := func(key string) bool { return g.Set[key] && (keep == nil || !keep(key)) }
	if take(GenMaxLength) {
		o.MaxLength = g.Options.MaxLength
	}
	if take(GenMinLength) {
		o.MinLength = g.Options.MinLength
	}
	if take(GenNumBeams) {
		o.NumBeams = g.Options.NumBeams
	}
	if take(GenRepetitionPenalty) {
		o.RepetitionPenalty = g.Options.RepetitionPenalty
	}
	if take(GenLengthPenalty) {
		o.LengthPenalty = g.Options.LengthPenalty
	}
	if take(GenNoRepeatNgramSize) {
		o.NoRepeatNgramSize = g.Options.NoRepeatNgramSize
	}
	return o
}

// ReadGenerationConfig reads the decoding a model folder's generation_config.json suggests,
// without loading the model. A folder without the file sets nothing.
func ReadGenerationConfig(dir string) (GenerationConfig, error) {
	g := GenerationConfig{Options: DefaultDecodeOptions(), Set: map[string]bool{}}
	path := filepath.Join(dir, "generation_config.json")
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return g, nil
	}
	if err != nil {
		return g, fmt.Errorf("load %s: %w", path, err)
	}
	var f struct {
		MaxLength         *int     `json:"max_length"`
		MinLength         *int     `json:"min_length"`
		NumBeams          *int     `json:"num_beams"`
		RepetitionPenalty *float64 `json:"repetition_penalty"`
		LengthPenalty     *float64 `json:"length_penalty"`
		NoRepeatNgramSize *int     `json:"no_repeat_ngram_size"`
	}
	if err := jsonUnmarshal(data, &f); err != nil {
		return g, fmt.Errorf("load %s: %w", path, err)
	}
	setInt := func(key string, v *int, dst *int) {
		if v != nil {
			*dst, g.Set[key] = *v, true
		}
	}
	setFloat := func(key string, v *float64, dst *float64) {
		if v != nil {
			*dst, g.Set[key] = *v, true
		}
	}
	setInt(GenMaxLength, f.MaxLength, &g.Options.MaxLength)
	setInt(GenMinLength, f.MinLength, &g.Options.MinLength)
	setInt(GenNumBeams, f.NumBeams, &g.Options.NumBeams)
	setFloat(GenRepetitionPenalty, f.RepetitionPenalty, &g.Options.RepetitionPenalty)
	setFloat(GenLengthPenalty, f.LengthPenalty, &g.Options.LengthPenalty)
	setInt(GenNoRepeatNgramSize, f.NoRepeatNgramSize, &g.Options.NoRepeatNgramSize)
	return g, nil
}

// saveGenerationConfig writes generation_config.json: the keys the loaded file set (so a model
// fine-tuned from another keeps its decoding), and the non-default values of the others.
func saveGenerationConfig(dir string, cfg Config, g GenerationConfig) error {
	m := map[string]any{
		"_from_model_config": true, "bos_token_id": cfg.Text.BosTokenID, "eos_token_id": cfg.Text.SepTokenID,
		"pad_token_id": cfg.Text.PadTokenID, "transformers_version": "4.44.2",
	}
	o := g.Options
	for key, v := range map[string]struct {
		value      any
		nonDefault bool
	}{
		GenMaxLength:         {o.MaxLength, o.MaxLength > 0 && o.MaxLength != 20},
		GenMinLength:         {o.MinLength, o.MinLength > 0},
		GenNumBeams:          {o.NumBeams, o.NumBeams > 1},
		GenRepetitionPenalty: {o.RepetitionPenalty, o.RepetitionPenalty > 0 && o.RepetitionPenalty != 1},
		GenLengthPenalty:     {o.LengthPenalty, false},
		GenNoRepeatNgramSize: {o.NoRepeatNgramSize, o.NoRepeatNgramSize > 0},
	} {
		if g.Set[key] || v.nonDefault {
			m[key] = v.value
		}
	}
	return writeJSON(filepath.Join(dir, "generation_config.json"), m)
}
