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
	if dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
			dir = ""
		}
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

// options lists the known models as (label, folder) pairs, in menu order.
func (p *modelPicker) options() (labels []string, dirs map[string]string) {
	dirs = map[string]string{}
	add := func(label, dir string) {
		if dir == "" {
			return
		}
		for _, d := range dirs {
			if d == dir {
				return
			}
		}
		base := label
		for n := 2; dirs[label] != ""; n++ {
			label = fmt.Sprintf("%s (%d)", base, n)
		}
		dirs[label] = dir
		labels = append(labels, label)
	}
	add(labelBundled, p.m.deps.DefaultModel)
	for _, hm := range p.cachedModels() {
		if dir := readySnapshot(hm); dir != "" {
			add(path.Base(hm.Repo), dir)
		}
	}
	for _, d := range p.m.prefs.StringList(prefRecentModels) {
		if _, err := os.Stat(filepath.Join(d, "config.json")); err == nil {
			add(filepath.Base(d), d)
		}
	}
	for _, d := range findRuns(p.m.deps.RunsDir) {
		add("run "+filepath.Base(d), d)
	}
	return labels, dirs
}

// findRuns lists the finished runs under root (folders with a model config), newest first.
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
		if st, err := os.Stat(filepath.Join(d, "config.json")); err == nil {
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
		p.m.chooseFolder("Choose a model folder (with config.json)", func(dir string) {
			if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
				p.m.showError("use the model in "+dir, errors.New("no config.json in this folder"),
					"Choose a folder in Hugging Face layout: config.json, model.safetensors (or pytorch_model.bin) and the tokenizer files.")
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
