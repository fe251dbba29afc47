package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/captune/captune/assets"
)

// ModelFlagHelp describes --model for every command that takes it.
const ModelFlagHelp = `model: a Hugging Face BLIP folder, a hub repo id (ORG/NAME) already in the Hugging Face cache, or "bundled" (the small demo model shipped with Captune)`

// ResolveModel turns a --model value into a model folder on disk.
func ResolveModel(spec string) (string, error) {
	if spec == "" || spec == "bundled" {
		return bundledModelDir()
	}
	if st, err := os.Stat(spec); err == nil {
		if !st.IsDir() {
			return "", fmt.Errorf("model %s is a file; give the folder that holds config.json", spec)
		}
		return spec, nil
	}
	if strings.Count(spec, "/") == 1 && !strings.HasPrefix(spec, ".") && !strings.HasPrefix(spec, "/") {
		dir, err := hubCacheSnapshot(spec)
		if err != nil {
			return "", err
		}
		return dir, nil
	}
	return "", fmt.Errorf("model %q: no such folder", spec)
}

// hfHome is the Hugging Face cache root: $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface.
func hfHome() string {
	if h := os.Getenv("HF_HOME"); h != "" {
		return h
	}
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(x, "huggingface")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "huggingface")
}

// hubCacheSnapshot finds a repo's snapshot in the Hugging Face cache, as Python tools leave it
// (hub/models--ORG--NAME/refs/main names the snapshot).
func hubCacheSnapshot(repo string) (string, error) {
	root := filepath.Join(hfHome(), "hub", "models--"+strings.ReplaceAll(repo, "/", "--"))
	ref, err := os.ReadFile(filepath.Join(root, "refs", "main"))
	if err == nil {
		dir := filepath.Join(root, "snapshots", strings.TrimSpace(string(ref)))
		if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil {
			return dir, nil
		}
	}
	snaps, _ := os.ReadDir(filepath.Join(root, "snapshots"))
	for i := len(snaps) - 1; i >= 0; i-- {
		dir := filepath.Join(root, "snapshots", snaps[i].Name())
		if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("model %s is not in the Hugging Face cache (%s); download it with Python's huggingface-cli, or give a folder", repo, root)
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
	if err := copyFS(assets.Sample, "sample", dest); err != nil {
		os.RemoveAll(dest)
		return "", err
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
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	if err := copyFS(fsys, root, tmp); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("unpack the bundled model: %w", err)
	}
	os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644)
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return "", fmt.Errorf("unpack the bundled model: %w", err)
	}
	return dir, nil
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
		return os.WriteFile(target, data, 0o644)
	})
}
