package ui

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/captune/captune/annotate"
	"github.com/captune/captune/finetune/runinfo"
	"github.com/captune/captune/internal/hub"
)

// finetuneTab holds the training settings, the loss curve and the run's progress line.
type finetuneTab struct {
	m          *MainWindow
	compare    func(base, tuned string) // evaluates a finished run (the Compare tab)
	content    fyne.CanvasObject
	base       *widget.Select
	baseDirs   map[string]string
	data       *widget.Select // which captions train
	holdout    *widget.Select // which images validate
	dataInfo   *widget.Label  // counts per split and warnings
	estimate   *widget.Label  // the last run's estimate, measured before it started
	epochs     *widget.Entry
	lr         *widget.Entry
	batch      *widget.Entry
	freeze     *widget.Check
	method     *widget.Select // methodFullLabel or "LoRA (rank N)" (loraLabel)
	loraRank   *widget.Entry  // the rank N, enabled with LoRA
	methodNote *widget.Label  // what the chosen method is for
	precision  *widget.Select // precisionChoices
	device     *widget.Select
	deviceInfo *widget.Label
	advice     *widget.Label
	numbers    typedFields // epochs, learning rate, batch size: typed or advised
	out        *widget.Entry
	startBtn   *widget.Button
	cancelBtn  *widget.Button
	resumeBtn  *widget.Button
	compareBtn *widget.Button
	curve      *LossCurve
	progress   *widget.ProgressBar
	line       *widget.Label
	phase      *widget.Label
	alarm      *widget.Label // the run's latest caption alarm; hidden until one is raised
	capPlot    *CaptionPlot  // validation CIDEr-D and identical share per epoch
	examples   *widget.Label // the latest epoch's example captions; hidden until the first
	cacheNote  *widget.Label // "image features cached: … saves ~X min" of the running run; hidden without

	watchBtn *widget.Button // "Watch a job…" (jobwatch.go)
	watch    *jobWatch      // the job folder being watched; nil when none

	mu         sync.Mutex
	latest     runinfo.Progress
	alarmed    string // text of the latest alarm of the running run
	exampled   string // text of the latest epoch's example captions
	cached     string // the run's feature cache report (it stays in view while the steps run)
	redraw     *throttle
	running    bool
	cancel     context.CancelFunc
	done       chan struct{}
	lastRunDir string // output folder of the last finished run
	lastErr    error
	lastRes    runinfo.Result
}

func newFinetuneTab(m *MainWindow) *finetuneTab {
	t := &finetuneTab{m: m, baseDirs: map[string]string{}, numbers: typedFields{typed: chosenTraining(m.prefs)}}
	left := t.settingsPanel(loadTraining(m.prefs))
	split := container.NewHSplit(container.NewVScroll(left), t.runPanel())
	split.Offset = 0.36
	t.content = container.NewPadded(split)
	t.redraw = newThrottle(curveRedrawInterval, t.draw)
	t.syncButtons()
	return t
}

