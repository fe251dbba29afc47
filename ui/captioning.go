package ui

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/captune/captune/annotate"
)

// captionScope says which images an auto-captioning job covers.
type captionScope int

const (
	scopeCurrent     captionScope = iota // the image in the large view
	scopeFiltered                        // the images the filter shows
	scopeUncaptioned                     // every image without a caption
	scopeAll                             // every image
)

// existingPolicy says what a model caption does to an image that already has captions. A model
// never overwrites a human caption unless the user picks "replace".
type existingPolicy int

const (
	existingAdd     existingPolicy = iota // add the model's caption beside the others
	existingSkip                          // leave captioned images alone
	existingReplace                       // replace every caption, human ones too
)

var existingLabels = []string{"add beside them", "skip the image", "replace them (also human ones)"}

// captionChunk is how many images one Caption call handles: small enough that results appear
// and are saved as the job goes, and that Cancel answers quickly.
const captionChunk = 8

// generationPanel holds the decoding settings; every change is saved in the preferences.
type generationPanel struct {
	m        *MainWindow
	beams    *widget.Entry
	minLen   *widget.Entry
	maxLen   *widget.Entry
	prompt   *widget.Entry
	sample   *widget.Check
	topP     *widget.Entry
	temp     *widget.Entry
	rep      *widget.Entry
	existing *widget.Select
	note     *widget.Label   // which numbers the chosen model's generation_config.json gave
	numbers  typedFields     // beams, lengths, repetition penalty: typed or advised
	confirm  *captionConfirm // the question before a batch job, while it is open
	item     *widget.AccordionItem
	content  *widget.Accordion
}

func newGenerationPanel(m *MainWindow) *generationPanel {
	g := &generationPanel{m: m, numbers: typedFields{typed: chosenGeneration(m.prefs)}}
	s := loadGeneration(m.prefs)
	intEntry := func(v int) *widget.Entry {
		e := widget.NewEntry()
		e.SetText(strconv.Itoa(v))
		e.Validator = func(s string) error {
			if _, err := strconv.Atoi(strings.TrimSpace(s)); err != nil {
				return errors.New("a whole number")
			}
			return nil
		}
		return e
	}
	floatEntry := func(v float64) *widget.Entry {
		e := widget.NewEntry()
		e.SetText(strconv.FormatFloat(v, 'g', -1, 64))
		e.Validator = func(s string) error {
			if _, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
				return errors.New("a number")
			}
			return nil
		}
		return e
	}
	g.beams, g.minLen, g.maxLen = intEntry(s.Beams), intEntry(s.MinLength), intEntry(s.MaxLength)
	g.prompt = widget.NewEntry()
	g.prompt.SetText(s.Prompt)
	g.prompt.SetPlaceHolder(`e.g. "a picture of"`)
	g.sample = widget.NewCheck("nucleus sampling instead of beam search", nil)
	g.sample.SetChecked(s.Sample)
	g.topP, g.temp, g.rep = floatEntry(s.TopP), floatEntry(s.Temperature), floatEntry(s.RepetitionPenalty)
	g.existing = widget.NewSelect(existingLabels, nil)
	g.existing.SetSelectedIndex(min(max(m.prefs.Int(prefGenExisting), 0), len(existingLabels)-1))

	form := widget.NewForm(
		widget.NewFormItem("Beams", g.beams),
		widget.NewFormItem("Length", container.NewGridWithColumns(2, g.minLen, g.maxLen)),
		widget.NewFormItem("Prompt", g.prompt),
		widget.NewFormItem("", g.sample),
		widget.NewFormItem("Top-p · temp.", container.NewGridWithColumns(2, g.topP, g.temp)),
		widget.NewFormItem("Repetition", g.rep),
		widget.NewFormItem("If captioned", g.existing),
	)
	g.note = widget.NewLabel("")
	g.note.Wrapping = fyne.TextWrapWord
	g.note.SizeName = theme.SizeNameCaptionText
	g.note.Hide()
	g.item = widget.NewAccordionItem("Generation", container.NewVBox(form, g.note))
	g.content = widget.NewAccordion(g.item)
	changed := func() { g.save() }
	for _, e := range []*widget.Entry{g.prompt, g.topP, g.temp} {
		e.OnChanged = func(string) { changed() }
	}
	for e, key := range map[*widget.Entry]string{g.beams: prefGenBeams, g.minLen: prefGenMin, g.maxLen: prefGenMax, g.rep: prefGenRepetition} {
		g.numbers.watch(e, key, changed)
	}
	g.sample.OnChanged = func(bool) { g.syncSampling(); changed() }
	g.existing.OnChanged = func(string) { m.prefs.SetInt(prefGenExisting, g.existing.SelectedIndex()) }
	g.syncSampling()
	g.updateTitle(s)
	return g
}

