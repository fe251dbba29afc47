package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sugarme/gotch"

	"github.com/captune/captune/assets"
	"github.com/captune/captune/inference"
	"github.com/captune/captune/internal/atomicfile"
	"github.com/captune/captune/internal/hub"
)

// ModelFlagHelp describes --model for every command that takes it.
const ModelFlagHelp = `model: a Hugging Face BLIP folder, a hub repo id (ORG/NAME, or ORG/NAME@REVISION) in the Hugging Face cache (captune model pull ORG/NAME downloads one), "bundled" (the small demo model shipped with Captune), or a LoRA adapter folder (adapter_config.json, e.g. a captune finetune --method lora run), loaded on the base model its adapter_config.json names`

// AdapterFlagHelp describes --adapter for the commands that take it.
const AdapterFlagHelp = `LoRA adapter folder (adapter_config.json and adapter_model.safetensors, as captune finetune --method lora and peft's save_pretrained write) to caption with, on the model --model names, else on the base model its adapter_config.json names`

func init() {
	// Adapters trained on the bundled model name it "bundled": its folder is a cache path that
	// changes with every version of the model.
	inference.RegisterModelName("bundled", bundledModelDir)
}

// modelRef is a model to load: a base model folder and, for a LoRA adapter, the adapter folder on it.
type modelRef struct {
	Base, Adapter string
}

// generationDir is the folder whose generation_config.json sets the decoding defaults
// (inference.GenerationDir).
func (r modelRef) generationDir() string { return inference.GenerationDir(r.Base, r.Adapter) }

// Dir is the folder that names the model: the adapter's, else the base's.
func (r modelRef) Dir() string {
	if r.Adapter != "" {
		return r.Adapter
	}
	return r.Base
}

// load loads the model; call it on an engine's thread.
func (r modelRef) load(dev gotch.Device) (*inference.Captioner, inference.LoadReport, error) {
	if r.Adapter == "" {
		return inference.LoadCaptioner(r.Base, dev)
	}
	return inference.LoadCaptionerWithAdapter(r.Base, r.Adapter, dev)
}

// resolveModelRef turns --model and --adapter into folders without touching the network. Without
// adapter, spec may be an adapter folder itself (loaded on the base it names); with one, spec is
// the base model, and "" means the base the adapter names.
func resolveModelRef(spec, adapter string) (modelRef, error) {
	if adapter == "" {
		dir, err := ResolveModel(spec)
		if err != nil || !inference.IsAdapterDir(dir) {
			return modelRef{Base: dir}, err
		}
		base, err := inference.AdapterBase(dir)
		return modelRef{Base: base, Adapter: dir}, err
	}
	if !inference.IsAdapterDir(adapter) {
		return modelRef{}, fmt.Errorf("--adapter %s: no %s there; give a LoRA adapter folder (captune finetune --method lora, or peft's save_pretrained)", adapter, inference.AdapterConfigFile)
	}
	if spec == "" {
		base, err := inference.AdapterBase(adapter)
		return modelRef{Base: base, Adapter: adapter}, err
	}
	dir, err := ResolveModel(spec)
	if err != nil {
		return modelRef{}, err
	}
	if inference.IsAdapterDir(dir) {
		return modelRef{}, fmt.Errorf("--model %s is a LoRA adapter too; with --adapter, --model is the base model (adapters are not stacked)", spec)
	}
	return modelRef{Base: dir, Adapter: adapter}, nil
}

// ResolveModel turns a --model value into a model folder on disk, without touching the network: a
// repo id must already be in the Hugging Face cache (Captune's downloads and Python's share it).
func ResolveModel(spec string) (string, error) {
	return ResolveModelPull(context.Background(), spec, false, nil)
}

// ResolveModelPull is ResolveModel that, when pull is true, downloads a repo id missing from the
// cache (unless HF_HUB_OFFLINE is set), drawing its progress on progress (nil: silent).
func ResolveModelPull(ctx context.Context, spec string, pull bool, progress io.Writer) (string, error) {
	if spec == "" || spec == "bundled" {
		return bundledModelDir()
	}
	if st, err := os.Stat(spec); err == nil {
		if !st.IsDir() {
			return "", fmt.Errorf("model %s is a file; give the folder that holds config.json", spec)
		}
		return spec, nil
	}
	repo, revision, ok := parseRepoSpec(spec)
	if !ok {
		return "", fmt.Errorf("model %q: no such folder", spec)
	}
	settings := hub.SettingsFromEnv()
	dir, err := hub.Cache{Dir: settings.CacheDir}.Snapshot(repo, revision)
	if err == nil {
		return dir, nil
	}
	if !errors.Is(err, hub.ErrNotCached) {
		return "", fmt.Errorf("model %s: %w", spec, err)
	}
	if !pull || settings.Offline {
		how := "download it with: captune model pull " + spec
		if settings.Offline {
			how = "HF_HUB_OFFLINE is set; unset it and run: captune model pull " + spec
		}
		return "", fmt.Errorf("model %s: %w; %s", spec, err, how)
	}
	return pullModel(ctx, settings, repo, revision, progress)
}