// settingsPanel builds the left side: the run's settings, what trains, the advice and estimate.
func (t *finetuneTab) settingsPanel(d trainDefaults) fyne.CanvasObject {
	m := t.m
	t.base = widget.NewSelect(nil, func(string) { t.followBase() })
	t.base.PlaceHolder = labelNoModel
	t.data = widget.NewSelect(choiceLabels(annotate.TrainingCaptionChoices), func(string) { t.updateDataInfo() })
	t.data.SetSelectedIndex(max(slices.Index(annotate.TrainingCaptionChoices, d.Captions), 0))
	t.holdout = widget.NewSelect(choiceLabels(annotate.HoldoutChoices), func(string) { t.updateDataInfo() })
	t.holdout.SetSelectedIndex(max(slices.Index(annotate.HoldoutChoices, d.Holdout), 0))
	t.dataInfo = widget.NewLabel("")
	t.dataInfo.Wrapping = fyne.TextWrapWord
	t.estimate = widget.NewLabel("")
	t.estimate.Wrapping = fyne.TextWrapWord
	t.estimate.SizeName = theme.SizeNameCaptionText
	t.estimate.Hide()
	t.epochs = widget.NewEntry()
	t.epochs.SetText(strconv.Itoa(d.Epochs))
	t.lr = widget.NewEntry()
	t.lr.SetText(strconv.FormatFloat(d.LR, 'g', -1, 64))
	t.batch = widget.NewEntry()
	t.batch.SetText(strconv.Itoa(d.Batch))
	t.numbers.watch(t.epochs, prefTrainEpochs, nil)
	t.numbers.watch(t.lr, prefTrainLR, nil)
	t.numbers.watch(t.batch, prefTrainBatch, nil)
	t.advice = widget.NewLabel("")
	t.advice.Wrapping = fyne.TextWrapWord
	t.advice.SizeName = theme.SizeNameCaptionText
	t.advice.Hide()
	t.freeze = widget.NewCheck("train only the text decoder (less memory, faster)", nil)
	t.freeze.SetChecked(d.FreezeVision)
	methodField := t.methodField(d)
	devices := m.deps.Devices
	if len(devices) == 0 {
		devices = []string{"auto", "cpu"}
	}
	t.device = widget.NewSelect(devices, func(s string) {
		m.prefs.SetString(prefDevice, s)
		m.models.setDevice(s)
	})
	t.device.SetSelected(m.prefs.StringWithFallback(prefDevice, devices[0]))
	t.precision = newPrecisionSelect(m)
	t.deviceInfo = widget.NewLabel(strings.TrimSpace(m.deps.DeviceInfo + "\n" + m.deps.NoBF16))
	t.deviceInfo.Wrapping = fyne.TextWrapWord
	t.deviceInfo.SizeName = theme.SizeNameCaptionText
	runFolder := t.runFolderField()
	form := widget.NewForm(
		widget.NewFormItem("Base model", t.base),
		widget.NewFormItem("Training data", t.data),
		widget.NewFormItem("Validation", t.holdout),
		widget.NewFormItem("", t.dataInfo),
		widget.NewFormItem("Epochs", t.epochs),
		widget.NewFormItem("Learning rate", t.lr),
		widget.NewFormItem("Batch size", t.batch),
		widget.NewFormItem("Method", methodField),
		widget.NewFormItem("", t.methodNote),
		widget.NewFormItem("Vision encoder", t.freeze),
		widget.NewFormItem("Device", t.device),
		widget.NewFormItem("Precision", t.precision),
		widget.NewFormItem("", t.deviceInfo),
		widget.NewFormItem("Run folder", runFolder),
	)
	note := widget.NewLabel("Checkpoints are written at the end of each epoch: Resume continues from the newest one after a stop or a crash.")
	note.Wrapping = fyne.TextWrapWord
	note.SizeName = theme.SizeNameCaptionText
	left := container.NewVBox(widget.NewLabelWithStyle("Fine-tune", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), form, t.advice, t.estimate, note)
	return left
}

const (
	methodFullLabel = "Full"
	methodFullNote  = "Full trains every weight: each run is a whole model. LoRA trains small adapters beside the " +
		"frozen base: far less memory, a few MB a run (for large models and small GPUs)."
)

var methodLoraNote = "LoRA trains small adapters (a few MB) beside the frozen base: far less memory than Full, and " +
	fmt.Sprintf("the model menu lists them under their base. Unless you type one, it trains at %d times Full's learning rate.", runinfo.LoraLRFactor)

// loraLabel is the Method menu's LoRA entry.
func loraLabel(rank int) string { return fmt.Sprintf("LoRA (rank %d)", rank) }

