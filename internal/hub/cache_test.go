package hub_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/captune/captune/internal/hub"
	"github.com/captune/captune/internal/hub/hubtest"
)

func TestSettingsFromEnv(t *testing.T) {
	home := t.TempDir()
	tokenFile := filepath.Join(home, "custom-token")
	os.WriteFile(tokenFile, []byte("hf_fromfile\n"), 0o600)
	os.MkdirAll(filepath.Join(home, "hfhome"), 0o755)
	os.WriteFile(filepath.Join(home, "hfhome", "token"), []byte("hf_login\n"), 0o600)
	tests := []struct {
		name string
		env  map[string]string
		want hub.Settings
	}{
		{"defaults", nil, hub.Settings{Endpoint: hub.DefaultEndpoint, CacheDir: filepath.Join(home, ".cache", "huggingface", "hub")}},
		{"XDG_CACHE_HOME", map[string]string{"XDG_CACHE_HOME": filepath.Join(home, "xdg")},
			hub.Settings{Endpoint: hub.DefaultEndpoint, CacheDir: filepath.Join(home, "xdg", "huggingface", "hub")}},
		{"HF_HOME over XDG_CACHE_HOME, and its token file", map[string]string{"HF_HOME": "~/hfhome", "XDG_CACHE_HOME": "/elsewhere"},
			hub.Settings{Endpoint: hub.DefaultEndpoint, CacheDir: filepath.Join(home, "hfhome", "hub"), Token: "hf_login", TokenFrom: filepath.Join(home, "hfhome", "token")}},
		{"HF_HUB_CACHE over HF_HOME", map[string]string{"HF_HUB_CACHE": "$HOME/hubcache", "HF_HOME": "/elsewhere"},
			hub.Settings{Endpoint: hub.DefaultEndpoint, CacheDir: filepath.Join(home, "hubcache")}},
		{"legacy HUGGINGFACE_HUB_CACHE", map[string]string{"HUGGINGFACE_HUB_CACHE": "/legacy"},
			hub.Settings{Endpoint: hub.DefaultEndpoint, CacheDir: "/legacy"}},
		{"endpoint, token and offline", map[string]string{"HF_ENDPOINT": "https://mirror.example/", "HF_TOKEN": "hf_env", "HF_HUB_OFFLINE": "yes", "HF_TOKEN_PATH": tokenFile},
			hub.Settings{Endpoint: "https://mirror.example", CacheDir: filepath.Join(home, ".cache", "huggingface", "hub"), Token: "hf_env", TokenFrom: "HF_TOKEN", Offline: true}},
		{"HF_TOKEN_PATH", map[string]string{"HF_TOKEN_PATH": tokenFile, "TRANSFORMERS_OFFLINE": "1"},
			hub.Settings{Endpoint: hub.DefaultEndpoint, CacheDir: filepath.Join(home, ".cache", "huggingface", "hub"), Token: "hf_fromfile", TokenFrom: tokenFile, Offline: true}},
		{"offline off", map[string]string{"HF_HUB_OFFLINE": "0"},
			hub.Settings{Endpoint: hub.DefaultEndpoint, CacheDir: filepath.Join(home, ".cache", "huggingface", "hub")}},
	}
	vars := []string{"HF_HOME", "XDG_CACHE_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_ENDPOINT", "HF_TOKEN",
		"HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("HOME", home)
			for _, v := range vars {
				t.Setenv(v, tt.env[v])
			}
			if got := hub.SettingsFromEnv(); got != tt.want {
				t.Errorf("SettingsFromEnv() =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

func TestCheckModel(t *testing.T) {
	tiny := tinyModel(t)
	tests := []struct {
		name    string
		drop    []string
		add     map[string]string
		missing string // "" when complete
	}{
		{"complete", nil, nil, ""},
		{"vocab.txt only", []string{"tokenizer.json"}, nil, ""},
		{"no config.json", []string{"config.json"}, nil, "config.json"},
		{"no preprocessor_config.json", []string{"preprocessor_config.json"}, nil, "preprocessor_config.json"},
		{"no tokenizer", []string{"tokenizer.json", "vocab.txt"}, nil, "tokenizer.json or vocab.txt"},
		{"no weights", []string{"model.safetensors"}, nil, "model.safetensors, model.safetensors.index.json or pytorch_model.bin"},
		{"pytorch_model.bin", []string{"model.safetensors"}, map[string]string{"pytorch_model.bin": "x"}, ""},
		{"sharded", []string{"model.safetensors"}, map[string]string{
			"model.safetensors.index.json": `{"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}}`,
			"s1.safetensors":               "x", "s2.safetensors": "y"}, ""},
		{"missing shard", []string{"model.safetensors"}, map[string]string{
			"model.safetensors.index.json": `{"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}}`,
			"s1.safetensors":               "x"}, "s2.safetensors (a shard named by model.safetensors.index.json)"},
		{"broken symlink", []string{"model.safetensors"}, map[string]string{"model.safetensors": "->../../blobs/gone"},
			"model.safetensors, model.safetensors.index.json or pytorch_model.bin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, b := range tiny {
				if !slices.Contains(tt.drop, name) {
					os.WriteFile(filepath.Join(dir, name), b, 0o644)
				}
			}
			for name, s := range tt.add {
				if target, ok := strings.CutPrefix(s, "->"); ok {
					os.Symlink(target, filepath.Join(dir, name))
				} else {
					os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644)
				}
			}
			err := hub.CheckModel(dir)
			var mfe *hub.ModelFileError
			switch {
			case tt.missing == "" && err != nil:
				t.Errorf("CheckModel: %v, want nil", err)
			case tt.missing != "" && (!errors.As(err, &mfe) || mfe.Missing != tt.missing):
				t.Errorf("CheckModel: %v, want a ModelFileError missing %q", err, tt.missing)
			}
		})
	}
}

func TestCacheList(t *testing.T) {
	tiny := tinyModel(t)
	h := hubtest.NewServer(t)
	h.AddRepo(testRepo, tiny, "model.safetensors")
	h.AddRepo("captune-test/interrupted", tiny, "model.safetensors")
	h.DropAfter(tiny["model.safetensors"], 1000)
	c := newClient(t, h)
	c.Retries = 0
	if _, err := c.Download(context.Background(), "captune-test/interrupted", "", nil); err == nil {
		t.Fatal("pull with a dropped connection and no retries succeeded")
	}
	if _, err := c.Download(context.Background(), testRepo, "", nil); err != nil {
		t.Fatal(err)
	}
	got, err := c.Cache.List()
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		repo     string
		refs     string
		complete bool
		problem  string
		size     int64
	}
	var rows []row
	for _, m := range got {
		for _, s := range m.Snapshots {
			rows = append(rows, row{m.Repo, strings.Join(s.Refs, ","), s.Complete, s.Problem, m.Size})
		}
	}
	var total int64
	for _, b := range tiny {
		total += int64(len(b))
	}
	partial := total - int64(len(tiny["model.safetensors"])) - int64(len(tiny["config.json"])) + 1000
	want := []row{
		{"captune-test/interrupted", "", false, "no config.json", partial},
		{testRepo, "main", true, "", total},
	}
	if len(rows) != len(want) {
		t.Fatalf("List rows = %+v, want %+v", rows, want)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d = %+v, want %+v", i, rows[i], want[i])
		}
	}
	empty, err := hub.Cache{Dir: filepath.Join(t.TempDir(), "none")}.List()
	if err != nil || len(empty) != 0 {
		t.Errorf("List of a missing cache = %v, %v; want empty", empty, err)
	}
}

