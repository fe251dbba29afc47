package ui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"
)

// errNoModel is returned when auto-captioning is asked for with no model chosen.
var errNoModel = errors.New("no captioning model chosen")

const (
	labelBundled    = "bundled model"
	labelChooseDir  = "Choose a model folder…"
	labelGetModel   = "Get a model…"
	labelNoModel    = "no model"
	modelLabelWidth = 40
)

// modelPicker is the "model: …" menu: the bundled model, model folders used before, and the
// fine-tuned models of past runs. The chosen model is loaded on first use, off the UI goroutine,
// and kept until another is chosen (then freed once no job uses it).
type modelPicker struct {
	m      *MainWindow
	Select *widget.Select
	dirs   map[string]string // option label → folder

	mu        sync.Mutex
	dir       string // the chosen folder ("" none)
	device    string
	precision string // "fp32" or "bf16", the Fine-tune tab's Precision menu
	cur       *loadedModel

	// followModel tells the Generation panel the chosen folder, so it fills in the model's
	// decoding settings; onOptions tells the Fine-tune tab's base model menu that the menu changed.
	// UI goroutine; nil: nobody listens.
	followModel func(dir string)
	onOptions   func()

	downloads map[string]*download // hub repo → its running download; UI goroutine
	dialog    *modelsDialog        // the open Models dialog, or nil; UI goroutine
	banner    *demoBanner          // the Annotate tab's note about the demo model
}

type loadedModel struct {
	c     Captioner
	key   string // dir|device|precision
	refs  int
	stale bool
}

// newModelPicker builds the menu and chooses the last model used (else the default), telling
// followModel. UI goroutine.
func newModelPicker(m *MainWindow, followModel func(dir string)) *modelPicker {
	p := &modelPicker{m: m, followModel: followModel, dirs: map[string]string{}, downloads: map[string]*download{}}
	p.Select = widget.NewSelect(nil, p.onSelect)
	p.Select.PlaceHolder = labelNoModel
	p.banner = newDemoBanner(m)
	p.device = m.prefs.StringWithFallback(prefDevice, firstOr(m.deps.Devices, "auto"))
	p.precision = loadPrecision(m)
	dir := m.prefs.String(prefModel)
	if !isModelDir(dir) {
		dir = ""
	}
	if dir == "" {
		dir = m.deps.DefaultModel
	}
	p.refreshOptions()
	p.choose(dir)
	return p
}

func firstOr(list []string, def string) string {
	if len(list) > 0 {
		return list[0]
	}
	return def
}

// options lists the known models as (label, folder) pairs, in menu order: the bundled model, the
// hub cache, folders used before and fine-tuned runs, each base model followed by the LoRA
// adapters trained from it (indented, "  ↳ RUN (LoRA r16)").
func (p *modelPicker) options() (labels []string, dirs map[string]string) {
	dirs = map[string]string{}
	add := func(e modelEntry) {
		for _, d := range dirs {
			if d == e.dir {
				return
			}
		}
		label := e.label
		for n := 2; dirs[label] != ""; n++ {
			label = fmt.Sprintf("%s (%d)", e.label, n)
		}
		dirs[label] = e.dir
		labels = append(labels, label)
	}
	bases, adapters := p.knownModels()
	bases, under, orphans := p.groupAdapters(bases, adapters)
	for _, b := range bases {
		add(b)
		for _, a := range under[filepath.Clean(b.dir)] {
			add(a)
		}
	}
	for _, a := range orphans {
		add(a)
	}
	return labels, dirs
}

// modelEntry is one model of the menu.
type modelEntry struct{ label, dir string }

// knownModels lists the whole models (bases) and the adapter folders the menu offers, in order.
func (p *modelPicker) knownModels() (bases []modelEntry, adapters []string) {
	note := func(label, dir string) {
		switch {
		case dir == "":
		case isAdapterDir(dir):
			adapters = append(adapters, dir)
		default:
			bases = append(bases, modelEntry{label, dir})
		}
	}
	note(labelBundled, p.m.deps.DefaultModel)
	for _, hm := range p.cachedModels() {
		if dir := readySnapshot(hm); dir != "" {
			note(path.Base(hm.Repo), dir)
		}
	}
	for _, d := range p.m.prefs.StringList(prefRecentModels) {
		if isModelDir(d) {
			note(filepath.Base(d), d)
		}
	}
	for _, d := range findRuns(p.m.deps.RunsDir) {
		note("run "+filepath.Base(d), d)
	}
	return bases, adapters
}