// methodField is the Method menu (Full or LoRA) with the LoRA rank beside it; the note below
// says what the chosen method is for.
func (t *finetuneTab) methodField(d trainDefaults) fyne.CanvasObject {
	rank := cmp.Or(d.LoraRank, defaultTraining().LoraRank)
	t.methodNote = widget.NewLabel("")
	t.methodNote.Wrapping = fyne.TextWrapWord
	t.methodNote.SizeName = theme.SizeNameCaptionText
	t.loraRank = widget.NewEntry()
	t.loraRank.SetText(strconv.Itoa(rank))
	t.method = widget.NewSelect([]string{methodFullLabel, loraLabel(rank)}, func(string) { t.followMethod() })
	// The rank typed shows in the menu's LoRA entry, so the menu alone says what will train.
	t.loraRank.OnChanged = func(text string) {
		r, err := strconv.Atoi(strings.TrimSpace(text))
		if err != nil || r < 1 {
			return
		}
		lora := t.method.SelectedIndex() == 1 // before the entry's label changes
		t.method.Options[1] = loraLabel(r)
		if lora {
			t.method.Selected = loraLabel(r)
		}
		t.method.Refresh()
	}
	if d.Method == MethodLora {
		t.method.SetSelectedIndex(1)
	} else {
		t.method.SetSelectedIndex(0)
	}
	t.followMethod()
	rankBox := container.NewHBox(widget.NewLabel("rank"), container.NewGridWrap(fyne.NewSize(64, t.loraRank.MinSize().Height), t.loraRank))
	return container.NewBorder(nil, nil, nil, rankBox, t.method)
}

// methodChoice is the Method menu's method, MethodFull or MethodLora.
func (t *finetuneTab) methodChoice() string {
	if t.method.SelectedIndex() == 1 {
		return MethodLora
	}
	return MethodFull
}

// followMethod enables the rank with LoRA (and the vision encoder choice with Full) and says what the chosen method is for.
func (t *finetuneTab) followMethod() {
	if t.methodNote == nil || t.loraRank == nil {
		return
	}
	defer t.followBase() // the learning rate, unless typed, follows the method
	if t.methodChoice() == MethodLora {
		t.loraRank.Enable()
		t.freeze.Disable() // only the adapters train: the encoder's weights stay as they are either way
		t.methodNote.SetText(methodLoraNote)
		return
	}
	t.loraRank.Disable()
	t.freeze.Enable()
	t.methodNote.SetText(methodFullNote)
}

// runFolderField is the Run folder entry with its Browse button; a run that stopped or crashed
// before it finished (a checkpoint, no model yet) is offered for Resume.
func (t *finetuneTab) runFolderField() fyne.CanvasObject {
	m := t.m
	t.out = widget.NewEntry()
	t.out.SetPlaceHolder("a new folder under " + m.deps.RunsDir)
	if last := m.prefs.String(prefLastRun); hasCheckpoint(last) && !isModelDir(last) {
		t.out.SetText(last)
	}
	t.out.OnChanged = func(string) { t.syncButtons() }
	browse := widget.NewButtonWithIcon("", theme.FolderOpenIcon(), func() {
		m.chooseFolder("Choose the run folder", func(dir string) { t.out.SetText(dir) }, nil)
	})

	return container.NewBorder(nil, nil, nil, browse, t.out)
}