func (g *generationPanel) syncSampling() {
	if g.sample.Checked {
		g.topP.Enable()
		g.temp.Enable()
		g.beams.Disable()
	} else {
		g.topP.Disable()
		g.temp.Disable()
		g.beams.Enable()
	}
}

// settings parses the panel.
func (g *generationPanel) settings() (GenerationSettings, error) {
	var s GenerationSettings
	var errs []error
	atoi := func(name string, e *widget.Entry) int {
		v, err := strconv.Atoi(strings.TrimSpace(e.Text))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q is not a whole number", name, e.Text))
		}
		return v
	}
	atof := func(name string, e *widget.Entry) float64 {
		v, err := strconv.ParseFloat(strings.TrimSpace(e.Text), 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q is not a number", name, e.Text))
		}
		return v
	}
	s.Beams = atoi("beams", g.beams)
	s.MinLength = atoi("min length", g.minLen)
	s.MaxLength = atoi("max length", g.maxLen)
	s.Prompt = strings.TrimSpace(g.prompt.Text)
	s.Sample = g.sample.Checked
	s.TopP = atof("top-p", g.topP)
	s.Temperature = atof("temperature", g.temp)
	s.RepetitionPenalty = atof("repetition penalty", g.rep)
	if err := errors.Join(errs...); err != nil {
		return s, err
	}
	return s, s.Validate()
}

func (g *generationPanel) policy() existingPolicy {
	return existingPolicy(max(g.existing.SelectedIndex(), 0))
}

func (g *generationPanel) save() {
	s, err := g.settings()
	if err != nil {
		return
	}
	saveGeneration(g.m.prefs, s, g.numbers.typed)
	g.updateTitle(s)
}

// followModel fills the beams, lengths and repetition penalty the user has not typed from the
// generation_config.json of the model in dir (the defaults where it sets none), and says which
// values came from it. UI goroutine.
func (g *generationPanel) followModel(dir string) {
	if g == nil {
		return
	}
	var adv GenerationAdvice
	ok := false
	if dir != "" && g.m.deps.AdviseGeneration != nil {
		adv, ok = g.m.deps.AdviseGeneration(dir)
	}
	d := DefaultGeneration()
	fill := func(e *widget.Entry, key, what, def string, advised *string) adviceFill {
		if ok && advised != nil {
			return adviceFill{e, key, what, *advised, true}
		}
		return adviceFill{e, key, what, def, false}
	}
	itoa := func(v *int) *string {
		if v == nil {
			return nil
		}
		s := strconv.Itoa(*v)
		return &s
	}
	var rep *string
	if adv.RepetitionPenalty != nil {
		r := strconv.FormatFloat(*adv.RepetitionPenalty, 'g', -1, 64)
		rep = &r
	}
	used := g.numbers.fill(
		fill(g.maxLen, prefGenMax, "max length", strconv.Itoa(d.MaxLength), itoa(adv.MaxLength)),
		fill(g.minLen, prefGenMin, "min length", strconv.Itoa(d.MinLength), itoa(adv.MinLength)),
		fill(g.beams, prefGenBeams, "beams", strconv.Itoa(d.Beams), itoa(adv.Beams)),
		fill(g.rep, prefGenRepetition, "repetition penalty", strconv.FormatFloat(d.RepetitionPenalty, 'g', -1, 64), rep))
	g.save()
	if len(used) == 0 {
		g.note.Hide()
		return
	}
	g.note.SetText("From this model's generation_config.json: " + strings.Join(used, ", ") + ". A value you type wins.")
	g.note.Show()
}

