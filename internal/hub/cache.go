package hub

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Cache is a Hugging Face hub cache folder (…/huggingface/hub), laid out exactly as Python's
// huggingface_hub lays it out, so that either program reuses the other's downloads:
//
//	models--ORG--NAME/blobs/ETAG                  file contents, named by their etag (sha256 for LFS files)
//	models--ORG--NAME/blobs/ETAG.incomplete       a transfer in progress, resumed from its length
//	models--ORG--NAME/snapshots/COMMIT/PATH       relative symlinks to ../../blobs/ETAG
//	models--ORG--NAME/refs/REVISION               the commit a branch or tag pointed at when last fetched
//	models--ORG--NAME/.no_exist/COMMIT/PATH       files known to be absent at that commit
//	.locks/models--ORG--NAME/ETAG.lock            held while a blob is written
type Cache struct {
	Dir string
}

// DefaultRevision is the branch a repo id without a revision means.
const DefaultRevision = "main"

// commitRE matches a full commit hash, the only revision that needs no refs/ lookup.
var commitRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// RepoDir is the folder of one repo in the cache: models--ORG--NAME.
func (c Cache) RepoDir(repo string) string {
	return filepath.Join(c.Dir, repoFolder(repo))
}

func repoFolder(repo string) string {
	return "models--" + strings.ReplaceAll(repo, "/", "--")
}

// ModelName names a model folder in headers and messages: ORG/NAME for a snapshot in a cache
// (whose folder name is a commit hash), else the folder's name.
func ModelName(dir string) string {
	if repo, ok := SnapshotRepo(dir); ok {
		return repo
	}
	return filepath.Base(dir)
}

// SnapshotRepo returns the repo id (ORG/NAME) of a folder inside a hub cache's
// models--ORG--NAME/snapshots/COMMIT, and false for any other folder.
func SnapshotRepo(dir string) (string, bool) {
	parts := strings.Split(filepath.ToSlash(dir), "/")
	for i, p := range parts {
		if strings.HasPrefix(p, "models--") && i+2 < len(parts) && parts[i+1] == "snapshots" {
			return strings.ReplaceAll(strings.TrimPrefix(p, "models--"), "--", "/"), true
		}
	}
	return "", false
}

// Commit resolves revision (a branch, tag or commit; "" means main) to the commit the cache
// recorded for it. It returns ErrNotCached when the cache has no record of the revision.
func (c Cache) Commit(repo, revision string) (string, error) {
	if revision == "" {
		revision = DefaultRevision
	}
	if commitRE.MatchString(revision) {
		return revision, nil
	}
	if err := validateRevision(revision); err != nil {
		return "", err
	}
	b, err := os.ReadFile(filepath.Join(c.RepoDir(repo), "refs", filepath.FromSlash(revision)))
	if err != nil {
		return "", fmt.Errorf("%w: %s has no record of revision %q in %s", ErrNotCached, repo, revision, c.RepoDir(repo))
	}
	return strings.TrimSpace(string(b)), nil
}

// Snapshot returns the snapshot folder of repo at revision when it holds a complete captioning model
// (see CheckModel). With revision "" it falls back from refs/main to the newest complete snapshot, so
// a model fetched by commit alone is still found; an explicit revision must match exactly.
// It returns an error wrapping ErrNotCached when there is no such snapshot.
func (c Cache) Snapshot(repo, revision string) (string, error) {
	if err := ValidateRepoID(repo); err != nil {
		return "", err
	}
	root := c.RepoDir(repo)
	commit, cerr := c.Commit(repo, revision)
	if cerr == nil {
		dir := filepath.Join(root, "snapshots", commit)
		err := CheckModel(dir)
		if err == nil {
			return dir, nil
		}
		if revision != "" {
			return "", fmt.Errorf("%w: %s at %s: %w", ErrNotCached, repo, revision, err)
		}
	} else if revision != "" {
		return "", cerr
	}
	snaps, err := c.snapshots(repo)
	if err != nil {
		return "", err
	}
	for _, s := range snaps {
		if s.Complete {
			return s.Dir, nil
		}
	}
	if len(snaps) > 0 {
		return "", fmt.Errorf("%w: %s has only incomplete snapshots in %s", ErrNotCached, repo, filepath.Join(root, "snapshots"))
	}
	return "", fmt.Errorf("%w: %s is not in %s", ErrNotCached, repo, c.Dir)
}

// ModelFileError names what a folder lacks to be loaded as a captioning model.
type ModelFileError struct {
	Dir     string
	Missing string // a file name, or alternatives joined by " or "
}

func (e *ModelFileError) Error() string {
	return fmt.Sprintf("%s has no %s", e.Dir, e.Missing)
}