// groupAdapters files each adapter under its base model (under, by the base's cleaned folder), adding a
// base that is not listed yet; adapters whose base Deps.Adapter cannot tell are the orphans, listed
// last by their folder name.
func (p *modelPicker) groupAdapters(bases []modelEntry, adapters []string) ([]modelEntry, map[string][]modelEntry, []modelEntry) {
	under := map[string][]modelEntry{}
	var orphans []modelEntry
	listed := map[string]bool{}
	for _, b := range bases {
		listed[filepath.Clean(b.dir)] = true
	}
	seen := map[string]bool{}
	for _, dir := range adapters {
		if seen[dir] {
			continue
		}
		seen[dir] = true
		var info AdapterInfo
		err := errors.New("no adapter reader")
		if p.m.deps.Adapter != nil {
			info, err = p.m.deps.Adapter(dir)
		}
		kind := loraKind(info)
		if err != nil || info.Base == "" {
			orphans = append(orphans, modelEntry{fmt.Sprintf("run %s (%s)", filepath.Base(dir), kind), dir})
			continue
		}
		base := filepath.Clean(info.Base)
		if !listed[base] {
			listed[base] = true
			bases = append(bases, modelEntry{filepath.Base(base), base})
		}
		under[base] = append(under[base], modelEntry{fmt.Sprintf("  ↳ %s (%s)", filepath.Base(dir), kind), dir})
	}
	return bases, under, orphans
}

// loraKind names an adapter in lists: "LoRA r16", or "LoRA" when its rank is unknown.
func loraKind(info AdapterInfo) string {
	if info.Rank > 0 {
		return fmt.Sprintf("LoRA r%d", info.Rank)
	}
	return "LoRA"
}

// runText describes a run folder in the Models dialog: for a LoRA run, the adapter and its base
// ("LoRA r16 adapter on blip-image-captioning-base"), then the run's date and folder.
func (p *modelPicker) runText(dir string) string {
	text := runDate(dir) + " · " + homeRel(dir)
	if !isAdapterDir(dir) {
		return text
	}
	var info AdapterInfo
	base := "a base model that was not found"
	if p.m.deps.Adapter != nil {
		var err error
		if info, err = p.m.deps.Adapter(dir); err == nil && info.Base != "" {
			base = p.labelOrBase(info.Base)
		}
	}
	return loraKind(info) + " adapter on " + base + " · " + text
}

// labelOrBase is how the model menu names dir, else the folder's name.
func (p *modelPicker) labelOrBase(dir string) string {
	if l := p.labelOf(dir); l != "" {
		return l
	}
	return filepath.Base(dir)
}

// baseOf is the base model of an adapter folder (as Deps.Adapter resolves it), else dir itself.
func (p *modelPicker) baseOf(dir string) string {
	if !isAdapterDir(dir) || p.m.deps.Adapter == nil {
		return dir
	}
	if info, err := p.m.deps.Adapter(dir); err == nil && info.Base != "" {
		return info.Base
	}
	return dir
}

// adapterConfigFile marks a LoRA adapter folder (peft's layout); loading one loads its base model
// and attaches the adapter, so the picker treats it as a model folder.
const adapterConfigFile = "adapter_config.json"

func isAdapterDir(dir string) bool { return fileExists(filepath.Join(dir, adapterConfigFile)) }

// isModelDir reports whether dir holds a model the loader takes: a Hugging Face model folder
// (config.json) or an adapter folder.
func isModelDir(dir string) bool {
	return dir != "" && (fileExists(filepath.Join(dir, "config.json")) || isAdapterDir(dir))
}

// findRuns lists the finished runs under root, newest first: folders with a model config, or with
// the adapter of a LoRA run.
func findRuns(root string) []string {
	if root == "" {
		return nil
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	type run struct {
		dir string
		mod int64
	}
	var runs []run
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		d := filepath.Join(root, e.Name())
		if st, err := os.Stat(modelConfig(d)); err == nil {
			runs = append(runs, run{d, st.ModTime().UnixNano()})
		}
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].mod > runs[j].mod })
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = r.dir
	}
	return out
}

// modelConfig is the file that makes dir a model: adapter_config.json in an adapter folder, else
// config.json.
func modelConfig(dir string) string {
	if isAdapterDir(dir) {
		return filepath.Join(dir, adapterConfigFile)
	}
	return filepath.Join(dir, "config.json")
}

// refreshOptions rebuilds the menu. UI goroutine.
func (p *modelPicker) refreshOptions() {
	labels, dirs := p.options()
	p.dirs = dirs
	p.Select.Options = append(labels, labelChooseDir, labelGetModel)
	if p.m.deps.DefaultModel == "" && p.m.deps.DefaultModelErr != nil {
		p.Select.PlaceHolder = labelNoModel
	}
	p.Select.Refresh()
	if p.onOptions != nil {
		p.onOptions()
	}
}

// labelOf returns the menu label of a folder, or "".
func (p *modelPicker) labelOf(dir string) string {
	for l, d := range p.dirs {
		if d == dir {
			return l
		}
	}
	return ""
}

// choose makes dir the model for auto-captioning (adding it to the menu). UI goroutine.
func (p *modelPicker) choose(dir string) {
	if dir != "" && p.labelOf(dir) == "" {
		pushRecent(p.m.prefs, prefRecentModels, dir)
		p.refreshOptions()
	}
	p.mu.Lock()
	p.dir = dir
	p.mu.Unlock()
	if p.followModel != nil {
		p.followModel(dir)
	}
	if dir == "" {
		p.Select.ClearSelected()
		return
	}
	p.m.prefs.SetString(prefModel, dir)
	if l := p.labelOf(dir); l != "" && p.Select.Selected != l {
		p.Select.SetSelected(l)
	}
	p.updateBanner()
}

