package app

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"github.com/captune/captune/annotate"
	"github.com/captune/captune/finetune"
	"github.com/captune/captune/finetune/synth"
	"github.com/captune/captune/inference"
	"github.com/captune/captune/internal/hub"
	"github.com/captune/captune/ui"
)

// formItem returns what the form item labelled label under root shows.
func formItem(t *testing.T, root fyne.CanvasObject, label string) fyne.CanvasObject {
	t.Helper()
	var found fyne.CanvasObject
	walk(root, func(o fyne.CanvasObject) {
		if f, ok := o.(*widget.Form); ok {
			for _, it := range f.Items {
				if it.Text == label && found == nil {
					found = it.Widget
				}
			}
		}
	})
	if found == nil {
		t.Fatalf("no form item %q", label)
	}
	return found
}

// first returns the first object of type T under root.
func first[T fyne.CanvasObject](t *testing.T, root fyne.CanvasObject) T {
	t.Helper()
	var found T
	ok := false
	walk(root, func(o fyne.CanvasObject) {
		if w, is := o.(T); is && !ok {
			found, ok = w, true
		}
	})
	if !ok {
		t.Fatalf("no %T under %T", found, root)
	}
	return found
}

// TestGUILoraRun walks a LoRA run as the user does, with the real engine, trainer and evaluator on
// the test model: choose LoRA rank 4 on the Fine-tune tab, Start; the run ends with the adapter's
// size shown, the before/after comparison written and Compare enabled; the model menu lists the
// adapter under its base, and choosing it captions with the adapter.
func TestGUILoraRun(t *testing.T) {
	model := tinyModel(t)
	root := t.TempDir()
	data := filepath.Join(root, "shapes")
	const n = 30
	if err := synth.WriteDataset(context.Background(), data, synth.Config{Variant: synth.VariantBase, Seed: 5, Size: 64}, n, synth.FormatSidecar, nil); err != nil {
		t.Fatal(err)
	}
	for i := n - 2; i < n; i++ { // left for the adapter to caption
		name := synth.FileName(i, n)
		if err := os.Remove(filepath.Join(data, strings.TrimSuffix(name, filepath.Ext(name))+".txt")); err != nil {
			t.Fatal(err)
		}
	}
	deps := realDeps(t, model, root)
	m, ds := openGUI(t, deps, data)

	ui.RunOnUI(func() { m.Tabs.SelectIndex(1) })
	ft := m.Tabs.Items[1].Content
	epochsEntry, lrEntry := formEntry(t, ft, "Epochs"), formEntry(t, ft, "Learning rate")
	method := formItem(t, ft, "Method")
	methodMenu, rankEntry := first[*widget.Select](t, method), first[*widget.Entry](t, method)
	var got string
	ui.RunOnUI(func() {
		epochsEntry.SetText("2")
		lrEntry.SetText("0.001")
		methodMenu.SetSelectedIndex(1)
		rankEntry.SetText("4")
		got = methodMenu.Selected
	})
	if got != "LoRA (rank 4)" {
		t.Fatalf("Method shows %q after choosing LoRA rank 4", got)
	}
	tapUI(findButton(t, ft, "Start"))
	waitIdle(t, m)
	if top := m.Window.Canvas().Overlays().Top(); top != nil {
		var texts []string
		walk(top, func(o fyne.CanvasObject) {
			if l, ok := o.(*widget.Label); ok {
				texts = append(texts, l.Text)
			}
		})
		t.Fatalf("a dialog is open: %q", texts)
	}

	var runs []string
	ents, _ := os.ReadDir(deps.RunsDir)
	for _, e := range ents {
		if inference.IsAdapterDir(filepath.Join(deps.RunsDir, e.Name())) {
			runs = append(runs, filepath.Join(deps.RunsDir, e.Name()))
		}
	}
	if len(runs) != 1 {
		t.Fatalf("adapter runs %v in %s, want one (status %q)", runs, deps.RunsDir, m.Status.Text)
	}
	run := runs[0]
	if cfg, err := inference.ReadLoraConfig(run); err != nil || cfg.R != 4 {
		t.Errorf("the run's adapter_config.json: rank %d (%v), want 4", cfg.R, err)
	}
	st, err := os.Stat(filepath.Join(run, inference.AdapterWeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	// What the user sees at the end: finished, the adapter's size, Compare enabled and done.
	if findLabel(ft, "Finished") == nil {
		t.Errorf("the Fine-tune tab does not say Finished (status %q)", m.Status.Text)
	}
	size := "adapter " + hub.FormatBytes(st.Size())
	sized := false
	estimate := ""
	walk(ft, func(o fyne.CanvasObject) {
		if l, ok := o.(*widget.Label); ok && l.Visible() {
			if strings.Contains(l.Text, size) {
				sized = true
				t.Logf("finished: %s", l.Text)
			}
			if strings.HasPrefix(l.Text, "Estimated before the start") {
				estimate = l.Text
			}
		}
	})
	if !sized {
		t.Errorf("the Fine-tune tab does not show %q", size)
	}
	t.Logf("%s", estimate)
	if !strings.Contains(estimate, "LoRA") || !strings.Contains(estimate, "full") {
		t.Errorf("estimate %q: want the memory of LoRA and of full fine-tuning", estimate)
	}
	if b := findButton(t, ft, "Compare before/after"); b.Disabled() {
		t.Error("Compare before/after is disabled after the LoRA run")
	}
	if _, err := os.Stat(filepath.Join(run, "compare.html")); err != nil {
		t.Errorf("no comparison report after the LoRA run: %v (status %q)", err, m.Status.Text)
	}

	// The model menu lists the adapter right under its base, the bundled (test) model.
	picker := modelMenu(t, m)
	entry := "  ↳ " + filepath.Base(run) + " (LoRA r4)"
	i := slices.Index(picker.Options, entry)
	if i < 1 || picker.Options[i-1] != "bundled model" {
		t.Fatalf("model menu %q: want %q right after the bundled model", picker.Options, entry)
	}
	ui.RunOnUI(func() { picker.SetSelected(entry) })
	ui.RunOnUI(func() { m.Tabs.SelectIndex(0) })
	menu(t, m, "Next Uncaptioned")
	menu(t, m, "Caption This Image")
	waitIdle(t, m)
	want := annotate.ModelOrigin(filepath.Base(run))
	captioned := false
	for _, it := range ds.Items() {
		for _, c := range it.Captions {
			captioned = captioned || c.Origin == want
		}
	}
	if !captioned {
		t.Errorf("no caption by %s after choosing the adapter (status %q)", want, m.Status.Text)
	}
}

// modelMenu is the window's "model:" menu (the one that offers "Choose a model folder…").
func modelMenu(t *testing.T, m *ui.MainWindow) *widget.Select {
	t.Helper()
	var found *widget.Select
	walk(m.Window.Content(), func(o fyne.CanvasObject) {
		if s, ok := o.(*widget.Select); ok && slices.Contains(s.Options, "Choose a model folder…") {
			found = s
		}
	})
	if found == nil {
		t.Fatal("no model menu")
	}
	return found
}

// The window's Method and rank reach finetune.Config; alpha, dropout and targets keep finetune's
// defaults, and a Full run keeps the default method.
func TestTrainConfigMethod(t *testing.T) {
	def := finetune.DefaultConfig()
	tests := []struct {
		name   string
		in     ui.TrainSettings
		method string
		rank   int
	}{
		{"full", ui.TrainSettings{Method: ui.MethodFull}, finetune.MethodFull, def.LoraRank},
		{"unset is full", ui.TrainSettings{}, finetune.MethodFull, def.LoraRank},
		{"lora rank 8", ui.TrainSettings{Method: ui.MethodLora, LoraRank: 8}, finetune.MethodLora, 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.BaseModel = t.TempDir()
			cfg := trainConfig(tc.in)
			if cfg.Method != tc.method || cfg.LoraRank != tc.rank {
				t.Errorf("method %q rank %d, want %q %d", cfg.Method, cfg.LoraRank, tc.method, tc.rank)
			}
			if cfg.LoraAlpha != finetune.LoraAlphaFor(tc.rank) || cfg.LoraDropout != def.LoraDropout || !slices.Equal(cfg.LoraTargets, def.LoraTargets) {
				t.Errorf("alpha %v dropout %v targets %v, want alpha = rank and finetune's defaults", cfg.LoraAlpha, cfg.LoraDropout, cfg.LoraTargets)
			}
		})
	}
}
