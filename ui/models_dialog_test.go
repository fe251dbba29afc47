package ui

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/captune/captune/annotate"
	"github.com/captune/captune/internal/hub"
	"github.com/captune/captune/internal/hub/hubtest"
)

const baseRepo = "Salesforce/blip-image-captioning-base"

// serveModel serves a small BLIP-shaped model as repo on srv, its weights through the CDN, and
// returns the weights.
func serveModel(srv *hubtest.Server, repo string, size int) []byte {
	weights, _ := serveRepo(srv, repo, size)
	return weights
}

func serveRepo(srv *hubtest.Server, repo string, size int) ([]byte, *hubtest.Repo) {
	weights := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	r := srv.AddRepo(repo, map[string][]byte{
		"config.json":              []byte(`{"model_type": "blip"}`),
		"preprocessor_config.json": []byte(`{"image_size": 384}`),
		"tokenizer.json":           []byte(`{"model": {}}`),
		"model.safetensors":        weights,
	}, "model.safetensors")
	return weights, r
}

// testStore is the real store on cache, talking to endpoint, with a disk that has free bytes.
func testStore(endpoint, cache string, offline bool, free int64) *hub.Store {
	s := hub.NewStore(hub.Settings{Endpoint: endpoint, CacheDir: cache, Offline: offline})
	s.Client.RetryWait = 10 * time.Millisecond
	s.Client.FreeSpace = func(string) (int64, bool) { return free, true }
	return s
}

// runMenu runs the main menu item called label, as a click on it does.
func runMenu(t *testing.T, m *MainWindow, label string) {
	t.Helper()
	for _, menu := range m.Window.MainMenu().Items {
		for _, it := range menu.Items {
			if it.Label == label && it.Action != nil {
				it.Action()
				return
			}
		}
	}
	t.Fatalf("no menu item %q", label)
}

// status reads the status bar.
func status(m *MainWindow) string {
	var s string
	onUIWait(func() { s = m.Status.Text })
	return s
}