// runPanel builds the right side: the loss curve, the alarm, the progress line and the buttons.
func (t *finetuneTab) runPanel() fyne.CanvasObject {
	t.startBtn = widget.NewButtonWithIcon("Start", theme.MediaPlayIcon(), func() { t.start(false) })
	t.startBtn.Importance = widget.HighImportance
	t.cancelBtn = widget.NewButtonWithIcon("Cancel", theme.MediaStopIcon(), t.stop)
	t.resumeBtn = widget.NewButtonWithIcon("Resume", theme.MediaReplayIcon(), func() { t.start(true) })
	t.compareBtn = widget.NewButtonWithIcon("Compare before/after", theme.ViewRefreshIcon(), func() {
		if t.lastRunDir != "" {
			t.compare(t.compareBase(), t.lastRunDir)
		}
	})

	t.curve = NewLossCurve()
	t.progress = widget.NewProgressBar()
	t.progress.Hide() // an empty bar reads as a full one: shown once a run reports its steps
	t.line = widget.NewLabel("Not running.")
	t.line.Truncation = fyne.TextTruncateEllipsis
	t.phase = widget.NewLabel("")
	t.alarm = widget.NewLabel("")
	t.alarm.Wrapping = fyne.TextWrapWord
	t.alarm.Importance = widget.DangerImportance
	t.alarm.Hide()
	buttons := container.NewHBox(t.startBtn, t.cancelBtn, t.resumeBtn, t.watchButton(), layout.NewSpacer(), t.compareBtn)
	t.cacheNote = widget.NewLabel("")
	t.cacheNote.Truncation = fyne.TextTruncateEllipsis
	t.cacheNote.Hide()
	bottom := container.NewVBox(t.alarm, t.cacheNote, container.NewBorder(nil, nil, t.phase, nil, t.line), t.progress, buttons)
	t.capPlot = NewCaptionPlot()
	t.examples = widget.NewLabel("")
	t.examples.SizeName = theme.SizeNameCaptionText
	t.examples.Truncation = fyne.TextTruncateEllipsis
	t.examples.Hide()
	plots := container.NewVSplit(t.curve, container.NewBorder(nil, t.examples, nil, nil, t.capPlot))
	plots.Offset = 0.6
	return container.NewBorder(nil, bottom, nil, nil, plots)
}

// refreshModels fills the base model menu from the model picker's list, less the LoRA adapters:
// a run trains from a whole model. UI goroutine.
func (t *finetuneTab) refreshModels() {
	if t.m.models == nil {
		return
	}
	all, dirs := t.m.models.options()
	var labels []string
	for _, l := range all {
		if isAdapterDir(dirs[l]) {
			delete(dirs, l)
			continue
		}
		labels = append(labels, l)
	}
	t.base.Options = labels
	t.baseDirs = dirs
	if t.base.Selected == "" || dirs[t.base.Selected] == "" {
		// The picker's model, or the base of the picker's adapter, is the likely base.
		if l := labelOfDir(dirs, t.m.models.baseOf(t.m.models.chosen())); l != "" {
			t.base.SetSelected(l)
		} else if len(labels) > 0 {
			t.base.SetSelected(labels[0])
		} else {
			t.base.ClearSelected()
		}
	}
	t.base.Refresh()
}

// labelOfDir is the label of dir in a label → folder map, or "".
func labelOfDir(dirs map[string]string, dir string) string {
	for l, d := range dirs {
		if dir != "" && filepath.Clean(d) == filepath.Clean(dir) {
			return l
		}
	}
	return ""
}

func (t *finetuneTab) baseDir() string { return t.baseDirs[t.base.Selected] }

// followBase fills the epochs, learning rate and batch size the user has not typed from the base
// model's advice (the defaults where it has none) and says which values came from it.
func (t *finetuneTab) followBase() {
	var adv TrainingAdvice
	ok := false
	if dir := t.baseDir(); dir != "" && t.m.deps.Advise != nil {
		adv, ok = t.m.deps.Advise(dir)
	}
	d := defaultTraining()
	epochs, lr, batch := d.Epochs, d.LR, d.Batch
	if ok {
		epochs, lr, batch = cmp.Or(adv.Epochs, epochs), cmp.Or(adv.LR, lr), cmp.Or(adv.BatchSize, batch)
	}
	if t.method != nil {
		lr = runinfo.MethodLR(lr, t.methodChoice()) // LoRA trains at a higher rate than Full
	}
	used := t.numbers.fill(
		adviceFill{t.epochs, prefTrainEpochs, "epochs", strconv.Itoa(epochs), ok && adv.Epochs > 0},
		adviceFill{t.lr, prefTrainLR, "learning rate", strconv.FormatFloat(lr, 'g', -1, 64), ok && adv.LR > 0},
		adviceFill{t.batch, prefTrainBatch, "batch size", strconv.Itoa(batch), ok && adv.BatchSize > 0})
	if len(used) == 0 {
		t.advice.Hide()
		return
	}
	msg := "Recommended by this base model: " + strings.Join(used, ", ") + ". A value you type wins."
	if adv.Note != "" {
		msg += " " + adv.Note
	}
	t.advice.SetText(msg)
	t.advice.Show()
}