func (g *generationPanel) updateTitle(s GenerationSettings) {
	g.item.Title = "Generation: " + s.Summary()
	g.content.Refresh()
}

// captionJob is a running auto-captioning job.
type captionJob struct {
	cancel  context.CancelFunc
	done    chan struct{}
	total   int
	written int      // captions written into the dataset
	failed  []string // images that could not be read
	err     error
}

// scopeItems lists the dataset indices a job of scope covers.
func (m *MainWindow) scopeItems(scope captionScope) []int {
	switch scope {
	case scopeCurrent:
		if i := m.current(); i >= 0 {
			return []int{i}
		}
		return nil
	case scopeFiltered:
		return append([]int(nil), m.view...)
	case scopeUncaptioned:
		v, _ := m.ds.Filter(annotate.Filter{Missing: true})
		return v
	default:
		v := make([]int, m.ds.Len())
		for i := range v {
			v[i] = i
		}
		return v
	}
}

// startCaptioning captions the images of scope with the chosen model, in the background. A job
// over many images asks first (confirmCaptioning); the images of the current one starts at once.
func (m *MainWindow) startCaptioning(scope captionScope) {
	if m.ds == nil {
		m.setStatus("Open a folder first (Ctrl+O).")
		return
	}
	if m.captioning != nil {
		m.setStatus("Already captioning: wait, or Cancel it in the status bar.")
		return
	}
	gen, err := m.gen.settings()
	if err != nil {
		m.showError("read the generation settings", err, "Correct the value in the Generation panel, then try again.")
		return
	}
	m.editor.commit()
	items := m.scopeItems(scope)
	if len(items) == 0 {
		m.setStatus("No image to caption.")
		return
	}
	policy := m.gen.policy()
	if scope == scopeCurrent || scope == scopeUncaptioned {
		// The user pointed at this image, or the job only fills images without a caption.
		m.runCaptioning(items, gen, policy, true)
		return
	}
	m.confirmCaptioning(items, gen, policy)
}

// reviewed reports whether a person has had a say on item: one of its captions is approved or was
// not written by a model. A batch job leaves such images alone unless the user asks.
func reviewed(it *annotate.Item) bool {
	for _, c := range it.Captions {
		if c.State == annotate.StateApproved || !c.Origin.IsModel() {
			return true
		}
	}
	return false
}

// splitReviewed splits items into those a batch job captions by default and the reviewed ones.
func splitReviewed(ds *annotate.Dataset, items []int) (todo, kept []int) {
	for _, i := range items {
		if reviewed(ds.Item(i)) {
			kept = append(kept, i)
		} else {
			todo = append(todo, i)
		}
	}
	return todo, kept
}

// captionConfirm is the question asked before a batch job: how many images, which are skipped,
// and a check box to caption the reviewed ones too.
type captionConfirm struct {
	dlg     *dialog.ConfirmDialog
	text    *widget.Label
	include *widget.Check
}

// confirmCaptioning asks before captioning items: it says how many images the model will caption
// and which it skips because a person approved or wrote their captions.
func (m *MainWindow) confirmCaptioning(items []int, gen GenerationSettings, policy existingPolicy) {
	ds := m.ds
	todo, kept := splitReviewed(ds, items)
	names := make([]string, len(kept))
	for k, i := range kept {
		names[k] = ds.Item(i).Path
	}
	c := &captionConfirm{text: widget.NewLabel("")}
	describe := func() {
		n, msg := len(todo), ""
		if c.include != nil && c.include.Checked {
			n = len(items)
		}
		msg = fmt.Sprintf("The model will caption %d of %d images.", n, len(items))
		if len(kept) > 0 && n < len(items) {
			msg += fmt.Sprintf("\nSkipped: %d with approved or hand-written captions (%s).", len(kept), strings.Join(firstN(names, 3), ", "))
		}
		if n > len(todo) {
			msg += "\nImages with captions: " + existingLabels[policy] + " (Generation panel)."
		}
		c.text.SetText(msg + "\nOne Undo (Ctrl+Z) takes the whole job back.")
	}
	c.include = widget.NewCheck(fmt.Sprintf("Also caption the %d images with approved or hand-written captions", len(kept)), func(bool) { describe() })
	if len(kept) == 0 {
		c.include.Hide()
	}
	describe()
	c.dlg = dialog.NewCustomConfirm("Caption the images?", "Caption", "Cancel", container.NewVBox(c.text, c.include), func(ok bool) {
		m.gen.confirm = nil
		switch {
		case !ok:
		case c.include.Checked:
			m.runCaptioning(items, gen, policy, true)
		case len(todo) == 0:
			m.setStatus("No image to caption: every one has approved or hand-written captions.")
		default:
			m.runCaptioning(todo, gen, policy, false)
		}
	}, m.Window)
	m.gen.confirm = c
	c.dlg.Show()
}