func (p *modelPicker) onSelect(label string) {
	if label == labelGetModel {
		if l := p.labelOf(p.chosen()); l != "" {
			p.Select.SetSelected(l)
		} else {
			p.Select.ClearSelected()
		}
		p.m.showModels()
		return
	}
	if label == labelChooseDir {
		p.Select.ClearSelected()
		p.m.chooseFolder("Choose a model folder (with config.json) or a LoRA adapter folder", func(dir string) {
			if !isModelDir(dir) {
				p.m.showError("use the model in "+dir, errors.New("no config.json or adapter_config.json in this folder"),
					"Choose a folder in Hugging Face layout (config.json, model.safetensors or pytorch_model.bin, and the tokenizer files), or a LoRA adapter folder (adapter_config.json, adapter_model.safetensors).")
				p.choose(p.chosen())
				return
			}
			p.choose(dir)
			p.m.setStatus("Auto-captioning uses " + dir)
		}, func() { p.choose(p.chosen()) })
		return
	}
	if dir, ok := p.dirs[label]; ok {
		p.mu.Lock()
		p.dir = dir
		p.mu.Unlock()
		if p.followModel != nil {
			p.followModel(dir)
		}
		p.m.prefs.SetString(prefModel, dir)
		p.updateBanner()
		p.refreshDialog()
	}
}

// chosen returns the chosen model folder.
func (p *modelPicker) chosen() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dir
}

// setPrecision changes the precision ("fp32" or "bf16") the next load uses.
func (p *modelPicker) setPrecision(s string) {
	p.mu.Lock()
	p.precision = s
	p.mu.Unlock()
}

// setDevice changes the device the next load uses.
func (p *modelPicker) setDevice(d string) {
	p.mu.Lock()
	p.device = d
	p.mu.Unlock()
}

// acquire returns the chosen model, loading it first if needed. It blocks (call it off the UI
// goroutine); loading reports through status. Call release when done with it.
func (p *modelPicker) acquire(ctx context.Context, status func(string)) (*loadedModel, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dir == "" {
		why := "choose a model folder in the model menu (top right)"
		if p.m.deps.DefaultModelErr != nil {
			why = fmt.Sprintf("%v; %s", p.m.deps.DefaultModelErr, why)
		}
		return nil, fmt.Errorf("%w: %s", errNoModel, why)
	}
	if p.m.deps.LoadModel == nil {
		return nil, fmt.Errorf("%w: this build cannot load models", errNoModel)
	}
	key := p.dir + "|" + p.device + "|" + p.precision
	if p.cur != nil && p.cur.key == key {
		p.cur.refs++
		return p.cur, nil
	}
	if status != nil {
		status("Loading " + filepath.Base(p.dir) + "…")
	}
	c, err := p.m.deps.LoadModel(ctx, p.dir, p.device, p.precision)
	if err != nil {
		return nil, fmt.Errorf("load the model in %s: %w", p.dir, err)
	}
	if old := p.cur; old != nil {
		old.stale = true
		if old.refs == 0 {
			old.c.Close()
		}
	}
	p.cur = &loadedModel{c: c, key: key, refs: 1}
	return p.cur, nil
}

// release gives back a model from acquire, freeing it when it was replaced meanwhile.
func (p *modelPicker) release(lm *loadedModel) {
	p.mu.Lock()
	defer p.mu.Unlock()
	lm.refs--
	if lm.refs == 0 && lm.stale {
		lm.c.Close()
	}
}

// unload frees the loaded model unless a job uses it, and says what it did (for the status bar).
// The chosen model stays chosen: the next job loads it again.
func (p *modelPicker) unload() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.cur == nil:
		return "No model is loaded: nothing to free."
	case p.cur.refs > 0:
		return "Not freed: " + p.cur.c.Name() + " is in use by a running job. Cancel the job or wait for it, then free the memory."
	}
	name := p.cur.c.Name()
	err := p.cur.c.Close()
	p.cur = nil
	if err != nil {
		return fmt.Sprintf("Could not free the memory of %s: %v", name, err)
	}
	return "Freed the memory of " + name + "; it loads again when a job needs it."
}

// close frees the loaded model (the window is closing).
func (p *modelPicker) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != nil {
		if p.cur.refs == 0 {
			p.cur.c.Close()
		} else {
			p.cur.stale = true
		}
		p.cur = nil
	}
}

// chooseFolder shows the folder dialog; onCancel may be nil.
func (m *MainWindow) chooseFolder(title string, onPick func(dir string), onCancel func()) {
	d := dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
		if err != nil {
			m.showError("choose a folder", err, "")
			return
		}
		if u == nil {
			if onCancel != nil {
				onCancel()
			}
			return
		}
		onPick(u.Path())
	}, m.Window)
	d.SetTitleText(title)
	d.Resize(m.dialogSize())
	d.Show()
}
