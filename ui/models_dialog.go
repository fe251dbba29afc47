package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/widget"

	"github.com/captune/captune/internal/hub"
)

// The Models dialog lists every model the window can caption with: captioning models to download
// from the Hugging Face hub, the models already in its cache (Python's downloads included),
// fine-tuned runs, model folders used before and the bundled demo model. A download runs in the
// background and outlives the dialog; closing the window cancels it, and the next Download resumes
// the partial file.

// recommendedModel is one captioning model the Models dialog offers to download.
type recommendedModel struct {
	Repo    string
	Size    int64 // bytes of the download (weights, config, tokenizer)
	Params  string
	GoodFor string
}

// recommendedModels are the captioning models offered for download, smallest first.
var recommendedModels = []recommendedModel{
	{"Salesforce/blip-image-captioning-base", 990_000_000, "247 M parameters", "general photos; fast"},
	{"Salesforce/blip-image-captioning-large", 1_880_000_000, "470 M parameters", "more detailed captions; slower"},
}

// demoModelText says what the bundled model is, in the dialog and the first-run banner.
const demoModelText = "a 0.9 M-parameter demo model trained on synthetic shapes; it will not caption your photos well"

// download is a hub download started from the dialog: running, or the note its end left.
type download struct {
	running bool
	cancel  context.CancelFunc
	last    hub.Progress
	note    string // how the last attempt ended, "" when it succeeded
}

// modelsDialog is the open Models dialog. Its rows are rebuilt by refresh; the progress of a
// running download updates its row in place.
type modelsDialog struct {
	p      *modelPicker
	d      *dialog.CustomDialog
	list   *fyne.Container
	footer *widget.Label
	rows   map[string]*hubRow // hub repo → its row
}

// hubRow is one hub repo of the dialog.
type hubRow struct {
	repo                       string
	state, progress            *widget.Label
	bar                        *widget.ProgressBar
	download, cancel, use, del *widget.Button
}

// showModels opens the Models dialog (or brings the open one up to date). UI goroutine.
func (m *MainWindow) showModels() {
	p := m.models
	if p.dialog != nil {
		p.dialog.refresh()
		return
	}
	md := &modelsDialog{p: p, list: container.NewVBox(), footer: widget.NewLabel("")}
	md.footer.Wrapping = fyne.TextWrapWord
	choose := widget.NewButton(labelChooseDir, func() { p.onSelect(labelChooseDir) })
	bottom := container.NewVBox(widget.NewSeparator(), md.footer, container.NewHBox(choose))
	content := container.NewBorder(nil, bottom, nil, nil, container.NewVScroll(md.list))
	md.d = dialog.NewCustom("Models", "Close", content, m.Window)
	md.d.SetOnClosed(func() { p.dialog = nil })
	md.d.Resize(m.dialogSize())
	p.dialog = md
	md.refresh()
	md.d.Show()
}