// runCaptioning captions items in the background as one undo step. Unless reviewedToo, an image
// a person approved or captioned meanwhile is left alone.
func (m *MainWindow) runCaptioning(items []int, gen GenerationSettings, policy existingPolicy, reviewedToo bool) {
	ctx, cancel := context.WithCancel(m.ctx)
	job := &captionJob{cancel: cancel, done: make(chan struct{}), total: len(items)}
	m.captioning = job
	ds := m.ds
	batch := ds.NewBatch()
	paths := make([]string, len(items))
	for k, i := range items {
		paths[k] = ds.AbsPath(ds.Item(i))
	}
	m.job.begin("Captioning", "img", len(items), cancel)
	start := time.Now()
	go func() {
		defer close(job.done)
		defer cancel()
		lm, err := m.models.acquire(ctx, m.job.setTitle)
		if err != nil {
			job.err = err
			onUI(func() { m.finishCaptioning(job, start) })
			return
		}
		defer m.models.release(lm)
		m.job.setTitle("Captioning with " + lm.c.Name())
		origin := annotate.ModelOrigin(lm.c.Name())
		done := 0
		for s := 0; s < len(items) && ctx.Err() == nil; s += captionChunk {
			e := min(s+captionChunk, len(items))
			base := done
			caps, err := lm.c.Caption(ctx, paths[s:e], gen, func(d int) { m.job.set(base + d) })
			var ie *ImageError
			if err != nil && !errors.As(err, &ie) {
				if ctx.Err() == nil {
					job.err = err
				}
				break
			}
			if ie != nil {
				job.failed = append(job.failed, unreadableNames(ds, ie)...)
				markUnreadable(ds, items[s:e], paths[s:e], ie)
			}
			done = e
			part := items[s:e]
			onUIWait(func() {
				if m.ds != ds {
					return
				}
				m.editor.commit()
				for k, i := range part {
					if k >= len(caps) || (!reviewedToo && reviewed(ds.Item(i))) {
						continue
					}
					if m.applyModelCaptionTo(batch, i, caps[k], origin, policy) {
						job.written++
					}
				}
			})
			m.job.set(done)
		}
		onUI(func() { m.finishCaptioning(job, start) })
	}()
}

// markUnreadable tells the dataset which of items (at paths) the model could not read, so that
// export leaves them out even when their header looks fine.
func markUnreadable(ds *annotate.Dataset, items []int, paths []string, ie *ImageError) {
	for k, p := range paths {
		for j, bad := range ie.Paths {
			if bad == p {
				ds.MarkUnreadable(items[k], imageErrReason(ie, j))
			}
		}
	}
}

// imageErrReason is why image j of ie could not be read, without the path the error repeats.
func imageErrReason(ie *ImageError, j int) string {
	if j >= len(ie.Errs) || ie.Errs[j] == nil {
		return "unreadable"
	}
	reason := ie.Errs[j].Error()
	if _, after, ok := strings.Cut(reason, ie.Paths[j]+": "); ok {
		reason = after
	}
	return reason
}