func TestValidateRepoID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"Salesforce/blip-image-captioning-base", true},
		{"gpt2", true},
		{"a_b/c.d-e", true},
		{"", false},
		{"a/b/c", false},
		{"../x", false},
		{"org/na--me", false},
		{"org/name.", false},
		{"org/-name", false},
		{"org/name.git", false},
		{"org/na..me", false},
		{"org/" + strings.Repeat("x", 97), false},
	}
	for _, tt := range tests {
		if err := hub.ValidateRepoID(tt.id); (err == nil) != tt.ok {
			t.Errorf("ValidateRepoID(%q) = %v, want ok=%t", tt.id, err, tt.ok)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{{0, "0 B"}, {999, "999 B"}, {1000, "1.0 kB"}, {742720, "742.7 kB"}, {989_717_000, "989.7 MB"}, {1_879_000_000, "1.9 GB"}}
	for _, tt := range tests {
		if got := hub.FormatBytes(tt.n); got != tt.want {
			t.Errorf("FormatBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestModelName(t *testing.T) {
	tests := []struct{ dir, want string }{
		{"/home/u/.cache/huggingface/hub/models--Salesforce--blip-image-captioning-base/snapshots/82a37760796d32b1411fe092ab5d4e227313294b", "Salesforce/blip-image-captioning-base"},
		{"/home/u/.local/share/Captune/runs/run-2026-12-01", "run-2026-12-01"},
		{"/models/bundled", "bundled"},
	}
	for _, tc := range tests {
		if got := hub.ModelName(tc.dir); got != tc.want {
			t.Errorf("ModelName(%q) = %q, want %q", tc.dir, got, tc.want)
		}
	}
}