// waitStatus waits until the status bar starts with prefix.
func waitStatus(t *testing.T, m *MainWindow, prefix string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.HasPrefix(status(m), prefix) {
		if time.Now().After(deadline) {
			t.Fatalf("status %q, want it to start with %q", status(m), prefix)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// openModels opens Model › Models… and returns the dialog's row of repo.
func openModels(t *testing.T, m *MainWindow, repo string) *hubRow {
	t.Helper()
	runMenu(t, m, "Models…")
	if m.models.dialog == nil {
		t.Fatal("Model › Models… opened no dialog")
	}
	r := m.models.dialog.rows[repo]
	if r == nil {
		t.Fatalf("the Models dialog has no row for %s", repo)
	}
	return r
}

func TestModelsDialogDownloadThenUse(t *testing.T) {
	srv := hubtest.NewServer(t)
	serveModel(srv, baseRepo, 64<<10)
	deps := testDeps(&fakeCaptioner{name: "fake"})
	deps.Models = testStore(srv.URL, t.TempDir(), false, 1<<40)
	m, _ := openWindow(t, deps, "")

	r := openModels(t, m, baseRepo)
	if !strings.Contains(r.state.Text, "Not downloaded") || !r.download.Visible() || r.use.Visible() {
		t.Fatalf("before: state %q, Download shown %t, Use shown %t; want not downloaded, Download, no Use", r.state.Text, r.download.Visible(), r.use.Visible())
	}
	tap(r.download)
	waitStatus(t, m, "Downloaded "+baseRepo)

	r = m.models.dialog.rows[baseRepo]
	if !strings.Contains(r.state.Text, "Downloaded: ") || !r.use.Visible() || r.use.Disabled() || r.download.Visible() {
		t.Fatalf("after: state %q, Use shown %t; want downloaded and Use", r.state.Text, r.use.Visible())
	}
	if !slices.Contains(m.models.Select.Options, "blip-image-captioning-base") {
		t.Errorf("model menu %q lacks the downloaded model", m.models.Select.Options)
	}
	tap(r.use)
	if got := m.models.Select.Selected; got != "blip-image-captioning-base" {
		t.Errorf("model menu shows %q after Use, want blip-image-captioning-base", got)
	}
	if err := hub.CheckModel(m.models.chosen()); err != nil {
		t.Errorf("the chosen model is not the downloaded one: %v", err)
	}
	if r := m.models.dialog.rows[baseRepo]; r.use.Text != "In use" || !r.use.Disabled() {
		t.Errorf("Use reads %q (disabled %t), want a disabled In use", r.use.Text, r.use.Disabled())
	}
}

func TestModelsDialogCancelThenResumeAfterRestart(t *testing.T) {
	srv := hubtest.NewServer(t)
	weights := serveModel(srv, baseRepo, 256<<10)
	const stall = 100 << 10
	srv.StallAt(weights, stall)
	cache := t.TempDir()
	deps := testDeps(&fakeCaptioner{name: "fake"})
	slow := testStore(srv.URL, cache, false, 1<<40)
	slow.Client.HTTP = &http.Client{Transport: slowTransport{http.DefaultTransport}}
	deps.Models = slow
	m, _ := openWindow(t, deps, "")

	r := openModels(t, m, baseRepo)
	tap(r.download)
	r = m.models.dialog.rows[baseRepo] // Download rebuilt the rows; the stalled transfer changes them no more
	part := filepath.Join(cache, "models--Salesforce--blip-image-captioning-base", "blobs", hubtest.SHA256(weights)+".incomplete")
	waitFor(t, "the transfer to stall", func() bool {
		st, err := os.Stat(part)
		return err == nil && st.Size() == stall
	})
	waitFor(t, "the progress bar to show the bytes received", func() bool {
		var v float64
		onUIWait(func() { v = r.bar.Value })
		return v >= 0.2 // the bar moves at most every 100 ms: the last update may lag behind the disk
	})
	onUIWait(func() {
		if !r.bar.Visible() || !r.cancel.Visible() || r.download.Visible() || !strings.HasPrefix(r.state.Text, "Downloading file ") ||
			!strings.Contains(r.progress.Text, " of 262.2 kB · ") {
			t.Errorf("mid-download: bar %t, Cancel %t, Download %t, state %q; want a bar, Cancel, no Download, Downloading file…",
				r.bar.Visible(), r.cancel.Visible(), r.download.Visible(), r.state.Text)
		}
	})
	captureModels(t, m)
	tap(r.cancel)
	waitStatus(t, m, "Cancelled the download")
	r = m.models.dialog.rows[baseRepo]
	if want := "Cancelled: " + hub.FormatBytes(stall); !strings.HasPrefix(r.state.Text, want) || r.download.Text != "Resume download" {
		t.Fatalf("after Cancel: state %q, button %q; want %q… and Resume download", r.state.Text, r.download.Text, want)
	}

	// Restart: a new window and a new store on the same cache.
	onUIWait(m.Close)
	srv.Log()
	deps.Models = testStore(srv.URL, cache, false, 1<<40)
	m2 := NewMainWindow(m.App, deps)
	t.Cleanup(func() { settle(m2); onUIWait(m2.Close) })
	r = openModels(t, m2, baseRepo)
	if !strings.Contains(r.state.Text, "Partly downloaded") || r.download.Text != "Resume download" {
		t.Fatalf("after restart: state %q, button %q; want partly downloaded, Resume download", r.state.Text, r.download.Text)
	}
	tap(r.download)
	waitStatus(t, m2, "Downloaded "+baseRepo)
	resumed := fmt.Sprintf("range=%q", fmt.Sprintf("bytes=%d-", stall))
	if log := strings.Join(srv.Log(), "\n"); !strings.Contains(log, resumed) {
		t.Errorf("the hub saw no resumed transfer (%s):\n%s", resumed, log)
	}
	if !slices.Contains(m2.models.Select.Options, "blip-image-captioning-base") {
		t.Errorf("model menu %q lacks the resumed model", m2.models.Select.Options)
	}
}

// slowTransport slows response bodies to about 400 kB/s, so that a download lasts long enough for
// its progress to be seen (the hub reports at most every 100 ms).
type slowTransport struct{ rt http.RoundTripper }

func (s slowTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.rt.RoundTrip(req)
	if err == nil {
		resp.Body = slowBody{resp.Body}
	}
	return resp, err
}

type slowBody struct{ io.ReadCloser }

func (b slowBody) Read(p []byte) (int, error) {
	time.Sleep(10 * time.Millisecond)
	return b.ReadCloser.Read(p[:min(len(p), 4<<10)])
}

// captureModels writes the window with the Models dialog to docs/models.png when
// CAPTUNE_UI_SHOTS names a folder (see capture).
func captureModels(t *testing.T, m *MainWindow) {
	t.Helper()
	var img image.Image
	onUIWait(func() {
		m.Window.Resize(fyne.NewSize(1280, 800))
		img = m.Capture()
	})
	if dir := os.Getenv("CAPTUNE_UI_SHOTS"); dir != "" {
		f, err := os.Create(filepath.Join(dir, "models.png"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
	}
}

func TestModelsDialogFailures(t *testing.T) {
	tests := []struct {
		name     string
		private  bool
		offline  bool
		free     int64
		endpoint string // "" for the fake hub
		want     []string
		wantSent bool // whether the hub saw requests
	}{
		{name: "401 names HF_TOKEN", private: true, free: 1 << 40,
			want: []string{"HF_TOKEN", "Set HF_TOKEN to an access token"}, wantSent: true},
		{name: "offline says how to copy a folder in", offline: true, free: 1 << 40,
			want: []string{"HF_HUB_OFFLINE", "copy a model folder in", "config.json", labelChooseDir}},
		{name: "no network says how to copy a folder in", free: 1 << 40, endpoint: "http://127.0.0.1:1",
			want: []string{"refused the connection", "copy a model folder in", labelChooseDir}},
		{name: "not enough space", free: 5_000_000,
			want: []string{"needs 990.0 MB, 5.0 MB free on ", "Free some disk space"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := hubtest.NewServer(t)
			_, repo := serveRepo(srv, baseRepo, 4<<10)
			repo.Private = tc.private
			endpoint := srv.URL
			if tc.endpoint != "" {
				endpoint = tc.endpoint
			}
			deps := testDeps(&fakeCaptioner{name: "fake"})
			deps.Models = testStore(endpoint, t.TempDir(), tc.offline, tc.free)
			m, _ := openWindow(t, deps, "")
			r := openModels(t, m, baseRepo)
			tap(r.download)
			waitStatus(t, m, "Could not download "+baseRepo)
			msg := m.lastErr.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q:\n%s", w, msg)
				}
			}
			if r := m.models.dialog.rows[baseRepo]; !strings.HasPrefix(r.state.Text, "Failed: ") || !r.download.Visible() {
				t.Errorf("row after the failure: state %q, Download shown %t; want Failed: … and Download", r.state.Text, r.download.Visible())
			}
			if sent := len(srv.Log()) > 0; sent != tc.wantSent {
				t.Errorf("hub requests made: %t, want %t", sent, tc.wantSent)
			}
		})
	}
}

func TestModelsDialogFooterSaysOffline(t *testing.T) {
	deps := testDeps(&fakeCaptioner{name: "fake"})
	deps.Models = testStore("http://127.0.0.1:9", t.TempDir(), true, 1<<40)
	m, _ := openWindow(t, deps, "")
	openModels(t, m, baseRepo)
	if got := m.models.dialog.footer.Text; !strings.Contains(got, "Offline mode (HF_HUB_OFFLINE is set)") || !strings.Contains(got, labelChooseDir) {
		t.Errorf("footer %q, want it to say offline mode and how to copy a folder in", got)
	}
}

func TestModelsDialogDelete(t *testing.T) {
	srv := hubtest.NewServer(t)
	serveModel(srv, baseRepo, 4<<10)
	cache := t.TempDir()
	store := testStore(srv.URL, cache, false, 1<<40)
	if _, err := store.Download(t.Context(), baseRepo, nil); err != nil {
		t.Fatal(err)
	}
	deps := testDeps(&fakeCaptioner{name: "fake"})
	deps.Models = store
	m, _ := openWindow(t, deps, "")
	onUIWait(func() { m.models.Select.SetSelected("blip-image-captioning-base") })
	r := openModels(t, m, baseRepo)
	if !r.del.Visible() {
		t.Fatal("no Delete button on a downloaded model")
	}
	tap(r.del)
	tapDialogButton(t, m, "Yes")
	if _, err := os.Stat(filepath.Join(cache, "models--Salesforce--blip-image-captioning-base")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the repo is still in the cache: %v", err)
	}
	if got := m.models.chosen(); got != deps.DefaultModel {
		t.Errorf("chosen model %q after deleting it, want the bundled %q", got, deps.DefaultModel)
	}
	if r := m.models.dialog.rows[baseRepo]; !strings.Contains(r.state.Text, "Not downloaded") {
		t.Errorf("row state %q after Delete, want not downloaded", r.state.Text)
	}
}

// tapDialogButton taps the button labelled label in the topmost overlay (a dialog).
func tapDialogButton(t *testing.T, m *MainWindow, label string) {
	t.Helper()
	tap(dialogButton(t, m, label))
}

// dialogButton finds the button labelled label in the topmost dialog.
func dialogButton(t *testing.T, m *MainWindow, label string) *widget.Button {
	t.Helper()
	top := m.Window.Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("no dialog is open")
	}
	var found *widget.Button
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		switch w := o.(type) {
		case *widget.Button:
			if w.Text == label {
				found = w
			}
		case *fyne.Container:
			for _, c := range w.Objects {
				walk(c)
			}
		case fyne.Widget:
			r := test.WidgetRenderer(w)
			for _, c := range r.Objects() {
				walk(c)
			}
		}
	}
	walk(top)
	if found == nil {
		t.Fatalf("the dialog has no %q button", label)
	}
	return found
}

// writeBigPNG writes a w×h image, larger than the demo model's 64 px synthetic shapes.
func writeBigPNG(t *testing.T, path string, w, h int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	img.Set(0, 0, color.White)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDemoModelBanner(t *testing.T) {
	tests := []struct {
		name       string
		size       int // side of the folder's images
		otherModel bool
		want       bool
	}{
		{"photos with the demo model", 320, false, true},
		{"64 px synthetic shapes with the demo model", 64, false, false},
		{"photos with another model", 320, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for i := range 3 {
				writeBigPNG(t, filepath.Join(dir, fmt.Sprintf("p%d.png", i)), tc.size, tc.size)
			}
			deps := testDeps(&fakeCaptioner{name: "fake"})
			m, _ := openWindow(t, deps, "")
			if tc.otherModel {
				other := t.TempDir()
				os.WriteFile(filepath.Join(other, "config.json"), []byte("{}"), 0o644)
				onUIWait(func() { m.models.choose(other) })
			}
			openAndWait(t, m, dir)
			b := m.models.banner
			if b.shown != tc.want {
				t.Fatalf("banner shown %t, want %t", b.shown, tc.want)
			}
			if !tc.want {
				return
			}
			if !strings.Contains(b.text.Text, "0.9 M-parameter demo model trained on synthetic shapes; it will not caption your photos well") {
				t.Errorf("banner says %q", b.text.Text)
			}
			if !isDescendant(m.Tabs.Items[0].Content, b.content) {
				t.Error("the banner is not in the Annotate tab")
			}
			capture(t, m, "banner")
			tap(b.get)
			if m.models.dialog == nil {
				t.Fatal("Get a real model… opened no Models dialog")
			}
			onUIWait(func() { m.models.dialog.d.Hide() })
			tap(b.close)
			if b.shown || isDescendant(m.Tabs.Items[0].Content, b.content) {
				t.Error("the banner stays after its close button")
			}
		})
	}
}

// openAndWait shows the folder dir as File › Open Folder does once it has read and locked it.
func openAndWait(t *testing.T, m *MainWindow, dir string) {
	t.Helper()
	ds, report, err := annotate.Open(dir, annotate.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.Lock(); err != nil {
		t.Fatal(err)
	}
	onUIWait(func() { m.SetDataset(ds, report) })
	waitImages(m)
	settle(m)
}

func isDescendant(root, o fyne.CanvasObject) bool {
	if root == o {
		return true
	}
	if c, ok := root.(*fyne.Container); ok {
		for _, ch := range c.Objects {
			if isDescendant(ch, o) {
				return true
			}
		}
	}
	return false
}

func TestFreeModelMemory(t *testing.T) {
	tests := []struct {
		name       string
		busy       bool
		wantStatus string
		wantClosed bool
	}{
		{"idle model is freed", false, "Freed the memory of fake", true},
		{"model in use is kept", true, "Not freed: fake is in use by a running job", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := makeDataset(t, 2, nil)
			fc := &fakeCaptioner{name: "fake", block: tc.busy, started: make(chan struct{})}
			m, _ := openWindow(t, testDeps(fc), dir)
			waitImages(m)
			settle(m)
			runMenu(t, m, "Free Model Memory")
			if got := status(m); got != "No model is loaded: nothing to free." {
				t.Errorf("before any job: status %q", got)
			}
			job := pressJob(t, m, ctrl(fyne.KeyG))
			if tc.busy {
				<-fc.started
			} else {
				<-job.done
				waitFor(t, "the job to end", func() bool {
					var done bool
					onUIWait(func() { done = m.captioning == nil })
					return done
				})
			}
			runMenu(t, m, "Free Model Memory")
			if got := status(m); !strings.HasPrefix(got, tc.wantStatus) {
				t.Errorf("status %q, want %q…", got, tc.wantStatus)
			}
			fc.mu.Lock()
			closed := fc.closed
			fc.mu.Unlock()
			if closed != tc.wantClosed {
				t.Errorf("model closed %t, want %t", closed, tc.wantClosed)
			}
			if tc.busy {
				tap(m.job.cancel)
				<-job.done
			}
		})
	}
}

func TestModelsDialogListsTheCache(t *testing.T) {
	srv := hubtest.NewServer(t)
	serveModel(srv, "someone/blip-tuned", 4<<10)
	srv.AddRepo("someone/bert", map[string][]byte{
		"config.json":              []byte(`{"model_type": "bert"}`),
		"preprocessor_config.json": []byte(`{}`),
		"vocab.txt":                []byte("[PAD]\n"),
		"model.safetensors":        []byte("weights"),
	})
	store := testStore(srv.URL, t.TempDir(), false, 1<<40)
	for _, repo := range []string{"someone/blip-tuned", "someone/bert"} {
		if _, err := store.Download(t.Context(), repo, nil); err != nil {
			t.Fatal(err)
		}
	}
	deps := testDeps(&fakeCaptioner{name: "fake"})
	deps.Models = store
	m, _ := openWindow(t, deps, "")

	// The model menu offers the BLIP model and the way to more, not the BERT model.
	opts := m.models.Select.Options
	if !slices.Contains(opts, "blip-tuned") || slices.Contains(opts, "bert") || !slices.Contains(opts, labelGetModel) {
		t.Errorf("model menu %q: want blip-tuned and %q, not bert", opts, labelGetModel)
	}
	onUIWait(func() { m.models.Select.SetSelected(labelGetModel) })
	if m.models.dialog == nil {
		t.Fatalf("%s opened no dialog", labelGetModel)
	}
	if got := m.models.Select.Selected; got != labelBundled {
		t.Errorf("model menu shows %q after %s, want the model chosen before (%s)", got, labelGetModel, labelBundled)
	}
	blip, bert := m.models.dialog.rows["someone/blip-tuned"], m.models.dialog.rows["someone/bert"]
	if blip == nil || bert == nil {
		t.Fatal("the dialog does not list both cached repos")
	}
	if !blip.use.Visible() || !strings.HasPrefix(blip.state.Text, "Downloaded: ") {
		t.Errorf("BLIP repo: Use shown %t, state %q; want Use and downloaded", blip.use.Visible(), blip.state.Text)
	}
	if bert.use.Visible() || bert.download.Visible() || !strings.Contains(bert.state.Text, "not a BLIP captioning model") || !bert.del.Visible() {
		t.Errorf("BERT repo: Use %t, Download %t, Delete %t, state %q; want only Delete and why it cannot be used",
			bert.use.Visible(), bert.download.Visible(), bert.del.Visible(), bert.state.Text)
	}
}

func TestModelsDialogListsRunsAndFolders(t *testing.T) {
	runs := t.TempDir()
	run := filepath.Join(runs, "run-1")
	folder := filepath.Join(t.TempDir(), "my-blip")
	for _, d := range []string{run, folder} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "config.json"), []byte(`{"model_type": "blip"}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	deps := testDeps(&fakeCaptioner{name: "fake"})
	deps.RunsDir = runs
	m, _ := openWindow(t, deps, "")
	onUIWait(func() { m.models.choose(folder) })
	onUIWait(func() { m.models.choose(deps.DefaultModel) })
	runMenu(t, m, "Models…")

	for _, tc := range []struct{ title, sub string }{
		{"run run-1", runDate(run)},
		{"my-blip", folder},
		{"Demo model", "0.9 M-parameter demo model"},
	} {
		row := findRow(m.models.dialog.list, tc.title)
		if row == nil {
			t.Errorf("no row %q in the Models dialog", tc.title)
			continue
		}
		if texts := strings.Join(labelTexts(row), "\n"); !strings.Contains(texts, tc.sub) {
			t.Errorf("row %q says %q, want %q in it", tc.title, texts, tc.sub)
		}
	}
	use := findButton(findRow(m.models.dialog.list, "run run-1"), "Use")
	if use == nil || findButton(findRow(m.models.dialog.list, "run run-1"), "Show folder") == nil {
		t.Fatal("the run's row lacks Use or Show folder")
	}
	tap(use)
	if got := m.models.chosen(); got != run {
		t.Errorf("chosen model %q after Use on the run, want %q", got, run)
	}
	if b := findButton(findRow(m.models.dialog.list, "run run-1"), "In use"); b == nil || !b.Disabled() {
		t.Error("the run's row does not say In use after Use")
	}
}

// findRow returns the dialog row whose title label reads title.
func findRow(list *fyne.Container, title string) *fyne.Container {
	for _, o := range list.Objects {
		row, ok := o.(*fyne.Container)
		if ok && slices.Contains(labelTexts(row), title) {
			return row
		}
	}
	return nil
}

func labelTexts(o fyne.CanvasObject) []string {
	var out []string
	switch w := o.(type) {
	case *widget.Label:
		out = append(out, w.Text)
	case *fyne.Container:
		for _, c := range w.Objects {
			out = append(out, labelTexts(c)...)
		}
	}
	return out
}

func findButton(o fyne.CanvasObject, text string) *widget.Button {
	switch w := o.(type) {
	case *widget.Button:
		if w.Text == text {
			return w
		}
	case *fyne.Container:
		if w == nil {
			return nil
		}
		for _, c := range w.Objects {
			if b := findButton(c, text); b != nil {
				return b
			}
		}
	}
	return nil
}
