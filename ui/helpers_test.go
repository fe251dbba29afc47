package ui

import (
	"context"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/captune/captune/annotate"
	"github.com/captune/captune/finetune/runinfo"
)

var update = flag.Bool("update", false, "rewrite the golden markup files in testdata/")

func init() { SerializeForTestDriver() }

// tap and typeText click and type as the driver does, on the UI goroutine (see uiLock).
func tap(o fyne.Tappable) { onUIWait(func() { test.Tap(o) }) }

func typeText(o fyne.Focusable, text string) { onUIWait(func() { test.Type(o, text) }) }

// writePNG writes a small solid image whose colour depends on seed.
func writePNG(t *testing.T, path string, seed int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 48, 36))
	c := color.RGBA{uint8(40 * seed % 256), uint8(255 - 30*seed%256), uint8(90 + 20*seed%160), 255}
	for y := range 36 {
		for x := range 48 {
			img.Set(x, y, c)
			if (x/8+y/8)%2 == 0 {
				img.Set(x, y, color.RGBA{c.R / 2, c.G / 2, c.B / 2, 255})
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// makeDataset writes n images img00.png… into a temporary folder; captions[i], when set, is written
// as the sidecar caption of image i.
func makeDataset(t *testing.T, n int, captions map[int]string) string {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		name := fmt.Sprintf("img%02d", i)
		writePNG(t, filepath.Join(dir, name+".png"), i)
		if c, ok := captions[i]; ok {
			if err := os.WriteFile(filepath.Join(dir, name+".txt"), []byte(c+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// fakeCaptioner captions "a picture of NAME"; with block set, Caption waits for its context.
type fakeCaptioner struct {
	name    string
	block   bool
	started chan struct{} // closed at the first call when block is set
	once    sync.Once
	mu      sync.Mutex
	calls   int
	closed  bool
}

func (f *fakeCaptioner) Name() string { return f.name }

func (f *fakeCaptioner) Caption(ctx context.Context, paths []string, gen GenerationSettings, onProgress func(int)) ([]string, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	if f.block {
		f.once.Do(func() { close(f.started) })
		<-ctx.Done()
		return nil, ctx.Err()
	}
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = "a picture of " + strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		if onProgress != nil {
			onProgress(i + 1)
		}
	}
	return out, nil
}

func (f *fakeCaptioner) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return nil
}

func loaderOf(c Captioner) ModelLoader {
	return func(ctx context.Context, dir, device, precision string) (Captioner, error) { return c, nil }
}

// fakeTrainer reports steps training steps with a falling loss and one validation loss per epoch.
type fakeTrainer struct {
	steps, epochs int
}

func (f *fakeTrainer) Train(ctx context.Context, s TrainSettings, onProgress func(runinfo.Progress)) (runinfo.Result, error) {
	res := runinfo.Result{OutDir: s.OutDir}
	onProgress(runinfo.Progress{Phase: "load", Message: "loading " + s.BaseModel, ValLoss: math.NaN()})
	per := f.steps / f.epochs
	for step := 1; step <= f.steps; step++ {
		if ctx.Err() != nil {
			res.Stopped = true
			return res, nil
		}
		loss := 3/float64(step) + 0.5 + 0.1*math.Sin(float64(step))
		res.Losses = append(res.Losses, loss)
		res.Steps = step
		onProgress(runinfo.Progress{Phase: "train", Step: step, Total: f.steps, Epoch: (step-1)/per + 1, Loss: loss, LR: 2e-5, ValLoss: math.NaN()})
		if step%per == 0 {
			onProgress(runinfo.Progress{Phase: "eval", Step: step, Total: f.steps, Epoch: step / per, ValLoss: 0.9 + 1/float64(step)})
		}
	}
	onProgress(runinfo.Progress{Phase: "done", Step: f.steps, Total: f.steps, Message: "saved " + s.OutDir, ValLoss: math.NaN()})
	return res, nil
}

// fakeEvaluator returns a fixed comparison.
type fakeEvaluator struct{ cmp runinfo.Comparison }

func (f *fakeEvaluator) Compare(ctx context.Context, req CompareRequest, onProgress func(done, total int)) (runinfo.Comparison, error) {
	onProgress(2, 2)
	c := f.cmp
	c.BaseModel, c.Tuned = req.BaseModel, req.TunedModel
	return c, nil
}

// testDeps are dependencies with fakes and fixed paths, so that golden markup does not depend on
// the machine.
func testDeps(c Captioner) Deps {
	return Deps{LoadModel: loaderOf(c), DefaultModel: "/models/bundled", Devices: []string{"auto", "cpu"},
		DeviceInfo: "CPU only (test)", RunsDir: "/runs", Trainer: &fakeTrainer{steps: 40, epochs: 2}}
}

// openWindow builds the window on a new test app and shows the dataset in dir.
func openWindow(t *testing.T, deps Deps, dir string) (*MainWindow, *annotate.Dataset) {
	t.Helper()
	a := test.NewTempApp(t)
	m := NewMainWindow(a, deps)
	t.Cleanup(func() { settle(m); onUIWait(m.Close) })
	onUIWait(func() { m.Window.Resize(fyne.NewSize(1280, 800)) })
	if dir == "" {
		return m, nil
	}
	ds, report, err := annotate.Open(dir, annotate.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.Lock(); err != nil {
		t.Fatal(err)
	}
	onUIWait(func() { m.SetDataset(ds, report) })
	// The first image's preview and the visible thumbnails arrive from the loader's goroutines,
	// which under the test driver change widgets right there: let them land before the test acts.
	waitImages(m)
	settle(m) // and the throttled redraws the new dataset started
	return m, ds
}

// press triggers a shortcut as the desktop driver does: through the main menu item bound to it.
func press(t *testing.T, m *MainWindow, sc fyne.Shortcut) {
	t.Helper()
	onUIWait(shortcutAction(t, m, sc)) // as the driver runs it: not beside a worker's callback
}

// pressJob presses a shortcut that starts captioning and returns the job, taken on the UI goroutine
// in the same callback (a fast job may finish and clear m.captioning before the test reads it).
func pressJob(t *testing.T, m *MainWindow, sc fyne.Shortcut) *captionJob {
	t.Helper()
	action := shortcutAction(t, m, sc)
	var job *captionJob
	onUIWait(func() {
		action()
		job = m.captioning
	})
	return job
}

// shortcutAction finds the action of the main menu item bound to sc.
func shortcutAction(t *testing.T, m *MainWindow, sc fyne.Shortcut) func() {
	t.Helper()
	var find func(items []*fyne.MenuItem) func()
	find = func(items []*fyne.MenuItem) func() {
		for _, it := range items {
			if it.Shortcut != nil && it.Shortcut.ShortcutName() == sc.ShortcutName() && it.Action != nil {
				return it.Action
			}
			if it.ChildMenu != nil {
				if a := find(it.ChildMenu.Items); a != nil {
					return a
				}
			}
		}
		return nil
	}
	for _, menu := range m.Window.MainMenu().Items {
		if a := find(menu.Items); a != nil {
			return a
		}
	}
	t.Fatalf("no menu item has the shortcut %s", sc.ShortcutName())
	return nil
}

// waitFor polls cond for up to 5 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitTray waits for the drop tray's captioning jobs and the callbacks they queued.
func waitTray(m *MainWindow) {
	m.tray.jobs.Wait()
	onUIWait(func() {})
}

// waitImages waits for the thumbnails and previews being decoded and the callbacks they queued.
func waitImages(m *MainWindow) {
	m.images.wait()
	onUIWait(func() {})
}

// settle waits for the window's throttled redraws, which run on other goroutines under the test
// driver, so that the test reads widgets nobody is changing.
func settle(m *MainWindow) {
	for _, th := range []*throttle{m.stats, m.job.redraw, m.ft.redraw, m.ft.curve.redraw} {
		th.settle()
	}
	onUIWait(func() {}) // and the callbacks queued behind a busy UI (see uiLock)
}

// assertGolden compares the canvas with testdata/name, rewriting the file first with -update.
func assertGolden(t *testing.T, m *MainWindow, name string) {
	c := m.Window.Canvas()
	t.Helper()
	waitImages(m)
	settle(m)
	var markup string
	onUIWait(func() { // widgets a late worker callback could be changing: read them as the UI does
		relayout(c.Content())
		markup = test.RenderToMarkup(c)
	})
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", name), []byte(markup), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	onUIWait(func() { test.AssertRendersToMarkup(t, name, c) })
}

func captionTexts(it *annotate.Item) []string {
	var out []string
	for _, c := range it.Captions {
		out = append(out, c.Text)
	}
	return out
}

// tapDialogJob taps the dialog button that starts captioning and returns the job it started, taken
// on the UI goroutine in the same callback.
func tapDialogJob(t *testing.T, m *MainWindow, label string) *captionJob {
	t.Helper()
	b := dialogButton(t, m, label)
	var job *captionJob
	onUIWait(func() {
		test.Tap(b)
		job = m.captioning
	})
	return job
}

// startCaptioningJob starts captioning as a menu item does, on the UI goroutine, and returns the
// job it started (nil if none): a job that fails at once (no model) may finish, and clear
// m.captioning, before the test could read it afterwards.
func startCaptioningJob(m *MainWindow, scope captionScope) *captionJob {
	var job *captionJob
	onUIWait(func() {
		m.startCaptioning(scope)
		job = m.captioning
	})
	return job
}
