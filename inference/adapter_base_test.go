package inference

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/internal/hub/hubtest"
)

// makeTestAdapter saves an adapter of tiny-a with random B (so that it changes the logits) to
// dir, naming base as its base model, and returns the logits tiny-a computes with it.
func makeTestAdapter(t *testing.T, dir, base string) *ts.Tensor {
	t.Helper()
	m := loadTestModel(t, "tiny-a")
	if err := m.AddLora(NewLoraConfig(base, 4, 8, 0, []string{"query", "value"}), 3); err != nil {
		t.Fatal(err)
	}
	randomizeB(m)
	if err := m.SaveAdapter(dir); err != nil {
		t.Fatal(err)
	}
	return parityLogits(t, m)
}

// setAdapterBase rewrites base_model_name_or_path in dir/adapter_config.json.
func setAdapterBase(t *testing.T, dir, base string) {
	t.Helper()
	path := filepath.Join(dir, AdapterConfigFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(data, &fields); err != nil {
		t.Fatal(err)
	}
	fields["base_model_name_or_path"] = base
	if data, err = json.Marshal(fields); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeHubCache lays modelDir out as repo in a hub cache the way huggingface_hub does (blobs named
// by sha256, snapshot files as relative symlinks, refs/main) and points HF_HUB_CACHE at it. It
// returns the snapshot folder.
func fakeHubCache(t *testing.T, repo, modelDir string) string {
	t.Helper()
	cache := filepath.Join(t.TempDir(), "hub")
	t.Setenv("HF_HUB_CACHE", cache)
	root := filepath.Join(cache, "models--"+strings.ReplaceAll(repo, "/", "--"))
	snap := filepath.Join(root, "snapshots", hubtest.Commit)
	for _, d := range []string{filepath.Join(root, "blobs"), filepath.Join(root, "refs"), snap} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range hubtest.ReadModel(t, modelDir) {
		sum := hubtest.SHA256(data)
		if err := os.WriteFile(filepath.Join(root, "blobs", sum), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..", "..", "blobs", sum), filepath.Join(snap, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "refs", "main"), []byte(hubtest.Commit), 0o644); err != nil {
		t.Fatal(err)
	}
	return snap
}

// An adapter folder loads through LoadCaptioner wherever its base_model_name_or_path points, and
// computes what the model it was saved from computed.
func TestLoadCaptionerResolvesAdapterBase(t *testing.T) {
	tinyA, err := filepath.Abs(filepath.Join("testdata", "models", "tiny-a"))
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	adapter := filepath.Join(work, "run-1")
	want := makeTestAdapter(t, adapter, tinyA)
	defer want.MustDrop()
	if err := os.Symlink(tinyA, filepath.Join(work, "base-link")); err != nil {
		t.Fatal(err)
	}
	snapshot := fakeHubCache(t, "captune-test/tiny-a", tinyA)
	RegisterModelName("test-tiny", func() (string, error) { return tinyA, nil })
	tests := []struct {
		name, base, wantDir string
	}{
		{"absolute folder", tinyA, tinyA},
		{"relative to the current directory", filepath.Join("testdata", "models", "tiny-a"), tinyA},
		{"relative to the adapter folder", filepath.Join("..", "base-link"), filepath.Join(work, "base-link")},
		{"hub repo id in the cache", "captune-test/tiny-a", snapshot},
		{"registered name", "test-tiny", tinyA},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			setAdapterBase(t, adapter, tc.base)
			c, _, err := LoadCaptioner(adapter, gotch.CPU)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Free()
			if c.Dir != tc.wantDir || c.Adapter != adapter || c.Name != "run-1" {
				t.Errorf("Dir %q, Adapter %q, Name %q; want %q, %q, run-1", c.Dir, c.Adapter, c.Name, tc.wantDir, adapter)
			}
			logits := parityLogits(t, c.Model)
			defer logits.MustDrop()
			if d := maxAbsDiff(logits, want); d != 0 {
				t.Errorf("logits differ from the adapted model's by %g", d)
			}
		})
	}
}

// A base found nowhere, no base at all, or a base that is another adapter: the error names the
// adapter, the base, the places tried and how to give the base.
func TestAdapterBaseNotFound(t *testing.T) {
	work := t.TempDir()
	t.Setenv("HF_HUB_CACHE", filepath.Join(work, "empty-cache"))
	adapter := filepath.Join(work, "run-2")
	makeTestAdapter(t, adapter, "x").MustDrop()
	other := filepath.Join(work, "other-adapter")
	makeTestAdapter(t, other, "x").MustDrop()
	RegisterModelName("broken-name", func() (string, error) { return "", os.ErrNotExist })
	tests := []struct {
		name, base string
		want       []string
	}{
		{"absolute folder gone", filepath.Join(work, "gone"), []string{filepath.Join(work, "gone") + " (no such folder)", "the hub cache (not a repo id)"}},
		{"relative name nowhere", "someone/missing-model", []string{
			filepath.Join(adapter, "someone", "missing-model") + " (no such folder)", "someone/missing-model is not in " + filepath.Join(work, "empty-cache"),
			`the model names Captune knows (`}},
		{"registered name fails", "broken-name", []string{`the model "broken-name" (file does not exist)`}},
		{"base is another adapter", other, []string{other + " (another adapter, not a model)"}},
		{"no base", "", []string{"names no base model"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			setAdapterBase(t, adapter, tc.base)
			_, _, err := LoadCaptioner(adapter, gotch.CPU)
			if err == nil {
				t.Fatal("loaded an adapter without its base")
			}
			msg := err.Error()
			for _, w := range append(tc.want, "adapter "+adapter, "pass --model BASE --adapter "+adapter) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
}

func TestBaseModelRef(t *testing.T) {
	cache := filepath.Join(string(filepath.Separator), "home", "u", ".cache", "huggingface", "hub")
	snap := filepath.Join(cache, "models--Salesforce--blip-image-captioning-base", "snapshots", hubtest.Commit)
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ dir, want string }{
		{snap, "Salesforce/blip-image-captioning-base"},
		{snap + string(filepath.Separator), "Salesforce/blip-image-captioning-base"},
		{filepath.Join(cache, "models--gpt2", "snapshots", hubtest.Commit), "gpt2"},
		{filepath.Join(snap, "sub"), filepath.Join(snap, "sub")}, // a model in a subfolder of a repo is no repo id
		{filepath.Join("testdata", "models", "tiny-a"), filepath.Join(cwd, "testdata", "models", "tiny-a")},
		{filepath.Join(string(filepath.Separator), "models", "blip"), filepath.Join(string(filepath.Separator), "models", "blip")},
	}
	for _, tc := range tests {
		if got := BaseModelRef(tc.dir); got != tc.want {
			t.Errorf("BaseModelRef(%q) = %q, want %q", tc.dir, got, tc.want)
		}
	}
}