// refresh rebuilds the dialog's lists from the cache and the picker. UI goroutine.
func (md *modelsDialog) refresh() {
	p := md.p
	md.rows = map[string]*hubRow{}
	md.list.RemoveAll()
	cached := map[string]hub.CachedModel{}
	for _, hm := range p.cachedModels() {
		cached[hm.Repo] = hm
	}
	md.section("Download a captioning model")
	if p.m.deps.Models == nil {
		md.list.Add(widget.NewLabel("This build cannot download models: choose a model folder below."))
	}
	recommended := map[string]bool{}
	for _, r := range recommendedModels {
		recommended[r.Repo] = true
		if p.m.deps.Models != nil {
			sub := fmt.Sprintf("%s · %s · %s", hub.FormatBytes(r.Size), r.Params, r.GoodFor)
			md.addHubRow(r.Repo, sub, r.Size, cached[r.Repo])
		}
	}
	var others []hub.CachedModel
	for _, hm := range p.cachedModels() {
		if !recommended[hm.Repo] {
			others = append(others, hm)
		}
	}
	if len(others) > 0 {
		md.section("In the Hugging Face cache")
		for _, hm := range others {
			md.addHubRow(hm.Repo, "", 0, hm)
		}
	}
	if runs := findRuns(p.m.deps.RunsDir); len(runs) > 0 {
		md.section("Fine-tuned models (runs in " + homeRel(p.m.deps.RunsDir) + ")")
		for _, d := range runs {
			md.addFolderRow("run "+filepath.Base(d), p.runText(d), d, true)
		}
	}
	var recent []string
	for _, d := range p.m.prefs.StringList(prefRecentModels) {
		inRuns := p.m.deps.RunsDir != "" && strings.HasPrefix(d, p.m.deps.RunsDir+string(filepath.Separator))
		if _, err := os.Stat(filepath.Join(d, "config.json")); err == nil && !inRuns {
			recent = append(recent, d)
		}
	}
	if len(recent) > 0 {
		md.section("Model folders used before")
		for _, d := range recent {
			md.addFolderRow(filepath.Base(d), homeRel(d), d, true)
		}
	}
	if d := p.m.deps.DefaultModel; d != "" {
		md.section("Bundled")
		md.addFolderRow("Demo model", strings.ToUpper(demoModelText[:1])+demoModelText[1:]+".", d, false)
	}
	md.footer.SetText(md.settingsText())
	md.list.Refresh()
}

