package inference

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/captune/captune/internal/hub"
)

// Names a program registers for base models that are neither a folder nor a hub repo id, such as
// the app's "bundled": an adapter trained on one names it in base_model_name_or_path.
var (
	modelNamesMu sync.Mutex
	modelNames   = map[string]func() (string, error){}
)

// RegisterModelName makes AdapterBase resolve an adapter whose base_model_name_or_path is name by
// calling resolve, which returns the model's folder. A later registration of name replaces it.
func RegisterModelName(name string, resolve func() (string, error)) {
	modelNamesMu.Lock()
	defer modelNamesMu.Unlock()
	modelNames[name] = resolve
}

func registeredModel(name string) (func() (string, error), bool) {
	modelNamesMu.Lock()
	defer modelNamesMu.Unlock()
	r, ok := modelNames[name]
	return r, ok
}

func registeredNames() string {
	modelNamesMu.Lock()
	defer modelNamesMu.Unlock()
	names := make([]string, 0, len(modelNames))
	for n := range modelNames {
		names = append(names, fmt.Sprintf("%q", n))
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// BaseModelRef is what an adapter trained on the model folder dir writes as
// base_model_name_or_path: the hub repo id (ORG/NAME) when dir is a snapshot of a hub cache, as
// peft writes for a model loaded from the hub, so that Python finds it too; else dir's absolute
// path.
func BaseModelRef(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = filepath.Clean(dir)
	}
	if filepath.Base(filepath.Dir(abs)) == "snapshots" {
		if repo, ok := hub.SnapshotRepo(abs); ok {
			return repo
		}
	}
	return abs
}

// AdapterBase returns the folder of the base model of the adapter in dir, from its
// adapter_config.json's base_model_name_or_path, tried in this order: an absolute folder; a folder
// relative to the current directory, then to the adapter folder; a hub repo id in the local hub
// cache (never the network); a name registered with RegisterModelName. A base found nowhere is an
// error that names the adapter, the base and every place tried.
func AdapterBase(dir string) (string, error) {
	cfg, err := ReadLoraConfig(dir)
	if err != nil {
		return "", err
	}
	ref := strings.TrimSpace(cfg.BaseModel)
	if ref == "" {
		return "", fmt.Errorf("adapter %s: adapter_config.json names no base model (base_model_name_or_path); pass --model BASE --adapter %s", dir, dir)
	}
	var tried []string
	for _, folder := range baseFolderCandidates(ref, dir) {
		ok, why := isBaseFolder(folder)
		if ok {
			return folder, nil
		}
		tried = append(tried, folder+" ("+why+")")
	}
	for _, lookup := range []func() (string, string){
		func() (string, string) { return baseInHubCache(ref, cfg.Extra["revision"]) },
		func() (string, string) { return baseByName(ref) },
	} {
		found, where := lookup()
		if found == "" {
			tried = append(tried, where)
			continue
		}
		// A base that is an adapter again would load adapters onto adapters without end.
		if IsAdapterDir(found) {
			return "", fmt.Errorf("adapter %s: its base model %q is %s, another adapter; pass --model BASE --adapter %s", dir, ref, found, dir)
		}
		return found, nil
	}
	return "", fmt.Errorf("adapter %s: its base model %q was not found; tried %s; pass --model BASE --adapter %s",
		dir, ref, strings.Join(tried, "; "), dir)
}

// baseFolderCandidates are the folders ref may name: itself when absolute, else relative to the
// current directory and to the adapter folder.
func baseFolderCandidates(ref, adapter string) []string {
	p := filepath.FromSlash(ref)
	if filepath.IsAbs(p) {
		return []string{filepath.Clean(p)}
	}
	out := []string{}
	if abs, err := filepath.Abs(p); err == nil {
		out = append(out, abs)
	}
	if absAdapter, err := filepath.Abs(adapter); err == nil {
		if q := filepath.Join(absAdapter, p); !slices.Contains(out, q) {
			out = append(out, q)
		}
	}
	return out
}

// isBaseFolder reports whether folder holds a model an adapter can sit on, and else why not.
// Another adapter folder is not one: adapters are not stacked.
func isBaseFolder(folder string) (bool, string) {
	st, err := os.Stat(folder)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, "no such folder"
	case err != nil:
		return false, err.Error()
	case !st.IsDir():
		return false, "not a folder"
	case IsAdapterDir(folder):
		return false, "another adapter, not a model"
	case !fileExists(filepath.Join(folder, "config.json")):
		return false, "no config.json"
	}
	return true, ""
}

// baseInHubCache looks ref up as a repo id in the local hub cache, at the adapter config's
// revision when it names one (peft writes "revision": null by default). It returns the snapshot
// folder, or "" and what it tried.
func baseInHubCache(ref string, revision json.RawMessage) (string, string) {
	if err := hub.ValidateRepoID(ref); err != nil {
		return "", "the hub cache (not a repo id)"
	}
	var rev string
	if len(revision) > 0 {
		json.Unmarshal(revision, &rev) // null or a non-string: the default revision
	}
	cache := hub.SettingsFromEnv().CacheDir
	dir, err := hub.Cache{Dir: cache}.Snapshot(ref, rev)
	if err != nil {
		return "", fmt.Sprintf("the hub cache (%v)", err)
	}
	return dir, ""
}

// baseByName resolves ref as a registered model name, returning its folder, or "" and what it tried.
func baseByName(ref string) (string, string) {
	resolve, ok := registeredModel(ref)
	if !ok {
		return "", "the model names Captune knows (" + registeredNames() + ")"
	}
	dir, err := resolve()
	if err != nil {
		return "", fmt.Sprintf("the model %q (%v)", ref, err)
	}
	return dir, ""
}