// parseRepoSpec splits ORG/NAME[@REVISION]; it refuses what looks like a path (./x, /x, a/b/c).
func parseRepoSpec(spec string) (repo, revision string, ok bool) {
	repo, revision, _ = strings.Cut(spec, "@")
	if strings.Count(repo, "/") != 1 || strings.HasPrefix(repo, ".") || strings.HasPrefix(repo, "/") {
		return "", "", false
	}
	return repo, revision, hub.ValidateRepoID(repo) == nil
}

// pullModel downloads repo into the Hugging Face cache and returns its snapshot folder, drawing
// progress (bytes, rate, ETA) on w.
func pullModel(ctx context.Context, settings hub.Settings, repo, revision string, w io.Writer) (string, error) {
	c := hub.NewClient(settings)
	c.UserAgent = "captune/" + Version
	var onProgress func(hub.Progress)
	var bar *pullProgress
	if w != nil {
		bar = newPullProgress(w)
		onProgress = bar.Update
	}
	dir, err := c.Download(ctx, repo, revision, onProgress)
	if bar != nil {
		bar.Finish()
	}
	return dir, err
}

// ErrNoBundledModel is returned by binaries built without the demo model.
var ErrNoBundledModel = errors.New("this build has no bundled model; pass --model DIR")

// bundledModelDir writes the embedded demo model to the user cache once (per content hash) and
// returns that folder.
func bundledModelDir() (string, error) {
	if _, err := fs.Stat(assets.Model, "model/config.json"); err != nil {
		return "", ErrNoBundledModel
	}
	return extractEmbedded(assets.Model, "model", "bundled-model")
}

// BundledSampleDir copies the embedded sample dataset to dest (if dest does not exist yet) and
// returns dest; an existing copy is left alone, since the user's edits live there.
func BundledSampleDir(dest string) (string, error) {
	if _, err := os.Stat(dest); err == nil {
		return dest, nil
	}
	// Copied beside dest and renamed, so that a copy cut short is never taken for the sample.
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return "", fmt.Errorf("copy the sample dataset: %w", err)
	}
	atomicfile.CleanStale(filepath.Dir(dest)) // the half copies of a Captune killed while copying
	tmp, err := atomicfile.Mkdir(dest)
	if err != nil {
		return "", fmt.Errorf("copy the sample dataset: %w", err)
	}
	if err := copyFS(assets.Sample, "sample", tmp); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("copy the sample dataset to %s: %w", dest, err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("copy the sample dataset to %s: %w", dest, err)
	}
	return dest, nil
}

func extractEmbedded(fsys fs.FS, root, name string) (string, error) {
	if fsys == nil {
		return "", ErrNoBundledModel
	}
	sum, err := assets.Digest(fsys, root)
	if err != nil {
		return "", ErrNoBundledModel
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "captune", name+"-"+sum[:12])
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir, nil
	}
	// Unpacked beside dir under a temporary name of its own, so that two Captunes starting at once
	// never write into one folder, and renamed once complete.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", fmt.Errorf("unpack the bundled model: %w", err)
	}
	atomicfile.CleanStale(filepath.Dir(dir)) // the half copies of a Captune killed while unpacking
	tmp, err := atomicfile.Mkdir(dir)
	if err != nil {
		return "", fmt.Errorf("unpack the bundled model: %w", err)
	}
	if err := copyFS(fsys, root, tmp); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("unpack the bundled model: %w", err)
	}
	if err := writeSynced(filepath.Join(tmp, ".complete"), nil); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("unpack the bundled model: %w", err)
	}
	for try := 0; ; try++ {
		err := os.Rename(tmp, dir)
		if err == nil {
			atomicfile.SyncDir(filepath.Dir(dir))
			return dir, nil
		}
		if _, serr := os.Stat(filepath.Join(dir, ".complete")); serr == nil {
			os.RemoveAll(tmp)
			return dir, nil // another Captune unpacked it first
		}
		if try > 0 {
			os.RemoveAll(tmp)
			return "", fmt.Errorf("unpack the bundled model: %w", err)
		}
		// A folder without .complete was left by an older Captune cut short: move it aside
		// (atomically, so no one sees it half removed) and try again.
		if aside := atomicfile.TempPath(dir); os.Rename(dir, aside) == nil {
			os.RemoveAll(aside)
		}
	}
}

func copyFS(fsys fs.FS, root, dest string) error {
	return fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		target := filepath.Join(dest, filepath.FromSlash(rel))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		return writeSynced(target, data)
	})
}

// writeSynced writes a new file of a folder that is renamed into place once filled (0644, synced
// before that rename, so that a crash never leaves a complete-looking folder of empty files).
func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// tempSampleCopy unpacks the bundled sample dataset into a fresh temporary folder.
func tempSampleCopy() (string, error) {
	tmp, err := os.MkdirTemp("", "captune-sample-")
	if err != nil {
		return "", err
	}
	dest := filepath.Join(tmp, "sample")
	if _, err := BundledSampleDir(dest); err != nil {
		return "", err
	}
	return dest, nil
}