func (md *modelsDialog) section(title string) {
	if len(md.list.Objects) > 0 {
		md.list.Add(widget.NewSeparator())
	}
	md.list.Add(widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
}

// settingsText says where models go and which hub settings apply.
func (md *modelsDialog) settingsText() string {
	if md.p.m.deps.Models == nil {
		return "Models are folders in Hugging Face layout: config.json, model.safetensors, preprocessor_config.json and the tokenizer files."
	}
	s := md.p.m.deps.Models.Settings()
	token := "no access token (set HF_TOKEN for private or gated models)"
	if s.TokenFrom != "" {
		token = "token from " + s.TokenFrom
	}
	text := fmt.Sprintf("Downloads go to the Hugging Face cache %s (shared with Python tools) from %s, %s.", homeRel(s.CacheDir), s.Endpoint, token)
	if s.Offline {
		text += "\nOffline mode (HF_HUB_OFFLINE is set): nothing is downloaded. " + copyInHint
	}
	return text
}

// copyInHint tells how to get a model onto a machine without network access.
const copyInHint = "To use a model without network access, copy a model folder in: a BLIP folder with config.json, " +
	"model.safetensors, preprocessor_config.json and the tokenizer files (tokenizer.json or vocab.txt), " +
	"downloaded on another machine; then open it with \"" + labelChooseDir + "\" in the model menu."

// addFolderRow lists a model folder with Use (and Show folder when reveal is set).
func (md *modelsDialog) addFolderRow(title, sub, dir string, reveal bool) {
	p := md.p
	use := widget.NewButton("Use", func() { p.use(dir) })
	if p.chosen() == dir {
		use.SetText("In use")
		use.Disable()
	}
	buttons := container.NewHBox(use)
	if reveal {
		buttons.Add(widget.NewButton("Show folder", func() { p.m.showFolder(dir) }))
	}
	md.addRow(title, sub, nil, buttons)
}

func (md *modelsDialog) addRow(title, sub string, extra []fyne.CanvasObject, buttons fyne.CanvasObject) {
	text := container.NewVBox(widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	if sub != "" {
		l := widget.NewLabel(sub)
		l.Wrapping = fyne.TextWrapWord
		text.Add(l)
	}
	for _, o := range extra {
		text.Add(o)
	}
	md.list.Add(container.NewBorder(nil, nil, nil, container.NewVBox(buttons), text))
}

// addHubRow lists a hub repo with its state and Download, Cancel, Use and Delete.
func (md *modelsDialog) addHubRow(repo, sub string, size int64, hm hub.CachedModel) {
	p := md.p
	r := &hubRow{repo: repo, state: widget.NewLabel(""), progress: widget.NewLabel(""), bar: widget.NewProgressBar()}
	r.state.Wrapping = fyne.TextWrapWord
	r.download = widget.NewButton("Download", func() { p.startDownload(repo, size) })
	r.cancel = widget.NewButton("Cancel", func() { p.cancelDownload(repo) })
	r.use = widget.NewButton("Use", func() { p.use(readySnapshot(p.cachedModel(repo))) })
	r.del = widget.NewButton("Delete…", func() { p.confirmDelete(repo) })
	md.rows[repo] = r
	md.addRow(repo, sub, []fyne.CanvasObject{r.state, r.bar, r.progress}, container.NewHBox(r.download, r.cancel, r.use, r.del))
	md.updateRow(r, hm)
}

// updateRow shows a hub repo's state: downloading, downloaded, partial or absent. UI goroutine.
func (md *modelsDialog) updateRow(r *hubRow, hm hub.CachedModel) {
	p := md.p
	dl := p.downloads[r.repo]
	running := dl != nil && dl.running
	ready := readySnapshot(hm)
	show := func(o fyne.CanvasObject, on bool) {
		if on {
			o.Show()
		} else {
			o.Hide()
		}
	}
	show(r.bar, running)
	show(r.progress, running)
	show(r.cancel, running)
	other := ready == "" && completeSnapshot(hm) != "" // complete, but not a captioning model
	show(r.download, !running && ready == "" && !other)
	show(r.del, !running && (hm.Size > 0 || len(hm.Snapshots) > 0))
	show(r.use, ready != "")
	r.download.SetText("Download")
	if hm.Size > 0 {
		r.download.SetText("Resume download")
	}
	r.use.SetText("Use")
	r.use.Enable()
	if ready != "" && ready == p.chosen() {
		r.use.SetText("In use")
		r.use.Disable()
	}
	var state string
	switch {
	case running:
		state, r.progress.Text = progressText(dl.last)
		if dl.last.Total > 0 {
			r.bar.SetValue(float64(dl.last.Done) / float64(dl.last.Total))
		}
		r.progress.Refresh()
	case ready != "":
		state = fmt.Sprintf("Downloaded: %s in the cache, ready to use.", hub.FormatBytes(hm.Size))
	case other:
		state = fmt.Sprintf("In the cache (%s), but not a BLIP captioning model: Captune cannot caption with it.", hub.FormatBytes(hm.Size))
	case hm.Size > 0:
		state = fmt.Sprintf("Partly downloaded: %s in the cache; Resume download continues from there.", hub.FormatBytes(hm.Size))
	default:
		state = "Not downloaded."
	}
	if dl != nil && !running && dl.note != "" {
		state = dl.note + "\n" + state
	}
	r.state.SetText(state)
}

// progressText describes a running download in two lines: the file, then bytes, rate and ETA.
func progressText(pr hub.Progress) (file, bytes string) {
	if pr.Files == 0 {
		return "Downloading: asking the hub for the files…", ""
	}
	file = fmt.Sprintf("Downloading file %d of %d: %s", pr.FileIndex, pr.Files, pr.File)
	if pr.Resumes > 0 {
		file += fmt.Sprintf(" (connection resumed %d×)", pr.Resumes)
	}
	bytes = fmt.Sprintf("%s of %s", hub.FormatBytes(pr.Done), hub.FormatBytes(pr.Total))
	if pr.BytesPerSecond > 0 {
		bytes += fmt.Sprintf(" · %s/s", hub.FormatBytes(int64(pr.BytesPerSecond)))
	}
	if pr.ETA > 0 {
		bytes += " · ETA " + formatDuration(pr.ETA)
	}
	return file, bytes
}

// cachedModels lists the hub cache, nil without a store or when it cannot be read.
func (p *modelPicker) cachedModels() []hub.CachedModel {
	if p.m.deps.Models == nil {
		return nil
	}
	list, err := p.m.deps.Models.List()
	if err != nil {
		return nil
	}
	return list
}

// cachedModel returns repo's entry in the cache (zero when absent).
func (p *modelPicker) cachedModel(repo string) hub.CachedModel {
	for _, hm := range p.cachedModels() {
		if hm.Repo == repo {
			return hm
		}
	}
	return hub.CachedModel{}
}

// readySnapshot is the folder of a cached repo's usable snapshot: a complete BLIP model, the one
// main names, else the newest; "" when none is usable.
func readySnapshot(hm hub.CachedModel) string {
	dir := completeSnapshot(hm)
	if dir == "" || !isBLIP(dir) {
		return ""
	}
	return dir
}

// completeSnapshot is the snapshot of a cached repo that has every file a model needs (the one
// main names, else the newest), whatever the model; "" when none has.
func completeSnapshot(hm hub.CachedModel) string {
	for _, s := range hm.Snapshots {
		if s.Complete && containsString(s.Refs, hub.DefaultRevision) {
			return s.Dir
		}
	}
	for _, s := range hm.Snapshots {
		if s.Complete {
			return s.Dir
		}
	}
	return ""
}

// isBLIP reports whether the model in dir is a BLIP model, the only kind Captune captions with:
// the cache also holds what Python tools downloaded for other tasks.
func isBLIP(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return false
	}
	var cfg struct {
		ModelType string `json:"model_type"`
	}
	return json.Unmarshal(b, &cfg) == nil && cfg.ModelType == "blip"
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// startDownload checks the free space and downloads repo in the background. UI goroutine.
func (p *modelPicker) startDownload(repo string, size int64) {
	store := p.m.deps.Models
	if store == nil || (p.downloads[repo] != nil && p.downloads[repo].running) {
		return
	}
	if err := store.CheckSpace(repo, size); err != nil {
		p.downloadFailed(repo, err)
		return
	}
	ctx, cancel := context.WithCancel(p.m.ctx)
	dl := &download{running: true, cancel: cancel}
	p.downloads[repo] = dl
	p.refreshDialog()
	p.m.setStatus("Downloading " + repo + "…")
	go func() {
		defer cancel()
		dir, err := store.Download(ctx, repo, func(pr hub.Progress) {
			onUI(func() {
				dl.last = pr
				p.updateRow(repo)
			})
		})
		onUI(func() { p.downloadDone(repo, dl, dir, err) })
	}()
}

// cancelDownload stops repo's download; its partial file stays for the next one.
func (p *modelPicker) cancelDownload(repo string) {
	if dl := p.downloads[repo]; dl != nil && dl.running {
		dl.cancel()
	}
}

func (p *modelPicker) downloadDone(repo string, dl *download, dir string, err error) {
	dl.running = false
	var msg string
	switch {
	case err == nil:
		dl.note = ""
		p.refreshOptions()
		msg = fmt.Sprintf("Downloaded %s: Use it in the Models dialog, or pick %s in the model menu.", repo, path.Base(repo))
	case errors.Is(err, context.Canceled):
		dl.note = fmt.Sprintf("Cancelled: %s kept in the cache.", hub.FormatBytes(p.cachedModel(repo).Size))
		msg = "Cancelled the download of " + repo + "; Resume download continues it."
	default:
		p.downloadFailed(repo, err)
		return
	}
	p.refreshDialog()
	p.m.setStatus(msg) // last: the dialog is up to date when the status bar says it is done
}

// downloadFailed notes the failure in the dialog and explains it in an error dialog.
func (p *modelPicker) downloadFailed(repo string, err error) {
	dl := p.downloads[repo]
	if dl == nil {
		dl = &download{}
		p.downloads[repo] = dl
	}
	dl.running = false
	dl.note = "Failed: " + err.Error()
	p.refreshDialog()
	p.m.showError("download "+repo, err, downloadHint(err))
}

// downloadHint says what to do about a failed download.
func downloadHint(err error) string {
	switch {
	case errors.Is(err, hub.ErrAccessDenied):
		return "Set HF_TOKEN to an access token that may read the model (create one in your Hugging Face settings, or run huggingface-cli login), then restart Captune."
	case errors.Is(err, hub.ErrOffline), errors.Is(err, hub.ErrNetwork):
		return "Check the network connection (and HF_ENDPOINT or a proxy). " + copyInHint
	case errors.Is(err, hub.ErrDiskFull):
		return "Free some disk space, or set HF_HOME to a folder on a larger disk and restart Captune. What was downloaded is kept."
	case errors.Is(err, hub.ErrChecksum):
		return "Download again; if it happens again, a proxy is altering downloads."
	}
	return "Download again: the partial files are kept and the download resumes."
}

// refreshDialog rebuilds the open Models dialog, if any.
func (p *modelPicker) refreshDialog() {
	if p.dialog != nil {
		p.dialog.refresh()
	}
}

// updateRow updates repo's row in the open dialog, cheaply (no cache listing) while it downloads.
func (p *modelPicker) updateRow(repo string) {
	if p.dialog == nil || p.dialog.rows[repo] == nil {
		return
	}
	var hm hub.CachedModel
	if dl := p.downloads[repo]; dl == nil || !dl.running {
		hm = p.cachedModel(repo)
	}
	p.dialog.updateRow(p.dialog.rows[repo], hm)
}

// use makes dir the model for auto-captioning. UI goroutine.
func (p *modelPicker) use(dir string) {
	if dir == "" {
		return
	}
	p.choose(dir)
	p.m.setStatus("Auto-captioning uses " + p.labelOf(dir) + " (" + homeRel(dir) + ").")
	p.refreshDialog()
	p.updateBanner()
}

// confirmDelete asks, then removes repo from the cache. A deleted model in use gives way to the
// bundled one.
func (p *modelPicker) confirmDelete(repo string) {
	hm := p.cachedModel(repo)
	msg := fmt.Sprintf("Remove %s (%s) from the Hugging Face cache?\n%s\n\nPython tools that use it will download it again.",
		repo, hub.FormatBytes(hm.Size), homeRel(hm.Dir))
	dialog.ShowConfirm("Delete "+path.Base(repo)+"?", msg, func(ok bool) {
		if ok {
			p.deleteRepo(repo, hm.Dir)
		}
	}, p.m.Window)
}

func (p *modelPicker) deleteRepo(repo, repoDir string) {
	if err := p.m.deps.Models.Delete(repo); err != nil {
		p.m.showError("delete "+repo, err, "Check that you may write to the cache folder.")
		return
	}
	delete(p.downloads, repo)
	if repoDir != "" && strings.HasPrefix(p.chosen(), repoDir+string(filepath.Separator)) {
		p.choose(p.m.deps.DefaultModel)
	}
	p.refreshOptions()
	p.m.setStatus("Deleted " + repo + " from the Hugging Face cache.")
	p.refreshDialog()
	p.updateBanner()
}

// showFolder opens dir in the file manager.
func (m *MainWindow) showFolder(dir string) {
	u, err := url.Parse(storage.NewFileURI(dir).String())
	if err == nil {
		err = m.App.OpenURL(u)
	}
	if err != nil {
		m.showError("show "+dir, err, "Open the folder in your file manager yourself.")
	}
}

// runDate is when a run folder's model was written, for the list.
func runDate(dir string) string {
	st, err := os.Stat(modelConfig(dir))
	if err != nil {
		return ""
	}
	return st.ModTime().Format("2 Jan 2006 15:04")
}

// freeModelMemory is Model › Free Model Memory. UI goroutine.
func (m *MainWindow) freeModelMemory() {
	m.setStatus(m.models.unload())
}