// unreadableNames lists the images of ie as "NAME (reason)", NAME relative to the dataset and the
// reason without the path the error repeats.
func unreadableNames(ds *annotate.Dataset, ie *ImageError) []string {
	out := make([]string, len(ie.Paths))
	for k, p := range ie.Paths {
		name := p
		if rel, err := filepath.Rel(ds.Root(), p); err == nil && !strings.HasPrefix(rel, "..") {
			name = filepath.ToSlash(rel)
		}
		reason := imageErrReason(ie, k)
		out[k] = name + " (" + reason + ")"
	}
	return out
}

// captionWriter is what a model caption is written through: the Dataset, or a Batch of it so that
// a job undoes in one step.
type captionWriter interface {
	SetCaption(i, c int, text string, origin annotate.Origin) error
	AddCaption(i int, text string, origin annotate.Origin) (int, error)
	RemoveCaption(i, c int) error
}

// applyModelCaption writes a model caption into item i as policy says, and reports whether it did.
// An unreviewed caption by the same model is replaced rather than joined by a second one.
func (m *MainWindow) applyModelCaption(i int, text string, origin annotate.Origin, policy existingPolicy) bool {
	return m.applyModelCaptionTo(m.ds, i, text, origin, policy)
}

// applyModelCaptionTo is applyModelCaption writing through ds (the Dataset or a Batch of it).
func (m *MainWindow) applyModelCaptionTo(ds captionWriter, i int, text string, origin annotate.Origin, policy existingPolicy) bool {
	text = cleanCaption(text)
	if text == "" {
		return false
	}
	it := m.ds.Item(i)
	report := func(err error) bool {
		if err != nil {
			m.setStatus(fmt.Sprintf("Could not write the caption of %s: %v", it.Path, err))
			return false
		}
		return true
	}
	for c, cp := range it.Captions {
		if cp.Origin == origin && cp.State == annotate.StateUnreviewed {
			if cp.Text == text {
				return false
			}
			return report(ds.SetCaption(i, c, text, origin))
		}
	}
	switch {
	case !it.HasCaption():
		_, err := ds.AddCaption(i, text, origin)
		return report(err)
	case policy == existingSkip:
		return false
	case policy == existingReplace:
		for c := len(it.Captions) - 1; c >= 1; c-- {
			if err := ds.RemoveCaption(i, c); err != nil {
				return report(err)
			}
		}
		return report(ds.SetCaption(i, 0, text, origin))
	default:
		for _, cp := range it.Captions {
			if cp.Text == text {
				return false
			}
		}
		_, err := ds.AddCaption(i, text, origin)
		return report(err)
	}
}

func (m *MainWindow) finishCaptioning(job *captionJob, start time.Time) {
	if m.captioning == job {
		m.captioning = nil
	}
	m.job.mu.Lock()
	done := m.job.done
	m.job.mu.Unlock()
	took := formatDuration(time.Since(start))
	switch {
	case job.err != nil && errors.Is(job.err, errNoModel):
		m.job.end("No model: captioning did not start.")
		m.showError("caption the images", job.err, "Pick a model folder (Hugging Face BLIP layout) in the model menu at the top right.")
	case job.err != nil:
		m.job.end(fmt.Sprintf("Captioning failed after %d of %d images.", done, job.total))
		m.showError("caption the images", job.err, "Check the model folder and the device; the captions written so far are kept.")
	case done < job.total:
		m.job.end(fmt.Sprintf("Cancelled after %d of %d images (%d captions written).", done, job.total, job.written))
	default:
		msg := fmt.Sprintf("Captioned %d of %d images", done-len(job.failed), job.total)
		if n := len(job.failed); n > 0 {
			msg += fmt.Sprintf(" · %d could not be read: %s", n, strings.Join(firstN(job.failed, 3), ", "))
		}
		m.job.end(msg + fmt.Sprintf(" · %s, %d captions written.", took, job.written))
	}
	if len(job.failed) > 0 {
		m.showError("read some images", fmt.Errorf("%d images could not be read: %s", len(job.failed), strings.Join(firstN(job.failed, 5), ", ")),
			"Check that these files are images Captune can decode (JPEG, PNG, WebP, GIF, BMP, TIFF); export leaves them out.")
	}
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(append([]string(nil), s[:n]...), "…")
	}
	return s
}
