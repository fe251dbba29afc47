// Package hub downloads BLIP captioning models from the Hugging Face hub into the cache that Python's
// huggingface_hub uses ($HF_HOME/hub), so that a model pulled by Captune is found by transformers and
// a model downloaded by Python tools is found by Captune.
//
// It speaks only the hub's file URLs ({endpoint}/{repo}/resolve/{revision}/{file}) and headers
// (X-Repo-Commit, X-Linked-Etag, X-Linked-Size, X-Error-Code), resumes partial transfers with Range
// requests, verifies large (LFS) files against their sha256, and never links a file into snapshots/
// before it is complete and verified.
package hub

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
)

// DefaultEndpoint is the hub used when HF_ENDPOINT is unset.
const DefaultEndpoint = "https://huggingface.co"

// Settings are the hub settings read from the environment the way huggingface_hub reads them.
type Settings struct {
	Endpoint  string // HF_ENDPOINT, else DefaultEndpoint
	Token     string // HF_TOKEN (or HUGGING_FACE_HUB_TOKEN), else the token file `huggingface-cli login` wrote
	TokenFrom string // where Token came from, for messages: "HF_TOKEN", a file path, or ""
	CacheDir  string // HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub
	Offline   bool   // HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is 1, ON, YES or TRUE
}

// SettingsFromEnv reads Settings from the environment.
func SettingsFromEnv() Settings {
	s := Settings{
		Endpoint: strings.TrimRight(os.Getenv("HF_ENDPOINT"), "/"),
		CacheDir: DefaultCacheDir(),
		Offline:  isTrue(os.Getenv("HF_HUB_OFFLINE")) || isTrue(os.Getenv("TRANSFORMERS_OFFLINE")),
	}
	if s.Endpoint == "" {
		s.Endpoint = DefaultEndpoint
	}
	for _, name := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"} {
		if t := strings.TrimSpace(os.Getenv(name)); t != "" {
			s.Token, s.TokenFrom = t, name
			return s
		}
	}
	path := expandPath(os.Getenv("HF_TOKEN_PATH"))
	if path == "" {
		path = filepath.Join(Home(), "token")
	}
	if f, err := os.Open(path); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		if sc.Scan() {
			if t := strings.TrimSpace(sc.Text()); t != "" {
				s.Token, s.TokenFrom = t, path
			}
		}
	}
	return s
}

// Home is the Hugging Face home folder: $HF_HOME, else $XDG_CACHE_HOME/huggingface, else
// ~/.cache/huggingface (on every system, as huggingface_hub does).
func Home() string {
	if h := expandPath(os.Getenv("HF_HOME")); h != "" {
		return h
	}
	cache := expandPath(os.Getenv("XDG_CACHE_HOME"))
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "huggingface")
}

// DefaultCacheDir is the hub cache folder: $HF_HUB_CACHE, else the legacy $HUGGINGFACE_HUB_CACHE,
// else Home()/hub.
func DefaultCacheDir() string {
	for _, name := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"} {
		if d := expandPath(os.Getenv(name)); d != "" {
			return d
		}
	}
	return filepath.Join(Home(), "hub")
}

// expandPath expands ~ and $VARS as huggingface_hub does (os.path.expanduser, os.path.expandvars).
func expandPath(p string) string {
	if p == "" {
		return ""
	}
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = home + p[1:]
		}
	}
	return os.ExpandEnv(p)
}

func isTrue(v string) bool {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}
