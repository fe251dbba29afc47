package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/captune/captune/finetune/runinfo"
)

// writeAdapter makes dir a LoRA adapter folder of rank r on base (adapter_config.json as peft
// writes it; the weights file is not read by the window).
func writeAdapter(t *testing.T, dir, base string, r int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := json.Marshal(map[string]any{"peft_type": "LORA", "base_model_name_or_path": base, "r": r, "lora_alpha": 16})
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{adapterConfigFile: cfg, "adapter_model.safetensors": []byte("weights")} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readAdapter is Deps.Adapter as the app's reads it: the rank and the base, which must exist
// unless it is the test's bundled model (a path no test creates).
func readAdapter(bundled string) func(dir string) (AdapterInfo, error) {
	return func(dir string) (AdapterInfo, error) {
		data, err := os.ReadFile(filepath.Join(dir, adapterConfigFile))
		if err != nil {
			return AdapterInfo{}, err
		}
		var c struct {
			Base string `json:"base_model_name_or_path"`
			R    int    `json:"r"`
		}
		if err := json.Unmarshal(data, &c); err != nil {
			return AdapterInfo{}, err
		}
		if c.Base != bundled && !isModelDir(c.Base) {
			return AdapterInfo{Rank: c.R}, fmt.Errorf("base %s of %s not found", c.Base, dir)
		}
		return AdapterInfo{Base: c.Base, Rank: c.R}, nil
	}
}

// writeModel makes dir a (fake) Hugging Face model folder whose config.json is dated at mod.
func writeModel(t *testing.T, dir string, mod time.Time) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "config.json")
	if err := os.WriteFile(p, []byte(`{"model_type": "blip"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mod, mod); err != nil {
		t.Fatal(err)
	}
}

// recordingLoader loads c whatever the folder, remembering the folders it was asked for.
type recordingLoader struct {
	c    Captioner
	mu   sync.Mutex
	dirs []string
}

func (l *recordingLoader) load(ctx context.Context, dir, device, precision string) (Captioner, error) {
	l.mu.Lock()
	l.dirs = append(l.dirs, dir)
	l.mu.Unlock()
	return l.c, nil
}

// The model menu lists each LoRA run's adapter under the model it was trained from (a base not
// listed otherwise joins the menu with it); an adapter whose base cannot be found comes last. Choosing
// an adapter loads the adapter folder; the Fine-tune tab's base menu offers whole models only and
// starts from the base of the chosen adapter.
func TestModelPickerListsAdaptersUnderTheirBase(t *testing.T) {
	runs := t.TempDir()
	other := filepath.Join(t.TempDir(), "other-blip")
	now := time.Now()
	writeModel(t, other, now.Add(-time.Hour))
	writeModel(t, filepath.Join(runs, "full-run"), now.Add(-3*time.Minute))
	deps := testDeps(&fakeCaptioner{name: "fake"})
	writeAdapter(t, filepath.Join(runs, "lora-a"), deps.DefaultModel, 16)
	writeAdapter(t, filepath.Join(runs, "lora-b"), other, 8)
	writeAdapter(t, filepath.Join(runs, "lora-lost"), "/nowhere/base", 4)
	for i, name := range []string{"lora-a", "lora-b", "lora-lost"} {
		mod := now.Add(-time.Duration(i+1) * time.Minute) // newest first: a, b, lost, then full-run
		if err := os.Chtimes(filepath.Join(runs, name, adapterConfigFile), mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	loader := &recordingLoader{c: &fakeCaptioner{name: "fake"}}
	deps.RunsDir, deps.LoadModel, deps.Adapter = runs, loader.load, readAdapter(deps.DefaultModel)
	m, _ := openWindow(t, deps, makeDataset(t, 2, nil))

	want := []string{labelBundled, "  ↳ lora-a (LoRA r16)", "run full-run", "other-blip", "  ↳ lora-b (LoRA r8)",
		"run lora-lost (LoRA r4)", labelChooseDir, labelGetModel}
	var got []string
	onUIWait(func() { got = slices.Clone(m.models.Select.Options) })
	if !slices.Equal(got, want) {
		t.Fatalf("model menu\n%q\nwant\n%q", got, want)
	}

	onUIWait(func() { m.models.Select.SetSelected("  ↳ lora-b (LoRA r8)") })
	if got := m.models.chosen(); got != filepath.Join(runs, "lora-b") {
		t.Errorf("chosen %q after picking the adapter, want its run folder", got)
	}
	job := startCaptioningJob(m, scopeCurrent)
	if job == nil {
		t.Fatalf("captioning did not start (status %q)", m.Status.Text)
	}
	<-job.done
	loader.mu.Lock()
	loaded := slices.Clone(loader.dirs)
	loader.mu.Unlock()
	if !slices.Equal(loaded, []string{filepath.Join(runs, "lora-b")}) {
		t.Errorf("loaded %q, want the adapter folder (the loader resolves its base)", loaded)
	}

	var bases []string
	var base string
	onUIWait(func() {
		m.ft.base.ClearSelected()
		m.ft.refreshModels()
		bases, base = slices.Clone(m.ft.base.Options), m.ft.baseDir()
	})
	for _, l := range bases {
		if strings.Contains(l, "LoRA") {
			t.Errorf("the Fine-tune base menu %q offers the adapter %q", bases, l)
		}
	}
	if base != other {
		t.Errorf("Fine-tune base %q with the adapter lora-b chosen, want its base %s", base, other)
	}
}

// A chosen adapter is remembered like a model folder: the next window opens with it.
func TestModelPickerRemembersAnAdapter(t *testing.T) {
	runs := t.TempDir()
	deps := testDeps(&fakeCaptioner{name: "fake"})
	adapter := filepath.Join(runs, "lora-a")
	writeAdapter(t, adapter, deps.DefaultModel, 16)
	deps.RunsDir, deps.Adapter = runs, readAdapter(deps.DefaultModel)
	m, _ := openWindow(t, deps, "")
	onUIWait(func() { m.models.choose(adapter) })
	again := NewMainWindow(m.App, deps)
	defer again.Close()
	if got := again.models.chosen(); got != adapter {
		t.Errorf("a new window chose %q, want the adapter %s chosen before", got, adapter)
	}
	if got := again.models.Select.Selected; got != "  ↳ lora-a (LoRA r16)" {
		t.Errorf("the menu shows %q, want the adapter's entry", got)
	}
}

// The Method menu offers Full and "LoRA (rank N)" with N the rank typed beside it; the settings
// carry the method and, with LoRA, the rank; a bad rank is refused only when LoRA trains.
func TestFineTuneMethodSettings(t *testing.T) {
	tests := []struct {
		name     string
		lora     bool
		rank     string
		label    string // the menu's selected entry
		method   string
		wantRank int
		bad      bool
	}{
		{"full is the default", false, "16", "Full", MethodFull, 0, false},
		{"lora rank 16", true, "16", "LoRA (rank 16)", MethodLora, 16, false},
		{"lora rank typed", true, "4", "LoRA (rank 4)", MethodLora, 4, false},
		{"lora bad rank", true, "x", "LoRA (rank 16)", MethodLora, 0, true},
		{"full ignores a bad rank", false, "0", "Full", MethodFull, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := openFineTune(t, &fakeTrainer{steps: 4, epochs: 1})
			ft := m.ft
			var s TrainSettings
			var err error
			onUIWait(func() {
				if tc.lora {
					ft.method.SetSelectedIndex(1)
				}
				ft.loraRank.SetText(tc.rank)
				s, _, err = ft.settings()
			})
			if ft.method.Selected != tc.label {
				t.Errorf("Method shows %q, want %q", ft.method.Selected, tc.label)
			}
			if ft.loraRank.Disabled() == tc.lora || ft.freeze.Disabled() != tc.lora {
				t.Errorf("rank disabled %v, vision encoder disabled %v with LoRA %v: want the rank with LoRA, the encoder choice with Full",
					ft.loraRank.Disabled(), ft.freeze.Disabled(), tc.lora)
			}
			if (err != nil) != tc.bad || (tc.bad && !strings.Contains(err.Error(), "LoRA rank")) {
				t.Fatalf("settings error %v, want one naming the LoRA rank: %v", err, tc.bad)
			}
			if !tc.bad && (s.Method != tc.method || s.LoraRank != tc.wantRank) {
				t.Errorf("settings method %q rank %d, want %q %d", s.Method, s.LoraRank, tc.method, tc.wantRank)
			}
		})
	}
}

// The Method menu is reached from the batch size with Tab, as the form reads, and with LoRA
// chosen the rank next (with Full it is disabled and skipped).
func TestFineTuneMethodKeyboard(t *testing.T) {
	m := openFineTune(t, &fakeTrainer{steps: 4, epochs: 1})
	c := m.Window.Canvas()
	var order []fyne.Focusable
	onUIWait(func() {
		m.ft.method.SetSelectedIndex(1)
		c.Focus(m.ft.batch)
		for range 2 {
			c.FocusNext()
			order = append(order, c.Focused())
		}
	})
	if order[0] != m.ft.method || order[1] != m.ft.loraRank {
		t.Errorf("Tab from the batch size focuses %T then %T, want the Method menu then the LoRA rank", order[0], order[1])
	}
}

// loraTrainer is the fake trainer that, for a LoRA run, leaves an adapter folder as finetune does
// and reports its size; it records the settings it trained with and estimates both methods.
type loraTrainer struct {
	fakeTrainer
	mu  sync.Mutex
	got TrainSettings
}

const fakeAdapterBytes = 1_234_567

func (l *loraTrainer) Train(ctx context.Context, s TrainSettings, onProgress func(runinfo.Progress)) (runinfo.Result, error) {
	l.mu.Lock()
	l.got = s
	l.mu.Unlock()
	res, err := l.fakeTrainer.Train(ctx, s, onProgress)
	if err != nil || res.Stopped {
		return res, err
	}
	res.Method = s.Method
	if err := os.MkdirAll(s.OutDir, 0o755); err != nil {
		return res, err
	}
	if s.Method != MethodLora {
		return res, os.WriteFile(filepath.Join(s.OutDir, "config.json"), []byte("{}"), 0o644)
	}
	cfg, err := json.Marshal(map[string]any{"peft_type": "LORA", "base_model_name_or_path": s.BaseModel, "r": s.LoraRank})
	if err == nil {
		err = os.WriteFile(filepath.Join(s.OutDir, adapterConfigFile), cfg, 0o644)
	}
	res.AdapterBytes = fakeAdapterBytes
	return res, err
}

func (l *loraTrainer) Estimate(ctx context.Context, s TrainSettings, onProgress func(runinfo.Progress)) (runinfo.Estimate, error) {
	e := runinfo.Estimate{Steps: l.steps, StepTime: time.Second, Total: time.Minute, Calibrated: 3, Method: s.Method,
		LoraMemory: 700_000_000, FullMemory: 2_100_000_000, Available: 8_000_000_000}
	e.Memory = e.FullMemory
	if s.Method == MethodLora {
		e.Memory = e.LoraMemory
	}
	return e, ctx.Err()
}

// A user picks LoRA rank 8 and starts: the estimate gives the memory of both methods, the run
// trains LoRA, its line ends with the adapter's size, the comparison runs on the run folder (an
// adapter folder) and Compare stays one click away; the model menu lists the adapter under the
// base it was trained from. A Full run says where its model is and offers LoRA's memory instead.
func TestFineTuneLoraRun(t *testing.T) {
	tests := []struct {
		name, method string
		estimate     string // in the estimate line
		saved        string // in the finished line
		entry        string // the run's model menu entry, %s its folder name
	}{
		{"lora", MethodLora, "memory ≈ 700.0 MB with LoRA (full fine-tuning ≈ 2.1 GB) of 8.0 GB free",
			"· adapter 1.2 MB in ", "  ↳ %s (LoRA r8)"},
		{"full", MethodFull, "memory ≈ 2.1 GB with full fine-tuning (LoRA ≈ 700.0 MB) of 8.0 GB free",
			"· model in ", "run %s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := &loraTrainer{fakeTrainer: fakeTrainer{steps: 8, epochs: 2}}
			deps := testDeps(&fakeCaptioner{name: "fake"})
			ev := &fakeEvaluator{}
			deps.RunsDir, deps.Trainer, deps.Evaluator, deps.Adapter = t.TempDir(), tr, ev, readAdapter(deps.DefaultModel)
			captions := map[int]string{}
			for i := range 24 {
				captions[i] = fmt.Sprintf("caption %d", i)
			}
			m, _ := openWindow(t, deps, makeDataset(t, 24, captions))
			onUIWait(func() { m.Tabs.SelectIndex(1) })
			ft := m.ft
			onUIWait(func() {
				if tc.method == MethodLora {
					ft.method.SetSelectedIndex(1)
				}
				ft.loraRank.SetText("8")
			})
			tap(ft.startBtn)
			waitFor(t, "the run and its comparison to end", func() bool {
				return uiRead(func() bool { return !ft.running && !m.cmp.running && m.cmp.cmp != nil })
			})
			tr.mu.Lock()
			got := tr.got
			tr.mu.Unlock()
			wantRank := map[string]int{MethodLora: 8, MethodFull: 0}[tc.method]
			if got.Method != tc.method || got.LoraRank != wantRank {
				t.Errorf("trained with method %q rank %d, want %q %d", got.Method, got.LoraRank, tc.method, wantRank)
			}
			line, estimate := uiRead(func() string { return ft.line.Text }), uiRead(func() string { return ft.estimate.Text })
			if !strings.Contains(estimate, tc.estimate) {
				t.Errorf("estimate %q, want %q in it", estimate, tc.estimate)
			}
			if !strings.Contains(line, tc.saved+got.OutDir) {
				t.Errorf("finished line %q, want %q", line, tc.saved+got.OutDir)
			}
			if uiRead(func() bool { return ft.compareBtn.Disabled() }) {
				t.Error("Compare before/after is disabled after the run")
			}
			if tuned := uiRead(func() string { return m.cmp.cmp.Tuned }); tuned != got.OutDir {
				t.Errorf("compared %q, want the run folder %s", tuned, got.OutDir)
			}
			capture(t, m, "finetune-"+tc.name)
			options := uiRead(func() []string { return slices.Clone(m.models.Select.Options) })
			entry := fmt.Sprintf(tc.entry, filepath.Base(got.OutDir))
			if i := slices.Index(options, entry); i < 0 || (tc.method == MethodLora && options[i-1] != labelBundled) {
				t.Errorf("model menu %q: want %q (a LoRA run right under its base)", options, entry)
			}
		})
	}
}

// TestFineTuneLoraLearningRate: choosing LoRA raises a learning rate the user did not type to
// runinfo.LoraLRFactor times Full's, and back with Full; a typed one stays as typed.
func TestFineTuneLoraLearningRate(t *testing.T) {
	tests := []struct {
		name  string
		typed string // "" = not typed
		lora  string // the field with LoRA chosen
		full  string // after switching back to Full
	}{
		{"not typed", "", "0.0002", "2e-05"},
		{"typed", "5e-05", "5e-05", "5e-05"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := openFineTune(t, &fakeTrainer{steps: 4, epochs: 1})
			ft := m.ft
			var lora, full string
			onUIWait(func() {
				if tc.typed != "" {
					ft.lr.SetText(tc.typed) // OnChanged outside a fill: typed
				}
				ft.method.SetSelectedIndex(1)
				lora = ft.lr.Text
				ft.method.SetSelectedIndex(0)
				full = ft.lr.Text
			})
			if lora != tc.lora || full != tc.full {
				t.Errorf("learning rate with LoRA %q, then Full %q; want %q and %q", lora, full, tc.lora, tc.full)
			}
		})
	}
}

// The Models dialog lists a LoRA run as an adapter of its rank on its base, beside full runs.
func TestModelsDialogSaysLora(t *testing.T) {
	runs := t.TempDir()
	deps := testDeps(&fakeCaptioner{name: "fake"})
	writeAdapter(t, filepath.Join(runs, "lora-a"), deps.DefaultModel, 8)
	writeModel(t, filepath.Join(runs, "full-a"), time.Now())
	deps.RunsDir, deps.Adapter = runs, readAdapter(deps.DefaultModel)
	m, _ := openWindow(t, deps, "")
	runMenu(t, m, "Models…")
	var texts []string
	onUIWait(func() {
		for _, o := range test.LaidOutObjects(m.models.dialog.list) {
			if l, ok := o.(*widget.Label); ok {
				texts = append(texts, l.Text)
			}
		}
	})
	all := strings.Join(texts, "\n")
	for _, want := range []string{"run lora-a", "LoRA r8 adapter on bundled model · ", "run full-a"} {
		if !strings.Contains(all, want) {
			t.Errorf("the Models dialog does not say %q:\n%s", want, all)
		}
	}
	if n := strings.Count(all, " adapter on "); n != 1 {
		t.Errorf("%d runs are listed as adapters, want only lora-a:\n%s", n, all)
	}
}
