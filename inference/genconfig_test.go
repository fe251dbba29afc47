package inference

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// A model folder's generation_config.json is read without loading the model, and the keys it sets
// are recorded: "min_length": 0 is a setting, a missing min_length is none.
func TestReadGenerationConfigRecordsKeys(t *testing.T) {
	def := DefaultDecodeOptions()
	with := func(f func(*DecodeOptions)) DecodeOptions { o := def; f(&o); return o }
	tests := []struct {
		name string
		file string // "" writes no file
		want GenerationConfig
	}{
		{"no file", "", GenerationConfig{Options: def, Set: map[string]bool{}}},
		{"ids only", `{"bos_token_id": 30522, "eos_token_id": 2}`, GenerationConfig{Options: def, Set: map[string]bool{}}},
		{"min length 0", `{"min_length": 0}`, GenerationConfig{Options: def, Set: map[string]bool{GenMinLength: true}}},
		{"bundled", `{"min_length": 1, "eos_token_id": 3}`, GenerationConfig{
			Options: with(func(o *DecodeOptions) { o.MinLength = 1 }), Set: map[string]bool{GenMinLength: true}}},
		{"all", `{"max_length": 30, "min_length": 2, "num_beams": 4, "repetition_penalty": 1.2, "length_penalty": 0.8, "no_repeat_ngram_size": 3}`,
			GenerationConfig{
				Options: with(func(o *DecodeOptions) {
					o.MaxLength, o.MinLength, o.NumBeams, o.RepetitionPenalty, o.LengthPenalty, o.NoRepeatNgramSize = 30, 2, 4, 1.2, 0.8, 3
				}),
				Set: map[string]bool{GenMaxLength: true, GenMinLength: true, GenNumBeams: true, GenRepetitionPenalty: true, GenLengthPenalty: true, GenNoRepeatNgramSize: true},
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.file != "" {
				if err := os.WriteFile(filepath.Join(dir, "generation_config.json"), []byte(tc.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := ReadGenerationConfig(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ReadGenerationConfig:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "generation_config.json"), []byte(`{"min_length": "one"}`), 0o644)
	if _, err := ReadGenerationConfig(dir); err == nil {
		t.Error("a malformed generation_config.json reads without an error")
	}
}

// Apply puts the model's values over Captune's defaults, except where the user set one.
func TestGenerationConfigApply(t *testing.T) {
	g := GenerationConfig{Options: DefaultDecodeOptions(), Set: map[string]bool{GenMinLength: true, GenNumBeams: true}}
	g.Options.MinLength, g.Options.NumBeams, g.Options.MaxLength = 0, 2, 99 // max length not set: ignored
	builtin := DecodeOptions{MaxLength: 20, MinLength: 5, NumBeams: 3, RepetitionPenalty: 1, LengthPenalty: 1}
	got := g.Apply(builtin, func(key string) bool { return key == GenNumBeams })
	want := builtin
	want.MinLength = 0
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Apply:\n got %+v\nwant %+v", got, want)
	}
}

// A model saved from one that was loaded keeps the keys its generation_config.json set, so a model
// fine-tuned from the bundled one decodes as it does.
func TestSaveGenerationConfigKeepsSetKeys(t *testing.T) {
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "generation_config.json"), []byte(`{"min_length": 1, "max_length": 20}`), 0o644)
	g, err := ReadGenerationConfig(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if err := saveGenerationConfig(dst, Config{}, g); err != nil {
		t.Fatal(err)
	}
	got, err := ReadGenerationConfig(dst)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, g) {
		t.Errorf("after a save:\n got %+v\nwant %+v", got, g)
	}
}