// choiceLabels lists the menu labels of annotate's training choices.
func choiceLabels[T interface{ Describe() string }](choices []T) []string {
	out := make([]string, len(choices))
	for i, c := range choices {
		out[i] = c.Describe()
	}
	return out
}

// captions and holdoutChoice read the Training data and Validation menus.
func (t *finetuneTab) captions() annotate.TrainingCaptions {
	return annotate.TrainingCaptionChoices[max(t.data.SelectedIndex(), 0)]
}

func (t *finetuneTab) holdoutChoice() annotate.Holdout {
	return annotate.HoldoutChoices[max(t.holdout.SelectedIndex(), 0)]
}

// lastRun is the run the tab last finished (tuned "" when none) and the base model it was trained
// from, for the Compare tab.
func (t *finetuneTab) lastRun() (base, tuned string) {
	if t.lastRunDir == "" {
		return "", ""
	}
	return t.compareBase(), t.lastRunDir
}

// evalChoices are the device and the caption and holdout choices the Compare tab evaluates with.
func (t *finetuneTab) evalChoices() (string, annotate.TrainingCaptions, annotate.Holdout) {
	return t.device.Selected, t.captions(), t.holdoutChoice()
}

// updateDataInfo says how many images train and validate with the menus' choices, and what the
// user should know before starting. UI goroutine.
func (t *finetuneTab) updateDataInfo() {
	if t == nil || t.dataInfo == nil {
		return
	}
	ds := t.m.ds
	if ds == nil {
		t.dataInfo.SetText("Open a folder to see which images train.")
		t.dataInfo.Importance = widget.MediumImportance
		return
	}
	set := ds.TrainingSet(t.captions(), t.holdoutChoice())
	text := fmt.Sprintf("%d images train, %d validate (%s).", len(set.Train), len(set.Val), set.How)
	t.dataInfo.Importance = widget.MediumImportance
	if len(set.Warnings) > 0 {
		text += "\n" + strings.Join(set.Warnings, "\n")
		t.dataInfo.Importance = widget.WarningImportance
	}
	t.dataInfo.SetText(text)
}

// confirmData starts a run (then) when the training set is sound, asks first when it is risky
// (few images, unreviewed model captions) and refuses when nothing would train.
func (t *finetuneTab) confirmData(s TrainSettings, then func()) {
	set := s.Dataset.TrainingSet(s.Captions, s.Holdout)
	if len(set.Train) == 0 {
		t.m.showError("start fine-tuning", errors.New(strings.Join(set.Warnings, " ")),
			"Choose other training data on the left, or caption and approve images first.")
		return
	}
	if set.Unreviewed == 0 && len(set.Train) >= annotate.MinTrainingImages {
		then()
		return
	}
	t.askStart("Start fine-tuning?", fmt.Sprintf("%d images train, %d validate.\n\n%s", len(set.Train), len(set.Val), strings.Join(set.Warnings, "\n")), then)
}

// hasCheckpoint reports whether dir holds a checkpoint that training can resume from.
func hasCheckpoint(dir string) bool {
	if dir == "" {
		return false
	}
	// A checkpoint being written sits in a hidden temporary folder (.step-…) until it is whole.
	m, _ := filepath.Glob(filepath.Join(dir, "checkpoints", "step-*", "trainer_state.json"))
	return len(m) > 0
}

func (t *finetuneTab) syncButtons() {
	if t.running {
		t.startBtn.Disable()
		t.resumeBtn.Disable()
		t.cancelBtn.Enable()
		t.compareBtn.Disable()
		t.watchBtn.Disable()
		return
	}
	t.watchBtn.Enable()
	t.startBtn.Enable()
	t.cancelBtn.Disable()
	if hasCheckpoint(strings.TrimSpace(t.out.Text)) {
		t.resumeBtn.Enable()
	} else {
		t.resumeBtn.Disable()
	}
	if t.lastRunDir != "" && t.m.deps.Evaluator != nil {
		t.compareBtn.Enable()
	} else {
		t.compareBtn.Disable()
	}
}