// CheckModel reports whether dir holds what Captune needs to load a BLIP captioning model: config.json,
// preprocessor_config.json, a tokenizer (tokenizer.json or vocab.txt) and the weights
// (model.safetensors, model.safetensors.index.json with every shard it names, or pytorch_model.bin).
// Broken symlinks (a blob removed from the cache) count as missing.
func CheckModel(dir string) error {
	has := func(name string) bool {
		st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name)))
		return err == nil && st.Mode().IsRegular()
	}
	for _, req := range []string{"config.json", "preprocessor_config.json"} {
		if !has(req) {
			return &ModelFileError{Dir: dir, Missing: req}
		}
	}
	if !has("tokenizer.json") && !has("vocab.txt") {
		return &ModelFileError{Dir: dir, Missing: "tokenizer.json or vocab.txt"}
	}
	switch {
	case has(weightsSafetensors), has(weightsBin):
		return nil
	case has(weightsIndex):
		shards, err := readShardIndex(filepath.Join(dir, weightsIndex))
		if err != nil {
			return err
		}
		for _, s := range shards {
			if !has(s) {
				return &ModelFileError{Dir: dir, Missing: s + " (a shard named by " + weightsIndex + ")"}
			}
		}
		return nil
	}
	return &ModelFileError{Dir: dir, Missing: weightsSafetensors + ", " + weightsIndex + " or " + weightsBin}
}

// CachedModel is one repo found in the cache.
type CachedModel struct {
	Repo      string
	Dir       string // models--ORG--NAME
	Size      int64  // bytes of its blobs, partial transfers included
	Snapshots []CachedSnapshot
}

// CachedSnapshot is one commit of a cached repo.
type CachedSnapshot struct {
	Commit   string
	Dir      string
	Refs     []string // branches and tags recorded as pointing at this commit
	Complete bool     // CheckModel passes
	Problem  string   // why it is not, e.g. "no preprocessor_config.json"
	Modified time.Time
}

// List returns every model repo in the cache, sorted by repo id, with its snapshots newest first.
// A cache folder that does not exist yet is an empty cache.
func (c Cache) List() ([]CachedModel, error) {
	entries, err := os.ReadDir(c.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list the hub cache %s: %w", c.Dir, err)
	}
	var out []CachedModel
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || !strings.HasPrefix(name, "models--") {
			continue
		}
		repo := strings.ReplaceAll(strings.TrimPrefix(name, "models--"), "--", "/")
		m := CachedModel{Repo: repo, Dir: filepath.Join(c.Dir, name)}
		if m.Snapshots, err = c.snapshots(repo); err != nil {
			return nil, err
		}
		blobs, _ := os.ReadDir(filepath.Join(m.Dir, "blobs"))
		for _, b := range blobs {
			if info, err := b.Info(); err == nil && info.Mode().IsRegular() {
				m.Size += info.Size()
			}
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Repo < out[j].Repo })
	return out, nil
}

// snapshots lists a repo's snapshot folders newest first, with the refs that name each.
func (c Cache) snapshots(repo string) ([]CachedSnapshot, error) {
	root := c.RepoDir(repo)
	entries, err := os.ReadDir(filepath.Join(root, "snapshots"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list snapshots of %s: %w", repo, err)
	}
	refs := map[string][]string{}
	refsDir := filepath.Join(root, "refs")
	filepath.WalkDir(refsDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(refsDir, p)
		commit := strings.TrimSpace(string(b))
		refs[commit] = append(refs[commit], filepath.ToSlash(rel))
		return nil
	})
	var out []CachedSnapshot
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		s := CachedSnapshot{Commit: e.Name(), Dir: filepath.Join(root, "snapshots", e.Name()), Refs: refs[e.Name()]}
		sort.Strings(s.Refs)
		if info, err := e.Info(); err == nil {
			s.Modified = info.ModTime()
		}
		if err := CheckModel(s.Dir); err != nil {
			s.Problem = err.Error()
			var mfe *ModelFileError
			if errors.As(err, &mfe) {
				s.Problem = "no " + mfe.Missing
			}
		} else {
			s.Complete = true
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Modified.After(out[j].Modified) })
	return out, nil
}

// repoNameRE is one part of a repo id as the hub accepts it (huggingface_hub's validate_repo_id).
var repoNameRE = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?$`)

// ValidateRepoID checks a model id of the form ORG/NAME (or NAME) as the hub spells them.
func ValidateRepoID(repo string) error {
	parts := strings.Split(repo, "/")
	if len(parts) > 2 || repo == "" {
		return fmt.Errorf("repo id %q: want ORG/NAME", repo)
	}
	for _, p := range parts {
		if !repoNameRE.MatchString(p) || strings.Contains(p, "--") || strings.Contains(p, "..") || strings.HasSuffix(p, ".git") {
			return fmt.Errorf("repo id %q: want ORG/NAME made of letters, digits, '-', '_' and '.' (no '--' or '..')", repo)
		}
	}
	return nil
}

// validateRevision refuses revisions that would escape refs/ on disk.
func validateRevision(rev string) error {
	if rev == "" || strings.HasPrefix(rev, "/") || strings.Contains(rev, `\`) {
		return fmt.Errorf("revision %q: want a branch, tag or commit", rev)
	}
	for _, seg := range strings.Split(rev, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("revision %q: want a branch, tag or commit", rev)
		}
	}
	return nil
}

// validateRepoPath refuses file names (from a shard index) that would escape the snapshot folder.
func validateRepoPath(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, `\`) || strings.Contains(name, ":") {
		return fmt.Errorf("file name %q: want a path inside the repo", name)
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("file name %q: want a path inside the repo", name)
		}
	}
	return nil
}

// markVersion writes version.txt as transformers does after creating or migrating a cache: without it,
// transformers takes a cache it did not create for one of its pre-4.22 layout, warns when offline,
// and tries to migrate it when online.
func (c Cache) markVersion() {
	p := filepath.Join(c.Dir, "version.txt")
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		os.WriteFile(p, []byte("1"), 0o644)
	}
}
