package hub

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Store is one Hugging Face cache and one hub, as the window's Models dialog uses them: list the
// cached models, check the free space, download with progress, delete. It holds no state of its
// own beyond its Client, so a new Store on the same cache folder resumes what an earlier one (or
// Python's huggingface_hub) left partial. Its methods may be called from any goroutine.
type Store struct {
	Client    *Client
	TokenFrom string // where the token came from, for messages: "HF_TOKEN", a file, or ""
}

// NewStore returns a Store for the settings (see SettingsFromEnv).
func NewStore(s Settings) *Store {
	return &Store{Client: NewClient(s), TokenFrom: s.TokenFrom}
}

// Settings returns the settings the store uses, without the token itself.
func (s *Store) Settings() Settings {
	return Settings{Endpoint: s.Client.Endpoint, TokenFrom: s.TokenFrom, CacheDir: s.Client.Cache.Dir, Offline: s.Client.Offline}
}

// List returns the model repos in the cache, Python's downloads included (see Cache.List).
func (s *Store) List() ([]CachedModel, error) {
	return s.Client.Cache.List()
}

// Download fetches repo's main revision into the cache and returns its snapshot folder (see
// Client.Download: resumed partial files, sha256 checks, offline mode).
func (s *Store) Download(ctx context.Context, repo string, onProgress func(Progress)) (string, error) {
	return s.Client.Download(ctx, repo, "", onProgress)
}

// CheckSpace returns an error wrapping ErrDiskFull when the file system of the cache has less free
// space than what repo still needs of need bytes (what is already in its blobs counts as fetched).
// A file system that cannot report its free space passes.
func (s *Store) CheckSpace(repo string, need int64) error {
	if err := ValidateRepoID(repo); err != nil {
		return err
	}
	if m, err := s.find(repo); err == nil {
		need -= m.Size
	}
	if need <= 0 {
		return nil
	}
	dir := existingParent(s.Client.Cache.RepoDir(repo))
	if free, ok := s.Client.freeSpace(dir); ok && free < need {
		return fmt.Errorf("%w: %s needs %s, %s free on %s: free some space, or set HF_HOME to a folder on another disk",
			ErrDiskFull, repo, FormatBytes(need), FormatBytes(free), dir)
	}
	return nil
}

// Delete removes repo from the cache: its blobs, snapshots, refs and partial files, as
// `huggingface-cli delete-cache` does. A repo that is not cached is not an error.
func (s *Store) Delete(repo string) error {
	if err := ValidateRepoID(repo); err != nil {
		return err
	}
	dir := s.Client.Cache.RepoDir(repo)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("delete %s from the cache: %w", repo, err)
	}
	os.RemoveAll(filepath.Join(s.Client.Cache.Dir, ".locks", repoFolder(repo)))
	return nil
}

func (s *Store) find(repo string) (CachedModel, error) {
	dir := s.Client.Cache.RepoDir(repo)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return CachedModel{}, ErrNotCached
	}
	models, err := s.List()
	if err != nil {
		return CachedModel{}, err
	}
	for _, m := range models {
		if m.Repo == repo {
			return m, nil
		}
	}
	return CachedModel{}, ErrNotCached
}
