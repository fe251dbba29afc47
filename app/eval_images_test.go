package app

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
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
// ones annotate holds out, and say which they are; and as both run the one before/after
// workflow (evaluateBeforeAfter), they give the same captions and scores, and both write a report.
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
	runDir := filepath.Join(root, "run")
	if err := os.Mkdir(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	gui, err := engineEvaluator{eng}.Compare(context.Background(), ui.CompareRequest{Dataset: ds, BaseModel: model, TunedModel: model,
		RunDir: runDir, Generation: gen, Device: "cpu", Captions: annotate.TrainTrusted, Holdout: annotate.HoldoutAuto}, func(int, int) {})
	if err != nil {
		t.Fatal(err)
	}
	var guiImages []string
	for _, r := range gui.Images {
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
	if gui.ReportPath != filepath.Join(runDir, "compare.html") {
		t.Errorf("the Compare tab's report is %q, want compare.html in the run folder", gui.ReportPath)
	}
	if _, err := os.Stat(filepath.Join(runDir, "compare.json")); err != nil {
		t.Errorf("the Compare tab wrote no compare.json: %v", err)
	}
	if !reflect.DeepEqual(gui.Images, cli.Images) || !reflect.DeepEqual(gui.Before, cli.Before) || !reflect.DeepEqual(gui.After, cli.After) {
		t.Errorf("the Compare tab and captune eval disagree:\ntab  %+v\n     before %v after %v\neval %+v\n     before %v after %v",
			gui.Images, gui.Before, gui.After, cli.Images, cli.Before, cli.After)
	}
	if gui.Decoding != cli.Decoding || gui.BaseModel != cli.BaseModel || gui.Tuned != cli.Tuned {
		t.Errorf("the Compare tab says %q, %s → %s; captune eval %q, %s → %s", gui.Decoding, gui.BaseModel, gui.Tuned, cli.Decoding, cli.BaseModel, cli.Tuned)
	}
}

func TestEvalCommandUsage(t *testing.T) {
	data := writeDataset(t)
	tests := []struct {
		name string
		args []string
		want string // part of the message
	}{
		{"nothing", nil, "--data and one of --model, --adapter or --predictions are required"},
		{"predictions and a model", []string{"--data", data, "--predictions", "p.jsonl", "--adapter", "a"}, "give it without --model and --adapter"},
		{"report without base", []string{"--data", data, "--model", "m", "--report", "r.html"}, "--report needs --base"},
		{"unknown captions", []string{"--data", data, "--model", "m", "--captions", "some"}, "want trusted, approved or all"},
		{"unknown holdout", []string{"--data", data, "--model", "m", "--holdout", "half"}, "want auto, tenth or none"},
		{"unknown split", []string{"--data", data, "--model", "m", "--split", "dev2"}, "want train, val, test or all"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"eval"}, tc.args...), &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr.String(), tc.want)
			}
		})
	}
}

// TestEvalCommandScoresPredictions scores a predictions file without a model: every image of the
// asked split that has a trusted reference caption (b.png's only caption was rejected), and the
// JSON says which images and how many.
func TestEvalCommandScoresPredictions(t *testing.T) {
	data := writeDataset(t)
	preds := filepath.Join(t.TempDir(), "preds.jsonl")
	lines := `{"file_name": "a.jpg", "text": "a red sneaker on a white floor"}
{"file_name": "b.png", "text": "a shoe on a table"}
{"file_name": "sub/c.webp", "text": "a dog"}
`
	if err := os.WriteFile(preds, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"eval", "--data", data, "--predictions", preds, "--split", "all", "--json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var got struct {
		Split  string  `json:"split"`
		Images int     `json:"images"`
		CIDEr  float64 `json:"cider_d"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	if got.Split != "all" || got.Images != 2 || got.CIDEr <= 0 {
		t.Errorf("scored %+v, want split all, 2 images and a CIDEr-D", got)
	}
}
