package app

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/captune/captune/annotate"
	"github.com/captune/captune/finetune"
	"github.com/captune/captune/finetune/synth"
	"github.com/captune/captune/inference"
	"github.com/captune/captune/ui"
)

// TestCompareTabAndEvalCommandScoreTheSameImages evaluates one dataset without splits twice, as a
// user would: through the window's Compare (the evaluator behind it, with the Fine-tune tab's
// default choices) and with `captune eval --base --report`. Both must score the same images, the
// ones annotate holds out, and say which they are.
func TestCompareTabAndEvalCommandScoreTheSameImages(t *testing.T) {
	model := tinyModel(t)
	root := t.TempDir()
	data := filepath.Join(root, "shapes")
	if err := synth.WriteDataset(context.Background(), data, synth.Config{Variant: synth.VariantBase, Seed: 5, Size: 64}, 30, synth.FormatSidecar, nil); err != nil {
		t.Fatal(err)
	}
	ds, _, err := annotate.Open(data, annotate.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	want := ds.EvalSet(annotate.TrainTrusted, annotate.HoldoutAuto)
	if want.Source != annotate.EvalHoldout || len(want.Images) == 0 {
		t.Fatalf("the dataset's evaluation images: %s (%s), want some held-out images", want.How, want.Source)
	}

	eng := inference.NewEngine()
	defer eng.Close()
	gen := ui.DefaultGeneration()
	gen.Beams, gen.MinLength, gen.MaxLength = 1, 1, 8
	gui, err := engineEvaluator{eng}.Compare(context.Background(), ui.CompareRequest{Dataset: ds, BaseModel: model, TunedModel: model,
		Generation: gen, Device: "cpu", Captions: annotate.TrainTrusted, Holdout: annotate.HoldoutAuto}, func(int, int) {})
	if err != nil {
		t.Fatal(err)
	}
	var guiImages []string
	for _, r := range gui.Rows {
		guiImages = append(guiImages, r.Image)
	}

	report := filepath.Join(root, "report.html")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"eval", "--data", data, "--model", model, "--base", model, "--device", "cpu",
		"--beams", "1", "--min-length", "1", "--max-length", "8", "--report", report}, &stdout, &stderr); code != 0 {
		t.Fatalf("captune eval: exit %d\n%s", code, stderr.String())
	}
	raw, err := os.ReadFile(filepath.Join(root, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cli finetune.Comparison
	if err := json.Unmarshal(raw, &cli); err != nil {
		t.Fatal(err)
	}
	var cliImages []string
	for _, r := range cli.Images {
		cliImages = append(cliImages, r.Image)
	}

	var wantImages []string
	for _, im := range want.Images {
		wantImages = append(wantImages, im.Path)
	}
	for name, got := range map[string][]string{"Compare tab": guiImages, "captune eval": cliImages} {
		sort.Strings(got)
		sort.Strings(wantImages)
		if !reflect.DeepEqual(got, wantImages) {
			t.Errorf("%s scored %v, want the held-out %v", name, got, wantImages)
		}
	}
	if gui.Split != want.How || cli.Split != want.How {
		t.Errorf("the Compare tab says %q and captune eval %q, want both %q", gui.Split, cli.Split, want.How)
	}
}
