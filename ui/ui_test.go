package ui

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"

	"github.com/captune/captune/annotate"
	"github.com/captune/captune/finetune/metrics"
	"github.com/captune/captune/finetune/runinfo"
)

func TestParseFilter(t *testing.T) {
	tests := []struct {
		in      string
		want    annotate.Filter
		wantErr string
	}{
		{in: "", want: annotate.Filter{}},
		{in: "red cube", want: annotate.Filter{Text: "red cube"}},
		{in: `"a red" is:approved`, want: annotate.Filter{Text: "a red", States: []annotate.State{annotate.StateApproved}}},
		{in: "is:uncaptioned", want: annotate.Filter{Missing: true}},
		{in: "is:model is:human split:val split:none", want: annotate.Filter{
			Origins: []annotate.Origin{"model", annotate.OriginHuman}, Splits: []annotate.Split{annotate.SplitVal, annotate.SplitNone}}},
		{in: "origin:model:blip-base", want: annotate.Filter{Origins: []annotate.Origin{"model:blip-base"}}},
		{in: "/red|blue cube/", want: annotate.Filter{Text: "red|blue cube", Regexp: true}},
		{in: "is:reviewed", wantErr: "is:reviewed"},
		{in: "split:holdout", wantErr: "split:holdout"},
		{in: "/(/", wantErr: "filter /(/"},
		{in: "cat /dog/", wantErr: "one /regexp/"},
	}
	for _, tt := range tests {
		got, err := ParseFilter(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseFilter(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseFilter(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestBadgeOf(t *testing.T) {
	human := func(s annotate.State) annotate.Caption {
		return annotate.Caption{Text: "x", Origin: annotate.OriginHuman, State: s}
	}
	model := func(s annotate.State) annotate.Caption {
		return annotate.Caption{Text: "x", Origin: annotate.ModelOrigin("m"), State: s}
	}
	imported := annotate.Caption{Text: "x", Origin: annotate.OriginImported, State: annotate.StateUnreviewed}
	tests := []struct {
		caps []annotate.Caption
		want Badge
	}{
		{nil, BadgeUncaptioned},
		{[]annotate.Caption{human(annotate.StateRejected)}, BadgeRejected},
		{[]annotate.Caption{human(annotate.StateApproved), model(annotate.StateRejected)}, BadgeApproved},
		{[]annotate.Caption{human(annotate.StateApproved), model(annotate.StateUnreviewed)}, BadgeModel},
		{[]annotate.Caption{human(annotate.StateUnreviewed), imported}, BadgeHuman},
		{[]annotate.Caption{imported}, BadgeImported},
	}
	for _, tt := range tests {
		if got := BadgeOf(&annotate.Item{Path: "a.png", Captions: tt.caps}); got != tt.want {
			t.Errorf("BadgeOf(%+v) = %v, want %v", tt.caps, got, tt.want)
		}
	}
}

// Typing a caption and pressing Alt+↓ writes it into the dataset (and, on close, to disk); Ctrl+Z
// takes it back and Ctrl+Shift+Z applies it again.
func TestTypeCaptionNextUndoRedo(t *testing.T) {
	dir := makeDataset(t, 3, map[int]string{1: "a blue square"})
	m, ds := openWindow(t, testDeps(&fakeCaptioner{name: "fake"}), dir)
	if m.current() != 0 || len(m.editor.rows) != 1 {
		t.Fatalf("after opening: current %d with %d caption rows, want image 0 with one empty row", m.current(), len(m.editor.rows))
	}
	typeText(m.editor.rows[0].entry, "a red cube")
	press(t, m, alt(fyne.KeyDown))
	if m.current() != 1 {
		t.Fatalf("Alt+Down: current = %d, want 1", m.current())
	}
	want := []annotate.Caption{{Text: "a red cube", Origin: annotate.OriginHuman, State: annotate.StateUnreviewed}}
	if got := ds.Item(0).Captions; !reflect.DeepEqual(got, want) {
		t.Fatalf("caption after Alt+Down = %+v, want %+v", got, want)
	}
	if got := m.editor.rows[0].entry.Text; got != "a blue square" {
		t.Errorf("editor shows %q for image 1, want its caption", got)
	}

	press(t, m, &fyne.ShortcutUndo{})
	if got := ds.Item(0).Captions; len(got) != 0 {
		t.Fatalf("after Ctrl+Z image 0 has %+v, want no caption", got)
	}
	press(t, m, ctrlShift(fyne.KeyZ))
	if got := ds.Item(0).Captions; !reflect.DeepEqual(got, want) {
		t.Fatalf("after Ctrl+Shift+Z image 0 has %+v, want %+v", got, want)
	}

	// Editing a caption of the current image and undoing while still typing reverts the edit.
	typeText(m.editor.rows[0].entry, " on grass")
	press(t, m, &fyne.ShortcutUndo{})
	if got := captionTexts(ds.Item(1)); !reflect.DeepEqual(got, []string{"a blue square"}) {
		t.Errorf("undo while typing left %q, want the caption as before", got)
	}
	if got := m.editor.rows[0].entry.Text; got != "a blue square" {
		t.Errorf("editor shows %q after undo, want %q", got, "a blue square")
	}

	onUIWait(m.Close)
	data, err := os.ReadFile(filepath.Join(dir, "img00.txt"))
	if err != nil || strings.TrimSpace(string(data)) != "a red cube" {
		t.Errorf("img00.txt after close = %q, %v; want the typed caption", data, err)
	}
}

// Quitting by a signal skips the window's close: Shutdown still saves the field being typed in
// and releases the lock.
func TestShutdownSavesTyping(t *testing.T) {
	dir := makeDataset(t, 2, nil)
	m, _ := openWindow(t, testDeps(&fakeCaptioner{name: "fake"}), dir)
	// The app shuts down on the UI goroutine, after the callbacks queued before it; the test calls
	// Shutdown from its own, so it first lets the opening's image loads and redraws finish.
	waitImages(m)
	settle(m)
	typeText(m.editor.rows[0].entry, "typed, not yet kept")
	if err := m.Shutdown(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "img00.txt"))
	if err != nil || strings.TrimSpace(string(data)) != "typed, not yet kept" {
		t.Errorf("img00.txt = %q, %v; want the typed caption", data, err)
	}
	if _, err := os.Stat(filepath.Join(dir, annotate.ProjectDir, "lock")); !os.IsNotExist(err) {
		t.Errorf("the lock file is still there (%v)", err)
	}
}

// The navigation and review shortcuts, run in sequence on one dataset.
func TestReviewShortcuts(t *testing.T) {
	dir := makeDataset(t, 5, map[int]string{0: "one", 1: "two", 3: "four"})
	m, ds := openWindow(t, testDeps(&fakeCaptioner{name: "fake"}), dir)
	steps := []struct {
		name        string
		shortcut    fyne.Shortcut
		wantCurrent int
		check       func() string
	}{
		{"approve and next", ctrl(fyne.KeyReturn), 1, func() string {
			if s := ds.Item(0).Captions[0].State; s != annotate.StateApproved {
				return "image 0 is " + string(s)
			}
			return ""
		}},
		{"reject", ctrl(fyne.KeyR), 1, func() string {
			if s := ds.Item(1).Captions[0].State; s != annotate.StateRejected {
				return "image 1 is " + string(s)
			}
			return ""
		}},
		{"next uncaptioned", ctrl(fyne.KeyJ), 2, nil},
		{"next uncaptioned again", ctrl(fyne.KeyJ), 4, nil},
		{"wraps around", ctrl(fyne.KeyJ), 2, nil},
		{"previous", alt(fyne.KeyUp), 1, nil},
		{"undo the reject", &fyne.ShortcutUndo{}, 1, func() string {
			if s := ds.Item(1).Captions[0].State; s != annotate.StateUnreviewed {
				return "image 1 is " + string(s)
			}
			return ""
		}},
		{"filter focus", ctrl(fyne.KeyF), 1, func() string {
			if m.Window.Canvas().Focused() != fyne.Focusable(m.filterEntry) {
				return "the filter box has no focus"
			}
			return ""
		}},
	}
	for _, s := range steps {
		press(t, m, s.shortcut)
		if got := m.current(); got != s.wantCurrent {
			t.Fatalf("%s: current = %d, want %d", s.name, got, s.wantCurrent)
		}
		if s.check != nil {
			if msg := s.check(); msg != "" {
				t.Fatalf("%s: %s", s.name, msg)
			}
		}
	}
	typeText(m.filterEntry, "is:uncaptioned")
	if got := m.view; !reflect.DeepEqual(got, []int{2, 4}) {
		t.Errorf("filter is:uncaptioned shows %v, want [2 4]", got)
	}
}

func TestAutoCaptionFillsUncaptioned(t *testing.T) {
	dir := makeDataset(t, 5, map[int]string{1: "human one", 3: "human three"})
	fc := &fakeCaptioner{name: "fake"}
	m, ds := openWindow(t, testDeps(fc), dir)
	job := startCaptioningJob(m, scopeUncaptioned)
	if job == nil {
		t.Fatal("no captioning job started")
	}
	<-job.done
	waitFor(t, "the job to finish", func() bool {
		var done bool
		onUIWait(func() { done = m.captioning == nil })
		return done
	})
	for i, want := range []string{"a picture of img00", "human one", "a picture of img02", "human three", "a picture of img04"} {
		it := ds.Item(i)
		if got := captionTexts(it); !reflect.DeepEqual(got, []string{want}) {
			t.Errorf("image %d captions %q, want [%q]", i, got, want)
		}
		wantOrigin := annotate.ModelOrigin("fake")
		if i == 1 || i == 3 {
			wantOrigin = annotate.OriginImported
		}
		if it.HasCaption() && it.Captions[0].Origin != wantOrigin {
			t.Errorf("image %d origin %s, want %s", i, it.Captions[0].Origin, wantOrigin)
		}
	}
	if len(m.editor.rows) != 1 || m.editor.rows[0].c != 0 || m.editor.rows[0].entry.Text != "a picture of img00" {
		t.Errorf("the editor does not show the new caption of the current image")
	}
	if m.job.bar.Max != 3 || m.job.bar.Value != 3 {
		t.Errorf("progress %v of %v, want 3 of 3 (100%%)", m.job.bar.Value, m.job.bar.Max)
	}
	if got := m.job.label.Text; !strings.HasPrefix(got, "Captioned 3 of 3 images") {
		t.Errorf("status line %q, want it to say 3 of 3 were captioned", got)
	}
}

// What a model caption does to an image that has captions, for each choice of the panel. Each
// case works on its own image of one dataset.
func TestApplyModelCaptionPolicies(t *testing.T) {
	origin := annotate.ModelOrigin("fake")
	tests := []struct {
		name   string
		policy existingPolicy
		start  string // sidecar caption of the image; "" for none
		model  []string
		want   []string
	}{
		{"uncaptioned gets the caption", existingAdd, "", []string{"a cat"}, []string{"a cat"}},
		{"add keeps the human caption", existingAdd, "my cat", []string{"a cat"}, []string{"my cat", "a cat"}},
		{"same model replaces its own unreviewed caption", existingAdd, "", []string{"a cat", "a dog"}, []string{"a dog"}},
		{"skip leaves it", existingSkip, "my cat", []string{"a cat"}, []string{"my cat"}},
		{"replace overwrites on request", existingReplace, "my cat", []string{"a cat"}, []string{"a cat"}},
		{"identical text is not added twice", existingAdd, "a cat", []string{"a cat"}, []string{"a cat"}},
	}
	caps := map[int]string{}
	for i, tt := range tests {
		if tt.start != "" {
			caps[i] = tt.start
		}
	}
	m, ds := openWindow(t, testDeps(&fakeCaptioner{name: "fake"}), makeDataset(t, len(tests), caps))
	for i, tt := range tests {
		for _, c := range tt.model {
			onUIWait(func() { m.applyModelCaption(i, c, origin, tt.policy) })
		}
		if got := captionTexts(ds.Item(i)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: captions %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestAutoCaptionCancel(t *testing.T) {
	dir := makeDataset(t, 20, nil)
	fc := &fakeCaptioner{name: "slow", block: true, started: make(chan struct{})}
	m, ds := openWindow(t, testDeps(fc), dir)
	job := startCaptioningJob(m, scopeUncaptioned)
	<-fc.started
	if !m.job.running() {
		t.Fatal("the status bar shows no running job")
	}
	tap(m.job.cancel)
	<-job.done
	waitFor(t, "the job to end", func() bool {
		var done bool
		onUIWait(func() { done = m.captioning == nil })
		return done
	})
	if s := ds.Stats(); s.Captioned != 0 {
		t.Errorf("%d images captioned after cancel, want 0", s.Captioned)
	}
	if got := m.job.label.Text; !strings.HasPrefix(got, "Cancelled after 0 of 20") {
		t.Errorf("status line %q, want it to report the cancel", got)
	}
	if fc.calls != 1 {
		t.Errorf("captioner called %d times, want 1 (no call after cancel)", fc.calls)
	}
}

func TestNoModelSaysSo(t *testing.T) {
	deps := testDeps(nil)
	deps.LoadModel, deps.DefaultModel = nil, ""
	m, _ := openWindow(t, deps, makeDataset(t, 2, nil))
	if got := m.models.Select.PlaceHolder; got != labelNoModel {
		t.Errorf("model picker placeholder %q, want %q", got, labelNoModel)
	}
	if job := startCaptioningJob(m, scopeCurrent); job != nil {
		<-job.done
	}
	waitFor(t, "the error", func() bool {
		var err error
		onUIWait(func() { err = m.lastErr })
		return err != nil
	})
	if !strings.Contains(m.lastErr.Error(), "model menu") {
		t.Errorf("error %q does not say where to pick a model", m.lastErr)
	}
}

func TestFineTuneDrawsCurve(t *testing.T) {
	dir := makeDataset(t, 4, map[int]string{0: "a", 1: "b", 2: "c", 3: "d"})
	deps := testDeps(&fakeCaptioner{name: "fake"})
	deps.RunsDir = t.TempDir()
	m, _ := openWindow(t, deps, dir)
	onUIWait(func() { m.Tabs.SelectIndex(1) })
	if got := m.ft.dataInfo.Text; !strings.Contains(got, "images train") || !strings.Contains(got, "Only ") {
		t.Errorf("the panel says %q about the data, want the counts and a warning about so few images", got)
	}
	tap(m.ft.startBtn)
	var running bool
	onUIWait(func() { running = m.ft.running })
	if running {
		t.Fatal("a run on 4 images started without asking")
	}
	tapDialogButton(t, m, "Start anyway")
	m.ft.wait()
	waitFor(t, "the run to finish", func() bool {
		var running bool
		onUIWait(func() { running = m.ft.running })
		return !running
	})
	settle(m)
	onUIWait(func() { m.ft.curve.Refresh() })
	train, val := m.ft.curve.Points()
	if train != 40 || val != 2 {
		t.Fatalf("curve holds %d training and %d validation points, want 40 and 2", train, val)
	}
	var lines, dots int
	for _, o := range test.WidgetRenderer(m.ft.curve).Objects() {
		switch o.(type) {
		case *canvas.Line:
			lines++
		case *canvas.Circle:
			dots++
		}
	}
	// 39 raw and 39 smoothed segments, 2 axes, the legend's line; 2 validation dots and the legend's.
	if lines != 39*2+2+1 || dots != 3 {
		t.Errorf("curve draws %d lines and %d dots, want %d and 3", lines, dots, 39*2+3)
	}
	if got := m.ft.phase.Text; got != "Finished" {
		t.Errorf("phase %q, want Finished", got)
	}
	if m.ft.progress.Value != 40 || m.ft.progress.Max != 40 || !m.ft.progress.Visible() {
		t.Errorf("progress %v/%v, want 40/40", m.ft.progress.Value, m.ft.progress.Max)
	}
	if want := filepath.Join(deps.RunsDir, filepath.Base(dir)+"-run1"); m.ft.lastRunDir != want {
		t.Errorf("run folder %q, want %q", m.ft.lastRunDir, want)
	}
}

// A redraw still pending when a job ends must not replace the final message with the counts.
func TestJobBarEndKeepsMessage(t *testing.T) {
	test.NewTempApp(t)
	j := newJobBar()
	j.begin("Working", "img", 10, func() {})
	j.set(3)
	j.set(4) // within the throttle interval: redrawn later
	j.end("Done.")
	j.redraw.settle()
	if got := j.label.Text; got != "Done." {
		t.Errorf("label %q after end, want %q", got, "Done.")
	}
	if j.running() || j.bar.Visible() {
		t.Error("the bar still shows a running job")
	}
}

func TestDownsampleAveragesBuckets(t *testing.T) {
	var pts []curvePoint
	for i := 1; i <= 1000; i++ {
		pts = append(pts, curvePoint{i, float64(i)})
	}
	got := downsample(pts, 10)
	if len(got) != 10 {
		t.Fatalf("%d points, want 10", len(got))
	}
	if got[0] != (curvePoint{100, 50.5}) || got[9] != (curvePoint{1000, 950.5}) {
		t.Errorf("buckets %v … %v, want {100 50.5} … {1000 950.5}", got[0], got[9])
	}
	if short := downsample(pts[:5], 10); len(short) != 5 {
		t.Errorf("short series changed length to %d", len(short))
	}
}

func sampleComparison() runinfo.Comparison {
	return runinfo.Comparison{Split: "val (3 images)", Decoding: "beam search, 3 beams, 5–20 tokens",
		Before: metrics.Scores{Bleu: [4]float64{0.5, 0.3, 0.2, 0.1}, RougeL: 0.3, CIDErD: 0.4},
		After:  metrics.Scores{Bleu: [4]float64{0.7, 0.5, 0.4, 0.3}, RougeL: 0.5, CIDErD: 1.1},
		Images: []runinfo.ImageComparison{
			{Image: "/d/a.png", References: []string{"a red cube"}, Base: "a box", Tuned: "a red cube", BaseCIDEr: 0.2, TunedCIDEr: 1.5},
			{Image: "/d/b.png", References: []string{"two blue circles"}, Base: "circles", Tuned: "a circle", BaseCIDEr: 0.9, TunedCIDEr: 0.4},
			{Image: "/d/c.png", References: []string{"a green star"}, Base: "a star", Tuned: "a green star", BaseCIDEr: 0.3, TunedCIDEr: 0.9},
		},
		ReportPath: "/runs/x/compare.html"}
}

func TestSortRows(t *testing.T) {
	names := func(rows []runinfo.ImageComparison) []string {
		var out []string
		for _, r := range rows {
			out = append(out, filepath.Base(r.Image))
		}
		return out
	}
	tests := []struct {
		key  compareSort
		desc bool
		want []string
	}{
		{sortImprovement, true, []string{"a.png", "c.png", "b.png"}},
		{sortImprovement, false, []string{"b.png", "c.png", "a.png"}},
		{sortBefore, true, []string{"b.png", "c.png", "a.png"}},
		{sortAfter, true, []string{"a.png", "c.png", "b.png"}},
		{sortImage, false, []string{"a.png", "b.png", "c.png"}},
		{sortImage, true, []string{"c.png", "b.png", "a.png"}},
	}
	for _, tt := range tests {
		rows := sampleComparison().Images
		sortRows(rows, tt.key, tt.desc)
		if got := names(rows); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("sortRows(key %d, desc %v) = %v, want %v", tt.key, tt.desc, got, tt.want)
		}
	}
}

func TestCompareViewSortsByImprovement(t *testing.T) {
	m, _ := openWindow(t, testDeps(&fakeCaptioner{name: "fake"}), "")
	tuned := t.TempDir()
	if err := os.WriteFile(filepath.Join(tuned, "config.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := sampleComparison()
	c.Tuned, c.TunedEpoch = tuned, "epoch 2 of 5, best validation CIDEr-D 41.2"
	onUIWait(func() { m.cmp.SetComparison(c) })
	if got := m.cmp.info.Text; !strings.Contains(got, filepath.Base(tuned)+" (epoch 2 of 5, best validation CIDEr-D 41.2) · val (3 images)") {
		t.Errorf("the Compare header %q does not say which epoch the tuned model is", got)
	}
	order := func() []string {
		var out []string
		for _, r := range m.cmp.rows {
			out = append(out, filepath.Base(r.Image))
		}
		return out
	}
	if got, want := order(), []string{"a.png", "c.png", "b.png"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("initial order %v, want %v (largest improvement first)", got, want)
	}
	onUIWait(func() { m.cmp.sortBy(sortImprovement) })
	if got, want := order(), []string{"b.png", "c.png", "a.png"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after tapping Change again %v, want %v", got, want)
	}
	tap(m.cmp.useBtn)
	if got := m.models.chosen(); got != tuned {
		t.Errorf("Use fine-tuned model chose %q", got)
	}
}

func TestDropTwoFilesAddsTrayEntries(t *testing.T) {
	dir := makeDataset(t, 2, nil)
	outside := t.TempDir()
	var uris []fyne.URI
	for i, name := range []string{"drop1.png", "drop2.png"} {
		p := filepath.Join(outside, name)
		writePNG(t, p, 5+i)
		uris = append(uris, storage.NewFileURI(p))
	}
	uris = append(uris, storage.NewFileURI(filepath.Join(outside, "notes.md")))
	m, ds := openWindow(t, testDeps(&fakeCaptioner{name: "fake"}), dir)
	onUIWait(func() { m.handleDrop(uris) })
	if got := len(m.tray.entries); got != 2 {
		t.Fatalf("tray has %d entries, want 2", got)
	}
	if !m.tray.content.Visible() {
		t.Error("the tray is not shown")
	}
	waitTray(m)
	for i, e := range m.tray.entries {
		want := "a picture of drop" + string(rune('1'+i))
		if e.Pending || e.Err != nil || e.Caption != want {
			t.Errorf("entry %d: %+v, want caption %q", i, e, want)
		}
	}

	onUIWait(func() { m.tray.saveSidecars(m.tray.entries[:1]) })
	if data, err := os.ReadFile(filepath.Join(outside, "drop1.txt")); err != nil || string(data) != "a picture of drop1\n" {
		t.Errorf("drop1.txt = %q, %v", data, err)
	}
	onUIWait(func() { m.tray.addToDataset(m.tray.entries) })
	ds = m.Dataset()
	if ds.Len() != 4 {
		t.Fatalf("dataset has %d images after adding, want 4", ds.Len())
	}
	i, ok := ds.Index("drop2.png")
	if !ok {
		t.Fatal("drop2.png is not in the dataset")
	}
	want := []annotate.Caption{{Text: "a picture of drop2", Origin: annotate.ModelOrigin("fake"), State: annotate.StateUnreviewed}}
	if got := ds.Item(i).Captions; !reflect.DeepEqual(got, want) {
		t.Errorf("drop2.png captions %+v, want %+v", got, want)
	}
}

func TestDropImageOfDatasetSelectsIt(t *testing.T) {
	dir := makeDataset(t, 4, nil)
	m, _ := openWindow(t, testDeps(&fakeCaptioner{name: "fake"}), dir)
	onUIWait(func() { m.handleDrop([]fyne.URI{storage.NewFileURI(filepath.Join(dir, "img02.png"))}) })
	if m.current() != 2 || len(m.tray.entries) != 0 {
		t.Errorf("current %d with %d tray entries, want image 2 and an empty tray", m.current(), len(m.tray.entries))
	}
}

func TestPreferencesPersistSettings(t *testing.T) {
	dir := makeDataset(t, 1, nil)
	m, _ := openWindow(t, testDeps(&fakeCaptioner{name: "fake"}), dir)
	onUIWait(func() { m.gen.beams.SetText("5") })
	onUIWait(func() { m.gen.prompt.SetText("a photo of") })
	onUIWait(func() { m.gen.sample.SetChecked(true) })
	got := loadGeneration(m.prefs)
	want := DefaultGeneration()
	want.Beams, want.Prompt, want.Sample = 5, "a photo of", true
	if got != want {
		t.Errorf("saved generation settings %+v, want %+v", got, want)
	}
	if last := m.prefs.String(prefLastFolder); last != dir {
		t.Errorf("last folder %q, want %q", last, dir)
	}
	if recent := m.prefs.StringList(prefRecentFolders); len(recent) != 1 || recent[0] != dir {
		t.Errorf("recent folders %q, want [%q]", recent, dir)
	}
}

func TestExportEveryFormat(t *testing.T) {
	dir := makeDataset(t, 3, map[int]string{0: "a red cube", 2: "a blue ball"})
	m, _ := openWindow(t, testDeps(&fakeCaptioner{name: "fake"}), dir)
	for i, f := range annotate.ExportFormats {
		out := filepath.Join(t.TempDir(), "out")
		onUIWait(func() {
			m.exp.format.SetSelectedIndex(i)
			m.exp.out.SetText(out)
			m.exp.images.SetSelectedIndex(2)
			m.exp.export()
		})
		waitFor(t, "the export of "+string(f), func() bool {
			var busy bool
			onUIWait(func() { busy = m.exporting })
			return !busy
		})
		if m.lastErr != nil {
			t.Fatalf("export %s: %v", f, m.lastErr)
		}
		if text := previewExport(m.ds, m.exp.options("")); !strings.Contains(text, "a red cube") {
			t.Errorf("preview of %s does not show a caption:\n%s", f, text)
		}
		ents, err := os.ReadDir(out)
		if err != nil || len(ents) == 0 {
			t.Errorf("export %s wrote nothing into %s (%v)", f, out, err)
		}
	}
}

// Golden markup of the main layouts: the Annotate tab on a dataset, the Fine-tune tab with a
// curve, the Compare tab and the drop tray.
func TestLayoutsGolden(t *testing.T) {
	dir := makeDataset(t, 6, map[int]string{0: "a red cube", 1: "two blue balls", 3: "a green star"})
	fc := &fakeCaptioner{name: "fake"}
	m, ds := openWindow(t, testDeps(fc), dir)
	onUIWait(func() {
		ds.SetState(0, 0, annotate.StateApproved)
		ds.SetCaption(1, 0, "two blue balls on grass", annotate.OriginHuman)
		m.applyModelCaption(3, "a star", annotate.ModelOrigin("fake"), existingAdd)
	})
	waitImages(m)
	settle(m)
	onUIWait(func() {
		m.setStatus("ready")
		m.refreshStats()
	})
	capture(t, m, "annotate")
	assertGolden(t, m, "annotate.xml")

	onUIWait(func() {
		m.Tabs.SelectIndex(1)
		m.ft.out.SetText("/runs/sample-run1")
		for step := 1; step <= 30; step++ {
			m.ft.curve.Add(step, 2.5/float64(step)+0.4)
		}
		m.ft.curve.AddValidation(15, 0.8)
		m.ft.curve.AddValidation(30, 0.6)
		m.ft.capPlot.Add(1, 0.35, 0.05)
		m.ft.capPlot.Add(2, 0.52, 0.10)
		showText(m.ft.examples, examplesText(2, []string{"img00.png: a red cube on a table",
			"img01.png: two blue balls on grass", "img02.png: a green star above a red circle"}))
	})
	settle(m)
	onUIWait(func() {
		m.ft.curve.Refresh()
		m.ft.capPlot.Refresh()
	})
	capture(t, m, "finetune")
	assertGolden(t, m, "finetune.xml")

	onUIWait(func() { m.Tabs.SelectIndex(2) })
	c := sampleComparison()
	c.BaseModel, c.Tuned = "/models/bundled", "/runs/sample-run1"
	for i := range c.Images {
		c.Images[i].Image = filepath.Join(dir, []string{"img00.png", "img01.png", "img02.png"}[i])
	}
	onUIWait(func() { m.cmp.SetComparison(c) })
	waitImages(m)
	settle(m)
	capture(t, m, "compare")
	assertGolden(t, m, "compare.xml")

	onUIWait(func() { m.Tabs.SelectIndex(0) })
	outside := t.TempDir()
	p := filepath.Join(outside, "dropped.png")
	writePNG(t, p, 9)
	onUIWait(func() { m.handleDrop([]fyne.URI{storage.NewFileURI(p)}) })
	waitTray(m)
	waitImages(m)
	settle(m)
	onUIWait(func() { m.setStatus("ready") })
	capture(t, m, "tray")
	assertGolden(t, m, "tray.xml")
}