// settings reads the form.
func (t *finetuneTab) settings() (TrainSettings, trainDefaults, error) {
	var errs []error
	epochs, err := strconv.Atoi(strings.TrimSpace(t.epochs.Text))
	if err != nil || epochs < 1 {
		errs = append(errs, fmt.Errorf("epochs %q: want a whole number of at least 1", t.epochs.Text))
	}
	lr, err := strconv.ParseFloat(strings.TrimSpace(t.lr.Text), 64)
	if err != nil || lr <= 0 || lr > 1 || math.IsNaN(lr) {
		errs = append(errs, fmt.Errorf("learning rate %q: want a small positive number such as 2e-5", t.lr.Text))
	}
	batch, err := strconv.Atoi(strings.TrimSpace(t.batch.Text))
	if err != nil || batch < 1 {
		errs = append(errs, fmt.Errorf("batch size %q: want a whole number of at least 1", t.batch.Text))
	}
	method := t.methodChoice()
	rank, err := strconv.Atoi(strings.TrimSpace(t.loraRank.Text))
	if err != nil || rank < 1 {
		if method == MethodLora {
			errs = append(errs, fmt.Errorf("LoRA rank %q: want a whole number of at least 1, such as 16", t.loraRank.Text))
		}
		rank = 0
	}
	base := t.baseDir()
	if base == "" {
		errs = append(errs, errors.New("no base model: choose one (the bundled model, or a folder in the model menu)"))
	}
	d := trainDefaults{Epochs: epochs, LR: lr, Batch: batch, FreezeVision: t.freeze.Checked, Captions: t.captions(), Holdout: t.holdoutChoice(),
		Method: method, LoraRank: rank}
	s := TrainSettings{Dataset: t.m.ds, BaseModel: base, OutDir: strings.TrimSpace(t.out.Text), Epochs: epochs, LR: lr,
		BatchSize: batch, FreezeVision: t.freeze.Checked, Device: t.device.Selected, Captions: d.Captions, Holdout: d.Holdout,
		Precision: precisionOf(t.precision.Selected), Method: method}
	if method == MethodLora {
		s.LoraRank = rank
	}
	return s, d, errors.Join(errs...)
}

// defaultRunDir names a fresh run folder after the dataset: NAME-run1, NAME-run2, …
func (t *finetuneTab) defaultRunDir() string {
	name := "dataset"
	if t.m.ds != nil {
		name = filepath.Base(t.m.ds.Root())
	}
	for n := 1; ; n++ {
		d := filepath.Join(t.m.deps.RunsDir, fmt.Sprintf("%s-run%d", name, n))
		if _, err := os.Stat(d); os.IsNotExist(err) {
			return d
		}
	}
}

func (t *finetuneTab) start(resume bool) {
	m := t.m
	if t.running {
		return
	}
	if m.ds == nil {
		m.showError("start fine-tuning", errors.New("no dataset is open"), "Open a folder of captioned images first (Ctrl+O).")
		return
	}
	if m.deps.Trainer == nil {
		m.showError("start fine-tuning", errors.New("this build has no trainer"), "")
		return
	}
	s, d, err := t.settings()
	if err != nil {
		m.showError("read the fine-tuning settings", err, "Correct the values on the left, then press Start again.")
		return
	}
	s.Resume = resume
	if s.OutDir == "" {
		s.OutDir = t.defaultRunDir()
		t.out.SetText(s.OutDir)
	}
	saveTraining(m.prefs, d, t.numbers.typed)
	m.editor.commit()
	if resume {
		t.launch(s)
		return
	}
	t.confirmData(s, func() { t.estimateThen(s, func() { t.confirmOverwrite(s) }) })
}

