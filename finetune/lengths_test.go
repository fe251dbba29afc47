package finetune

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/captune/captune/finetune/synth"
	"github.com/captune/captune/inference"
	"github.com/captune/captune/inference/tokenizer"
)

func TestGenerationLengthsFromPercentiles(t *testing.T) {
	seq := func(from, to int) []int {
		var s []int
		for n := from; n <= to; n++ {
			s = append(s, n)
		}
		return s
	}
	tests := []struct {
		name            string
		sorted          []int
		limit           int
		wantMin         int
		wantMax         int
		wantP5, wantP99 int
	}{
		{"one caption", []int{7}, 40, 7, 8, 7, 7},
		{"hundred lengths 1..100", seq(1, 100), 200, 5, 100, 5, 99},
		{"forty lengths 4..43: p5 is the 2nd, p99 the last", seq(4, 43), 60, 5, 44, 5, 43},
		{"max capped at the training limit", seq(4, 43), 20, 5, 20, 5, 43},
		{"min at least 1", []int{0, 0, 0, 3}, 40, 1, 4, 0, 3},
		{"min kept below a capped max", []int{30, 30, 30}, 20, 19, 20, 30, 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotMin, gotMax := generationLengths(tt.sorted, tt.limit)
			got := []int{percentile(tt.sorted, minLengthPercentile), percentile(tt.sorted, maxLengthPercentile), gotMin, gotMax}
			want := []int{tt.wantP5, tt.wantP99, tt.wantMin, tt.wantMax}
			if !slices.Equal(got, want) {
				t.Errorf("p5, p99, min_length, max_length = %v, want %v", got, want)
			}
		})
	}
}

func TestCaptionLengthsCountsCutCaptions(t *testing.T) {
	// Lengths without the end token; the limit counts it: 9 fits 10, 10 does not.
	l := captionLengths([]int{3, 9, 10, 12, 5}, 10)
	want := CaptionLengths{Captions: 5, Shortest: 3, Longest: 12, Limit: 10, Cut: 2, MinLength: 3, MaxLength: 10, NeededText: 13}
	if l != want {
		t.Errorf("captionLengths = %+v, want %+v", l, want)
	}
	if got, want := l.Warning(), "warning: 2 of 5 captions are longer than 10 tokens and will be cut: raise --max-text-len to 13"; got != want {
		t.Errorf("Warning() = %q, want %q", got, want)
	}
	if got := captionLengths([]int{3, 9}, 10).Warning(); got != "" {
		t.Errorf("no caption cut, Warning() = %q, want none", got)
	}
}

// TestRunWarnsOfCutCaptionsAndSizesGeneration walks a run as the CLI and the window see it: some
// captions are longer than --max-text-len, the load messages say how many, and the saved model's
// generation_config.json holds the data's lengths.
func TestRunWarnsOfCutCaptionsAndSizesGeneration(t *testing.T) {
	data := Data{Train: synthData(t, 8, synth.VariantBase, 5)}
	for i := 0; i < 3; i++ {
		data.Train[i].Captions[0] += strings.Repeat(" and a red square", 6)
	}
	cfg := smallConfig(t)
	cfg.MaxTextLen = 16
	cfg.MaxSteps = 1
	cfg.CheckpointEvery = 0

	tok, err := tokenizer.Load(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	var lengths []int
	cut := 0
	for _, ex := range data.Train {
		n := len(tok.Encode(ex.Captions[0], 0)) // [CLS] caption [SEP]
		lengths = append(lengths, n-1)
		if n > cfg.MaxTextLen {
			cut++
		}
	}
	if cut != 3 {
		t.Fatalf("test data: %d captions longer than %d tokens, want 3 (lengths %v)", cut, cfg.MaxTextLen, lengths)
	}

	var messages []string
	res, err := Run(context.Background(), cfg, data, func(p Progress) {
		if p.Phase == "load" {
			messages = append(messages, p.Message)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("warning: 3 of 8 captions are longer than 16 tokens and will be cut: raise --max-text-len to %d", res.Lengths.NeededText)
	if !slices.Contains(messages, want) {
		t.Errorf("load messages %q lack %q", messages, want)
	}
	g, err := inference.ReadGenerationConfig(cfg.OutDir)
	if err != nil {
		t.Fatal(err)
	}
	wantMin, wantMax := captionLengths(lengths, cfg.MaxTextLen).MinLength, captionLengths(lengths, cfg.MaxTextLen).MaxLength
	got := fmt.Sprint(g.Has(inference.GenMinLength), g.Has(inference.GenMaxLength), g.Options.MinLength, g.Options.MaxLength)
	if want := fmt.Sprint(true, true, wantMin, wantMax); got != want {
		t.Errorf("generation_config.json has min, has max, min_length, max_length = %s, want %s", got, want)
	}
	if wantMax != cfg.MaxTextLen {
		t.Errorf("max_length %d: want it capped at the training limit %d", wantMax, cfg.MaxTextLen)
	}
	if s := res.Lengths.String(); !strings.Contains(s, fmt.Sprintf("min_length %d, max_length %d", wantMin, wantMax)) {
		t.Errorf("Lengths.String() = %q", s)
	}

	// A LoRA run's adapter folder carries the same lengths, and the adapter decodes with them.
	cfg.Method, cfg.OutDir = MethodLora, filepath.Join(t.TempDir(), "lora")
	if _, err := Run(context.Background(), cfg, data, nil); err != nil {
		t.Fatal(err)
	}
	c, _, err := inference.LoadCaptioner(cfg.OutDir, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Free()
	if c.Adapter == "" || c.Generation.Options.MinLength != wantMin || c.Generation.Options.MaxLength != wantMax {
		t.Errorf("LoRA run's adapter %q decodes with min_length %d, max_length %d, want %d and %d",
			c.Adapter, c.Generation.Options.MinLength, c.Generation.Options.MaxLength, wantMin, wantMax)
	}
}
