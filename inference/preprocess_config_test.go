package inference

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadPreprocessor reads the preprocessor_config.json forms Hugging Face writes and refuses
// the ones Captune cannot follow, as a user loading a model folder meets them.
func TestLoadPreprocessor(t *testing.T) {
	def := DefaultPreprocessor(384)
	tests := []struct {
		name    string
		json    string // "" leaves the file out
		want    func(p *Preprocessor)
		wantErr string
	}{
		{name: "no file", want: func(*Preprocessor) {}},
		{name: "empty", json: `{}`, want: func(*Preprocessor) {}},
		{name: "size number", json: `{"size": 224}`, want: func(p *Preprocessor) { p.Width, p.Height = 224, 224 }},
		{name: "size height width", json: `{"size": {"height": 240, "width": 320}}`, want: func(p *Preprocessor) { p.Width, p.Height = 320, 240 }},
		{name: "size shortest edge", json: `{"size": {"shortest_edge": 256}}`, want: func(p *Preprocessor) { p.Width, p.Height = 256, 256 }},
		{name: "flags and factor", json: `{"do_resize": false, "do_normalize": false, "rescale_factor": 0.5, "resample": 2}`,
			want: func(p *Preprocessor) { p.DoResize, p.DoNormalize, p.RescaleFactor, p.Resample = false, false, 0.5, 2 }},
		{name: "mean and std", json: `{"image_mean": [0.5, 0.5, 0.5], "image_std": [0.25, 0.25, 0.25]}`,
			want: func(p *Preprocessor) { p.Mean, p.Std = [3]float64{0.5, 0.5, 0.5}, [3]float64{0.25, 0.25, 0.25} }},
		{name: "bad size", json: `{"size": "big"}`, wantErr: `size "big": want a number or {"height", "width"}`},
		{name: "zero size", json: `{"size": 0}`, wantErr: `size 0: want a number`},
		{name: "unknown resample", json: `{"resample": 9}`, wantErr: "resample 9 not supported"},
		{name: "short mean", json: `{"image_mean": [0.5]}`, wantErr: "image_mean has 1 values, want 3"},
		{name: "zero std", json: `{"image_std": [0.5, 0, 0.5]}`, wantErr: "image_std has a zero"},
		{name: "not json", json: `{`, wantErr: "load "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.json != "" {
				if err := os.WriteFile(filepath.Join(dir, "preprocessor_config.json"), []byte(tt.json), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := LoadPreprocessor(dir, 384)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "load ") {
					t.Fatalf("LoadPreprocessor error = %v, want one starting with \"load \" and containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadPreprocessor: %v", err)
			}
			want := def
			tt.want(&want)
			if got != want {
				t.Errorf("LoadPreprocessor = %+v, want %+v", got, want)
			}
		})
	}
}
