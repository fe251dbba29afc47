package app

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/captune/captune/internal/hub"
	"github.com/captune/captune/internal/hub/hubtest"
)

const testModelRepo = "captune-test/tiny-blip"

// tinyModelDir is the inference package's test BLIP model, served by the fake hub.
var tinyModelDir = filepath.Join("..", "inference", "testdata", "models", "tiny-a")

// hubEnv serves the test BLIP model as testModelRepo from a fake hub, and points the hub settings
// (endpoint, cache, token, offline) at it and at a fresh cache.
func hubEnv(t *testing.T) (cacheDir string) {
	t.Helper()
	h := hubtest.NewServer(t)
	files := hubtest.ReadModel(t, tinyModelDir)
	h.AddRepo(testModelRepo, files, "model.safetensors")
	h.AddRepo("captune-test/second", files, "model.safetensors")
	cacheDir = filepath.Join(t.TempDir(), "hub")
	for k, v := range map[string]string{"HF_ENDPOINT": h.URL, "HF_HUB_CACHE": cacheDir, "HF_TOKEN": "",
		"HUGGING_FACE_HUB_TOKEN": "", "HF_TOKEN_PATH": filepath.Join(t.TempDir(), "no-token"), "HF_HUB_OFFLINE": "", "TRANSFORMERS_OFFLINE": ""} {
		t.Setenv(k, v)
	}
	return cacheDir
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestModelCommand(t *testing.T) {
	cache := hubEnv(t)
	var total int64
	for _, b := range hubtest.ReadModel(t, tinyModelDir) {
		total += int64(len(b))
	}
	size := hub.FormatBytes(total)
	snapshot := filepath.Join(cache, "models--captune-test--tiny-blip", "snapshots", hubtest.Commit)

	// Not cached yet: path and --model explain how to pull.
	code, _, stderr := runCLI(t, "model", "path", testModelRepo)
	if code != 1 || !strings.Contains(stderr, "download it with: captune model pull "+testModelRepo) {
		t.Errorf("model path before pull: exit %d, stderr %q; want 1 and the pull command", code, stderr)
	}
	if _, err := ResolveModel(testModelRepo); err == nil || !strings.Contains(err.Error(), "download it with: captune model pull "+testModelRepo) {
		t.Errorf("ResolveModel before pull: %v; want the pull command", err)
	}

	code, stdout, stderr := runCLI(t, "model", "pull", testModelRepo, "--revision", "main")
	t.Logf("pull stderr:\n%s", strings.ReplaceAll(stderr, "\r", "\n"))
	if code != 0 || strings.TrimSpace(stdout) != snapshot {
		t.Fatalf("model pull: exit %d, stdout %q; want 0 and %s", code, stdout, snapshot)
	}
	if !strings.Contains(stderr, "pull "+testModelRepo+" 9/9 config.json") || !strings.Contains(stderr, "pulled "+testModelRepo+" ("+size+" in the cache)") {
		t.Errorf("model pull stderr %q: want a progress line ending on config.json (9/9) and a summary", stderr)
	}

	code, stdout, _ = runCLI(t, "model", "path", testModelRepo+"@main")
	if code != 0 || strings.TrimSpace(stdout) != snapshot {
		t.Errorf("model path: exit %d, stdout %q; want %s", code, stdout, snapshot)
	}
	for _, spec := range []string{testModelRepo, testModelRepo + "@main", testModelRepo + "@" + hubtest.Commit} {
		if dir, err := ResolveModel(spec); err != nil || dir != snapshot {
			t.Errorf("ResolveModel(%q) = %q, %v; want %s", spec, dir, err, snapshot)
		}
	}

	code, stdout, _ = runCLI(t, "model", "list")
	want := []string{"REPO", "REFS", "COMMIT", "SIZE", "STATE", testModelRepo, "main", hubtest.Commit[:12], size, "ready"}
	for _, w := range want {
		if code != 0 || !strings.Contains(stdout, w) {
			t.Errorf("model list: exit %d, stdout %q; want it to show %q", code, stdout, w)
		}
	}
	code, stdout, _ = runCLI(t, "model", "list", "--json")
	var row cachedModelJSON
	if err := json.Unmarshal([]byte(stdout), &row); code != 0 || err != nil {
		t.Fatalf("model list --json: exit %d, %v: %q", code, err, stdout)
	}
	if row.Repo != testModelRepo || row.Commit != hubtest.Commit || !row.Ready || row.Path != snapshot || row.RepoBytes != total {
		t.Errorf("model list --json = %+v", row)
	}

	// ResolveModelPull downloads what is missing, drawing progress.
	var progress bytes.Buffer
	dir, err := ResolveModelPull(context.Background(), "captune-test/second", true, &progress)
	if err != nil || !strings.HasSuffix(dir, filepath.Join("models--captune-test--second", "snapshots", hubtest.Commit)) {
		t.Errorf("ResolveModelPull = %q, %v", dir, err)
	}
	if !strings.Contains(progress.String(), "ETA") {
		t.Errorf("ResolveModelPull drew no progress: %q", progress.String())
	}
}

func TestModelCommandOffline(t *testing.T) {
	hubEnv(t)
	t.Setenv("HF_HUB_OFFLINE", "1")
	code, _, stderr := runCLI(t, "model", "pull", testModelRepo)
	if code != 1 || !strings.Contains(stderr, "offline mode (HF_HUB_OFFLINE)") {
		t.Errorf("offline pull: exit %d, stderr %q", code, stderr)
	}
	if _, err := ResolveModelPull(context.Background(), testModelRepo, true, nil); err == nil || !strings.Contains(err.Error(), "HF_HUB_OFFLINE is set") {
		t.Errorf("offline ResolveModelPull: %v; want it to name HF_HUB_OFFLINE", err)
	}
}

func TestModelCommandUsage(t *testing.T) {
	hubEnv(t)
	tests := []struct {
		args     []string
		code     int
		inStderr []string
	}{
		{[]string{"model", "--help"}, 0, []string{"model pull ORG/NAME[@REVISION]", "model list [--json]", "model path ORG/NAME", "HF_HUB_OFFLINE"}},
		{[]string{"model"}, 2, []string{"Usage: captune model pull|list|path"}},
		{[]string{"model", "pull", "--help"}, 0, []string{"Usage: captune model pull", "-revision", "HF_TOKEN"}},
		{[]string{"model", "list", "-h"}, 0, []string{"-json"}},
		{[]string{"model", "pull"}, 2, []string{"want one model id ORG/NAME, got 0 arguments"}},
		{[]string{"model", "pull", "a/b/c"}, 2, []string{`repo id "a/b/c"`}},
		{[]string{"model", "list", "extra"}, 2, []string{"list takes no arguments"}},
		{[]string{"model", "remove"}, 2, []string{`unknown subcommand "remove"`}},
	}
	for _, tt := range tests {
		code, _, stderr := runCLI(t, tt.args...)
		if code != tt.code {
			t.Errorf("captune %s: exit %d, want %d (stderr %q)", strings.Join(tt.args, " "), code, tt.code, stderr)
		}
		for _, s := range tt.inStderr {
			if !strings.Contains(stderr, s) {
				t.Errorf("captune %s: stderr %q lacks %q", strings.Join(tt.args, " "), stderr, s)
			}
		}
	}
}
