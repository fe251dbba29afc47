package app

import (
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/captune/captune/annotate"
	"github.com/captune/captune/finetune/runinfo"
	"github.com/captune/captune/finetune/synth"
	"github.com/captune/captune/inference"
	"github.com/captune/captune/ui"
)

// tinyModel is the random-weight test model (captions are gibberish but real), or
// $CAPTUNE_GUI_MODEL; tests that need it skip without it.
func tinyModel(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CAPTUNE_GUI_MODEL")
	if dir == "" {
		dir = filepath.Join("..", "inference", "testdata", "models", "tiny-a")
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		t.Skipf("no test model in %s (set CAPTUNE_GUI_MODEL to a BLIP folder): %v", dir, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func TestCaptionOptionsFromGeneration(t *testing.T) {
	sampling := ui.DefaultGeneration()
	sampling.Sample, sampling.TopP, sampling.Temperature, sampling.Prompt = true, 0.8, 0.7, "a picture of"
	tests := []struct {
		name string
		in   ui.GenerationSettings
		want inference.DecodeOptions
	}{
		{"BLIP paper's beam search", ui.DefaultGeneration(), func() inference.DecodeOptions {
			o := inference.DefaultDecodeOptions()
			o.NumBeams, o.MinLength, o.MaxLength, o.RepetitionPenalty = 3, 5, 20, 1
			return o
		}()},
		{"nucleus sampling", sampling, func() inference.DecodeOptions {
			o := inference.DefaultDecodeOptions()
			o.NumBeams, o.MinLength, o.MaxLength, o.RepetitionPenalty = 1, 5, 20, 1
			o.DoSample, o.TopP, o.Temperature = true, 0.8, 0.7
			return o
		}()},
	}
	for _, tt := range tests {
		got := captionOptions(tt.in)
		if !reflect.DeepEqual(got.Decode, tt.want) {
			t.Errorf("%s: decode options %+v, want %+v", tt.name, got.Decode, tt.want)
		}
		if got.Prompt != tt.in.Prompt || !got.StripPrompt {
			t.Errorf("%s: prompt %q strip %v, want %q stripped", tt.name, got.Prompt, got.StripPrompt, tt.in.Prompt)
		}
	}
}

func TestDecodeForDisplay(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	img.Set(2, 1, color.NRGBA{10, 200, 30, 255})
	p := filepath.Join(t.TempDir(), "x.png")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, err := decodeForDisplay(p)
	if err != nil {
		t.Fatal(err)
	}
	if b := got.Bounds(); b.Dx() != 3 || b.Dy() != 2 {
		t.Fatalf("size %v, want 3×2", b)
	}
	if c := color.RGBAModel.Convert(got.At(2, 1)).(color.RGBA); c != (color.RGBA{10, 200, 30, 255}) {
		t.Errorf("pixel (2,1) = %v, want {10 200 30 255}", c)
	}
	if _, err := decodeForDisplay(filepath.Join(t.TempDir(), "missing.png")); err == nil {
		t.Error("a missing file decoded without error")
	}
}

func TestEngineCaptionerReportsUnreadableImages(t *testing.T) {
	model := tinyModel(t)
	dir := t.TempDir()
	if err := synth.WriteDataset(context.Background(), dir, synth.Config{Variant: synth.VariantBase, Seed: 1, Size: 64}, 2, synth.FormatSidecar, nil); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "broken.png")
	if err := os.WriteFile(broken, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	eng := inference.NewEngine()
	defer eng.Close()
	c, err := loadEngineCaptioner(context.Background(), eng, model, "cpu", "fp32")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	paths := []string{filepath.Join(dir, synth.FileName(0, 2)), broken, filepath.Join(dir, synth.FileName(1, 2))}
	var progress []int
	caps, err := c.Caption(context.Background(), paths, ui.DefaultGeneration(), func(d int) { progress = append(progress, d) })
	var ie *ui.ImageError
	if !errors.As(err, &ie) || !reflect.DeepEqual(ie.Paths, []string{broken}) {
		t.Fatalf("error %v, want an ImageError naming %s", err, broken)
	}
	if len(caps) != 3 || caps[0] == "" || caps[1] != "" || caps[2] == "" {
		t.Errorf("captions %q, want two captions around an empty one", caps)
	}
	if len(progress) == 0 || progress[len(progress)-1] != 2 {
		t.Errorf("progress %v, want it to end at the 2 readable images", progress)
	}
	if c.Name() == "" {
		t.Error("the captioner has no name for caption origins")
	}
}

// The window's worker callbacks take turns as on the desktop driver's UI goroutine; the tests act
// on widgets in turn with them through ui.RunOnUI (tapUI, menu, walk).
func init() { ui.SerializeForTestDriver() }

// tapUI taps o as the driver does, in turn with the window's callbacks.
func tapUI(o fyne.Tappable) { ui.RunOnUI(func() { test.Tap(o) }) }

// walk visits o and everything its containers and widgets show, in turn with the window's callbacks.
func walk(o fyne.CanvasObject, visit func(fyne.CanvasObject)) {
	ui.RunOnUI(func() { walkTree(o, visit) })
}

func walkTree(o fyne.CanvasObject, visit func(fyne.CanvasObject)) {
	visit(o)
	switch c := o.(type) {
	case *fyne.Container:
		for _, ch := range c.Objects {
			walkTree(ch, visit)
		}
	case fyne.Widget:
		for _, ch := range test.WidgetRenderer(c).Objects() {
			walkTree(ch, visit)
		}
	}
}

func findButton(t *testing.T, root fyne.CanvasObject, text string) *widget.Button {
	t.Helper()
	var found *widget.Button
	walk(root, func(o fyne.CanvasObject) {
		if b, ok := o.(*widget.Button); ok && b.Text == text && found == nil {
			found = b
		}
	})
	if found == nil {
		t.Fatalf("no button %q", text)
	}
	return found
}

func findLabel(root fyne.CanvasObject, text string) *widget.Label {
	var found *widget.Label
	walk(root, func(o fyne.CanvasObject) {
		if l, ok := o.(*widget.Label); ok && l.Text == text && found == nil {
			found = l
		}
	})
	return found
}

// offersModel reports whether a menu (widget.Select) under root lists an option naming model.
func offersModel(root fyne.CanvasObject, model string) bool {
	found := false
	walk(root, func(o fyne.CanvasObject) {
		if s, ok := o.(*widget.Select); ok {
			for _, opt := range s.Options {
				found = found || strings.Contains(opt, model)
			}
		}
	})
	return found
}

// formEntry returns the text field of the form item labelled label under root.
func formEntry(t *testing.T, root fyne.CanvasObject, label string) *widget.Entry {
	t.Helper()
	var found *widget.Entry
	walk(root, func(o fyne.CanvasObject) {
		if f, ok := o.(*widget.Form); ok {
			for _, it := range f.Items {
				if e, ok := it.Widget.(*widget.Entry); ok && it.Text == label && found == nil {
					found = e
				}
			}
		}
	})
	if found == nil {
		t.Fatalf("no field labelled %q", label)
	}
	return found
}

// realDeps are the window's dependencies as the app wires them, on a new engine, with model as the
// default model and the runs and thumbnails under root.
func realDeps(t *testing.T, model, root string) ui.Deps {
	eng := inference.NewEngine()
	t.Cleanup(eng.Close)
	deps := guiDeps(eng)
	deps.DefaultModel, deps.DefaultModelErr = model, nil
	deps.RunsDir = filepath.Join(root, "runs")
	deps.ThumbCacheDir = filepath.Join(root, "thumbs")
	deps.Devices = []string{"cpu"}
	return deps
}

// openGUI builds the window on a new test app, 1280×800, and shows the dataset in data, as
// opening a folder does.
func openGUI(t *testing.T, deps ui.Deps, data string) (*ui.MainWindow, *annotate.Dataset) {
	t.Helper()
	m := ui.NewMainWindow(test.NewTempApp(t), deps)
	t.Cleanup(func() { ui.RunOnUI(m.Close) })
	m.Window.Resize(fyne.NewSize(1280, 800))
	ds, report, err := annotate.Open(data, annotate.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.Lock(); err != nil {
		t.Fatal(err)
	}
	ui.RunOnUI(func() { m.SetDataset(ds, report) })
	return m, ds
}

// menu runs the main menu item with the given label.
func menu(t *testing.T, m *ui.MainWindow, label string) {
	t.Helper()
	for _, mn := range m.Window.MainMenu().Items {
		for _, it := range mn.Items {
			if it.Label == label && it.Action != nil {
				ui.RunOnUI(it.Action)
				return
			}
		}
	}
	t.Fatalf("no menu item %q", label)
}

// waitIdle waits until the window has no background work (up to two minutes).
func waitIdle(t *testing.T, m *ui.MainWindow) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for idle := 0; ; {
		var busy bool
		ui.RunOnUI(func() { busy = m.Busy() })
		// The test driver runs fyne.Do callbacks on the goroutine that calls it, so a job's last
		// steps may still be running: wait until the window has been idle for a while.
		if idle++; busy {
			idle = 0
		}
		if idle == 5 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the window stayed busy for two minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pause holds a background job at one point until the test has taken its screenshot.
type pause struct {
	once    sync.Once
	reached chan struct{}
	resume  chan struct{}
}

func newPause() *pause { return &pause{reached: make(chan struct{}), resume: make(chan struct{})} }

func (p *pause) hold() {
	p.once.Do(func() {
		close(p.reached)
		<-p.resume
	})
}

// pausingCaptioner holds the job at its second chunk when p is set.
type pausingCaptioner struct {
	ui.Captioner
	p     *pause
	calls int
}

func (c *pausingCaptioner) Caption(ctx context.Context, paths []string, gen ui.GenerationSettings, onProgress func(int)) ([]string, error) {
	c.calls++
	if c.p != nil && c.calls == 2 {
		c.p.hold()
	}
	return c.Captioner.Caption(ctx, paths, gen, onProgress)
}

// pausingTrainer holds training two thirds of the way when p is set.
type pausingTrainer struct {
	ui.Trainer
	p *pause
}

func (tr pausingTrainer) Train(ctx context.Context, s ui.TrainSettings, onProgress func(runinfo.Progress)) (runinfo.Result, error) {
	return tr.Trainer.Train(ctx, s, func(p runinfo.Progress) {
		onProgress(p)
		if tr.p != nil && p.Phase == runinfo.PhaseTrain && p.Step == p.Total*2/3 {
			time.Sleep(300 * time.Millisecond) // let the throttled curve catch up
			tr.p.hold()
		}
	})
}

// Estimate measures the run with the real trainer, as the window does before it starts.
func (tr pausingTrainer) Estimate(ctx context.Context, s ui.TrainSettings, onProgress func(runinfo.Progress)) (runinfo.Estimate, error) {
	return tr.Trainer.(ui.Estimator).Estimate(ctx, s, onProgress)
}

// shoot writes the window as dir/name.png when dir is set.
func shoot(t *testing.T, m *ui.MainWindow, dir, name string) {
	t.Helper()
	if dir == "" {
		return
	}
	img := m.Capture()
	f, err := os.Create(filepath.Join(dir, name+".png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", f.Name())
}

// TestGUIEndToEnd drives the window, under Fyne's test driver, with the real engine, captioner,
// trainer and evaluator on the test model: open a dataset, caption one image, fine-tune, compare,
// adopt the fine-tuned model, caption the rest, caption dropped files, close, and find the captions
// on disk. With CAPTUNE_SCREENSHOTS=DIR it trains longer and writes the documentation screenshots.
func TestGUIEndToEnd(t *testing.T) {
	model := tinyModel(t)
	shots := os.Getenv("CAPTUNE_SCREENSHOTS")
	root := t.TempDir()
	data := filepath.Join(root, "shapes")
	n, epochs, lr := 40, "2", "0.001"
	cfg := synth.Config{Variant: synth.VariantBase, Seed: 3, Size: 96}
	if shots != "" {
		// The bundled demo: teach a model the textures it never saw (run with
		// CAPTUNE_GUI_MODEL=assets/model).
		n, epochs, lr = 120, "20", "0.0003"
		cfg = synth.Config{Variant: synth.VariantTextures, Seed: 3, Size: 64}
	}
	if err := synth.WriteDataset(context.Background(), data, cfg, n, synth.FormatSidecar, nil); err != nil {
		t.Fatal(err)
	}
	uncaptioned := map[string]bool{}
	for i := n * 3 / 4; i < n; i++ {
		name := synth.FileName(i, n)
		uncaptioned[name] = true
		if err := os.Remove(filepath.Join(data, strings.TrimSuffix(name, filepath.Ext(name))+".txt")); err != nil {
			t.Fatal(err)
		}
	}

	deps := realDeps(t, model, root)
	var capPause, trainPause *pause
	if shots != "" {
		capPause, trainPause = newPause(), newPause()
	}
	load := deps.LoadModel
	var pauseModel string // captioners of this model pause at their second chunk
	deps.LoadModel = func(ctx context.Context, dir, device, precision string) (ui.Captioner, error) {
		c, err := load(ctx, dir, device, precision)
		if err != nil {
			return nil, err
		}
		pc := &pausingCaptioner{Captioner: c}
		if c.Name() == pauseModel {
			pc.p = capPause
		}
		return pc, nil
	}
	deps.Trainer = pausingTrainer{Trainer: deps.Trainer, p: trainPause}
	m, ds := openGUI(t, deps, data)
	ui.RunOnUI(func() {
		for i := 0; i < 6; i++ {
			ds.SetState(i, 0, annotate.StateApproved)
		}
	})

	// Caption one image with the base model.
	menu(t, m, "Next Uncaptioned")
	menu(t, m, "Caption This Image")
	waitIdle(t, m)
	first := -1
	for i, it := range ds.Items() {
		if uncaptioned[it.Path] && it.HasCaption() {
			first = i
		}
	}
	if first < 0 {
		t.Fatalf("no image was captioned; status %q", m.Status.Text)
	}
	origin := ds.Item(first).Captions[0].Origin
	if !origin.IsModel() {
		t.Errorf("caption origin %s, want a model's", origin)
	}

	// Fine-tune, which compares the models when it ends.
	ui.RunOnUI(func() { m.Tabs.SelectIndex(1) })
	ft := m.Tabs.Items[1].Content
	epochsEntry, lrEntry := formEntry(t, ft, "Epochs"), formEntry(t, ft, "Learning rate")
	ui.RunOnUI(func() {
		epochsEntry.SetText(epochs)
		lrEntry.SetText(lr)
	})
	tapUI(findButton(t, ft, "Start"))
	if trainPause != nil {
		select {
		case <-trainPause.reached:
			shoot(t, m, shots, "finetune")
			close(trainPause.resume)
		case <-time.After(3 * time.Minute):
			t.Fatal("training did not reach the screenshot step")
		}
	}
	waitIdle(t, m)
	runs := findRunDirs(t, deps.RunsDir)
	if len(runs) != 1 {
		t.Fatalf("runs %v, want one fine-tuned model", runs)
	}
	if _, err := os.Stat(filepath.Join(runs[0], "compare.html")); err != nil {
		t.Errorf("no comparison report after the run: %v (status %q)", err, m.Status.Text)
	}
	// Before it started, the run was measured and the estimate shown.
	estimated := false
	walk(ft, func(o fyne.CanvasObject) {
		if l, ok := o.(*widget.Label); ok && l.Visible() && strings.HasPrefix(l.Text, "Estimated before the start") {
			estimated = true
		}
	})
	if !estimated {
		t.Error("the Fine-tune tab shows no estimate of the run")
	}
	// Each epoch's validation captions were plotted, and the last epoch's examples stay listed.
	var plot *ui.CaptionPlot
	examples := false
	walk(ft, func(o fyne.CanvasObject) {
		if p, ok := o.(*ui.CaptionPlot); ok {
			plot = p
		}
		if l, ok := o.(*widget.Label); ok && l.Visible() && strings.HasPrefix(l.Text, "Epoch "+epochs+" validation captions:") {
			examples = true
		}
	})
	if plot == nil {
		t.Error("the Fine-tune tab has no caption plot")
	} else if c, i := plot.Points(); strconv.Itoa(c) != epochs || strconv.Itoa(i) != epochs {
		t.Errorf("caption plot has %d CIDEr-D and %d identical-share points, want %s each", c, i, epochs)
	}
	if !examples {
		t.Errorf("the Fine-tune tab lists no example captions of epoch %s", epochs)
	}
	// What the user sees at the end of the run: finished, Compare enabled, the run offered as a model.
	if findLabel(ft, "Finished") == nil {
		t.Errorf("the Fine-tune tab does not say Finished (status %q)", m.Status.Text)
	}
	if b := findButton(t, ft, "Compare before/after"); b.Disabled() {
		t.Error("Compare before/after is disabled after a finished run")
	}
	if !offersModel(m.Window.Content(), filepath.Base(runs[0])) {
		t.Errorf("the model picker does not offer the fine-tuned run %s", filepath.Base(runs[0]))
	}
	ui.RunOnUI(func() { m.Tabs.SelectIndex(2) })
	shoot(t, m, shots, "compare")
	// The Compare header says which epoch of the run the tuned model is (the best by validation CIDEr-D).
	header := ""
	walk(m.Tabs.Items[2].Content, func(o fyne.CanvasObject) {
		if l, ok := o.(*widget.Label); ok && strings.Contains(l.Text, " → ") {
			header = l.Text
		}
	})
	if want := " of " + epochs + ", best validation CIDEr-D "; !strings.Contains(header, filepath.Base(runs[0])+" (epoch ") || !strings.Contains(header, want) {
		t.Errorf("the Compare header %q does not say which epoch the tuned model is", header)
	}
	tapUI(findButton(t, m.Tabs.Items[2].Content, "Use fine-tuned model"))

	// Caption the rest with the fine-tuned model.
	ui.RunOnUI(func() { m.Tabs.SelectIndex(0) })
	for range 6 {
		menu(t, m, "Next Image") // the grid then shows images the job is about to caption
	}
	pauseModel = filepath.Base(runs[0])
	menu(t, m, "Caption All Uncaptioned")
	if capPause != nil {
		select {
		case <-capPause.reached:
			shoot(t, m, shots, "autocaption")
			close(capPause.resume)
		case <-time.After(time.Minute):
			t.Fatal("captioning did not reach the screenshot point")
		}
	}
	waitIdle(t, m)
	tuned := annotate.ModelOrigin(filepath.Base(runs[0]))
	for _, it := range ds.Items() {
		if uncaptioned[it.Path] && !it.HasCaption() {
			t.Errorf("%s has no caption after Caption All Uncaptioned", it.Path)
		}
	}

	// Drop two images from outside the dataset.
	outside := filepath.Join(root, "outside")
	if err := synth.WriteDataset(context.Background(), outside, synth.Config{Variant: cfg.Variant, Seed: 99, Size: cfg.Size}, 2, synth.FormatSidecar, nil); err != nil {
		t.Fatal(err)
	}
	var uris []fyne.URI
	for i := range 2 {
		uris = append(uris, storage.NewFileURI(filepath.Join(outside, synth.FileName(i, 2))))
	}
	ui.RunOnUI(func() { m.Drop(uris) })
	waitIdle(t, m)
	shoot(t, m, shots, "tray")

	// Close and read the captions back from disk.
	ui.RunOnUI(m.Close)
	back, _, err := annotate.Open(data, annotate.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	models := 0
	for _, it := range back.Items() {
		if uncaptioned[it.Path] {
			if !it.HasCaption() {
				t.Errorf("%s: caption not saved", it.Path)
				continue
			}
			if it.Captions[0].Origin == tuned || it.Captions[0].Origin == origin {
				models++
			}
		}
	}
	if models != len(uncaptioned) {
		t.Errorf("%d of %d auto-captioned images have a model origin on disk", models, len(uncaptioned))
	}
}

func findRunDirs(t *testing.T, root string) []string {
	t.Helper()
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatalf("no runs folder: %v", err)
	}
	var out []string
	for _, e := range ents {
		if _, err := os.Stat(filepath.Join(root, e.Name(), "config.json")); err == nil {
			out = append(out, filepath.Join(root, e.Name()))
		}
	}
	return out
}