// confirmOverwrite asks before a fresh run replaces what its folder holds, then launches it.
func (t *finetuneTab) confirmOverwrite(s TrainSettings) {
	m := t.m
	if dirHasFiles(s.OutDir) {
		dialog.ShowConfirm("Replace the run folder?",
			fmt.Sprintf("%s already holds files.\nReplace them with this run? (Resume continues the run in it instead.)", s.OutDir),
			func(ok bool) {
				if ok {
					s.Overwrite = true
					t.launch(s)
				}
			}, m.Window)
		return
	}
	t.launch(s)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func dirHasFiles(dir string) bool {
	ents, err := os.ReadDir(dir)
	return err == nil && len(ents) > 0
}

func (t *finetuneTab) launch(s TrainSettings) {
	m := t.m
	ctx, cancel := context.WithCancel(m.ctx)
	t.stopWatch() // the curve and the progress line are the run's now
	t.running, t.cancel, t.done = true, cancel, make(chan struct{})
	t.lastErr = nil
	m.prefs.SetString(prefLastRun, s.OutDir)
	if !s.Resume {
		t.curve.Reset()
	}
	t.capPlot.Reset() // a resumed run's earlier epochs are not reported again: its plot starts afresh
	t.mu.Lock()
	t.latest = runinfo.Progress{Phase: runinfo.PhaseLoad, Message: "starting", ValLoss: math.NaN()}
	t.alarmed, t.exampled, t.cached = "", "", ""
	t.mu.Unlock()
	t.draw()
	t.syncButtons()
	m.setStatus("Fine-tuning " + filepath.Base(s.BaseModel) + " into " + s.OutDir)
	done := t.done
	go func() {
		defer close(done)
		defer cancel()
		res, err := m.deps.Trainer.Train(ctx, s, t.onProgress)
		// Read before the deferred cancel runs: afterwards ctx.Err() is set for every run, so a
		// finished run would be reported as stopped.
		cancelled := ctx.Err() != nil
		onUI(func() { t.finish(s, res, err, cancelled) })
	}()
}

// onProgress records a report from the trainer's goroutine; the widgets follow through a throttle.
func (t *finetuneTab) onProgress(p runinfo.Progress) {
	t.mu.Lock()
	t.latest = p
	if p.Alarm != "" {
		t.alarmed = fmt.Sprintf("Epoch %d: %s", p.Epoch, p.Alarm)
	}
	if w, ok := strings.CutPrefix(p.Message, "warning: "); ok && p.Phase == runinfo.PhaseLoad {
		t.alarmed = w // e.g. captions the training length cuts: it stays in view until an alarm replaces it
	}
	if p.Captions != nil {
		t.exampled = examplesText(p.Epoch, p.Captions.Examples)
	}
	if strings.HasPrefix(p.Message, "image features cached") {
		t.cached = p.Message
	}
	t.mu.Unlock()
	switch p.Phase {
	case runinfo.PhaseResume:
		t.curve.Restart(p.History, p.ValSteps, p.ValHistory)
	case runinfo.PhaseTrain:
		t.curve.Add(p.Step, p.Loss)
	case runinfo.PhaseEval:
		t.curve.AddValidation(p.Step, p.ValLoss)
	case runinfo.PhaseCaptions:
		if p.Captions != nil {
			t.capPlot.Add(p.Epoch, p.Captions.CIDErD, p.Captions.Identical)
		}
	}
	t.redraw.trigger()
}

func (t *finetuneTab) draw() {
	t.mu.Lock()
	p, alarmed, exampled, cached := t.latest, t.alarmed, t.exampled, t.cached
	t.mu.Unlock()
	showText(t.alarm, alarmed)
	showText(t.cacheNote, cached)
	showText(t.examples, exampled)
	if p.Total > 0 {
		t.progress.Max = float64(p.Total)
		t.progress.SetValue(float64(p.Step))
		t.progress.Show()
	}
	t.phase.SetText(phaseLabel(p.Phase))
	switch p.Phase {
	case runinfo.PhaseTrain, runinfo.PhaseCheckpoint:
		s := fmt.Sprintf("step %d/%d · epoch %d · loss %.4f · lr %.2g", p.Step, p.Total, p.Epoch, p.Loss, p.LR)
		if p.SamplesPerSec > 0 {
			s += fmt.Sprintf(" · %.1f img/s", p.SamplesPerSec)
		}
		if p.ETA > 0 {
			s += " · ETA " + formatDuration(p.ETA)
		}
		t.line.SetText(s)
	case runinfo.PhaseEval:
		if !math.IsNaN(p.ValLoss) {
			t.line.SetText(fmt.Sprintf("epoch %d: validation loss %.4f", p.Epoch, p.ValLoss))
		} else {
			t.line.SetText(fmt.Sprintf("epoch %d: measuring the validation loss…", p.Epoch))
		}
	default:
		t.line.SetText(p.Message)
	}
}

// savedText says what a finished run left in its folder: the model, or a LoRA run's adapter with
// its size on disk (and the merged model, when one was written).
func savedText(s TrainSettings, res runinfo.Result) string {
	if res.Method != MethodLora {
		return " · model in " + s.OutDir
	}
	text := " · adapter " + hub.FormatBytes(res.AdapterBytes) + " in " + s.OutDir
	if res.MergedDir != "" {
		text += " · merged model in " + res.MergedDir
	}
	return text
}

// showText sets l's text, showing l only while it has some.
func showText(l *widget.Label, text string) {
	if text == l.Text {
		return
	}
	l.SetText(text)
	if text == "" {
		l.Hide()
	} else {
		l.Show()
	}
}

func phaseLabel(p runinfo.Phase) string {
	switch p {
	case runinfo.PhaseLoad:
		return "Loading"
	case runinfo.PhaseCache:
		return "Caching"
	case runinfo.PhaseResume:
		return "Resuming"
	case runinfo.PhaseTrain:
		return "Training"
	case runinfo.PhaseCheckpoint:
		return "Checkpoint"
	case runinfo.PhaseEval, runinfo.PhaseCaptions:
		return "Validating"
	case runinfo.PhaseDone:
		return "Saving"
	}
	return ""
}

func (t *finetuneTab) stop() {
	if t.cancel != nil {
		t.cancel()
		t.cancelBtn.Disable()
		t.line.SetText("Stopping after this step…")
	}
}

func (t *finetuneTab) finish(s TrainSettings, res runinfo.Result, err error, cancelled bool) {
	m := t.m
	// running stays true until the end, so that Busy never reports idle between the run and the
	// comparison it starts.
	defer func() {
		t.running = false
		t.syncButtons()
	}()
	t.redraw.stop()
	t.redraw = newThrottle(curveRedrawInterval, t.draw)
	t.draw()
	t.curve.Refresh()
	t.capPlot.Refresh()
	t.lastRes, t.lastErr = res, err
	switch {
	case cancelled || res.Stopped:
		t.phase.SetText("Stopped")
		msg := fmt.Sprintf("Stopped at step %d.", res.Steps)
		if hasCheckpoint(s.OutDir) {
			msg += " Resume continues from the last checkpoint."
		}
		t.line.SetText(msg)
		m.setStatus("Fine-tuning stopped.")
	case err != nil:
		t.phase.SetText("Failed")
		t.line.SetText(err.Error())
		hint := "Check the settings and the dataset's captions, then Start again."
		if hasCheckpoint(s.OutDir) {
			hint = "Resume continues from the last checkpoint in " + s.OutDir + "."
		}
		m.showError("fine-tune "+filepath.Base(s.BaseModel), err, hint)
	default:
		t.lastRunDir = s.OutDir
		t.phase.SetText("Finished")
		msg := fmt.Sprintf("%d steps", res.Steps)
		if n := len(res.Losses); n > 0 {
			msg += fmt.Sprintf(" · loss %.4f → %.4f", res.Losses[0], res.Losses[n-1])
		}
		t.line.SetText(msg + savedText(s, res))
		t.out.SetText("") // the next Start makes a new run folder
		m.setStatus("Fine-tuning finished: " + s.OutDir)
		m.models.refreshOptions()
		if m.deps.Evaluator != nil {
			t.compare(s.BaseModel, s.OutDir)
		}
	}
}
