package hub_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/captune/captune/internal/hub"
	"github.com/captune/captune/internal/hub/hubtest"
)

func storeFiles() map[string][]byte {
	return map[string][]byte{
		"config.json":              []byte(`{"model_type": "blip"}`),
		"preprocessor_config.json": []byte(`{}`),
		"vocab.txt":                []byte("[PAD]\n"),
		"model.safetensors":        []byte(strings.Repeat("w", 5000)),
	}
}

func TestStoreCheckSpace(t *testing.T) {
	srv := hubtest.NewServer(t)
	srv.AddRepo(testRepo, storeFiles(), "model.safetensors")
	tests := []struct {
		name       string
		downloaded bool // the repo is in the cache already
		need, free int64
		wantErr    string // "" for none
	}{
		{"fits", false, 10_000, 20_000, ""},
		{"does not fit", false, 10_000, 3_000, "needs 10.0 kB, 3.0 kB free on "},
		{"cached bytes count as fetched", true, 10_000, 6_000, ""},
		{"unknown free space passes", false, 10_000, -1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := hub.NewStore(hub.Settings{Endpoint: srv.URL, CacheDir: t.TempDir()})
			if tc.downloaded {
				if _, err := s.Download(t.Context(), testRepo, nil); err != nil {
					t.Fatal(err)
				}
			}
			s.Client.FreeSpace = func(string) (int64, bool) { return tc.free, tc.free >= 0 }
			err := s.CheckSpace(testRepo, tc.need)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("CheckSpace: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, hub.ErrDiskFull)):
				t.Fatalf("CheckSpace: %v, want an ErrDiskFull saying %q", err, tc.wantErr)
			}
		})
	}
}

func TestStoreDownloadListDelete(t *testing.T) {
	srv := hubtest.NewServer(t)
	srv.AddRepo(testRepo, storeFiles(), "model.safetensors")
	cache := t.TempDir()
	s := hub.NewStore(hub.Settings{Endpoint: srv.URL, CacheDir: cache, TokenFrom: "HF_TOKEN"})
	if got := s.Settings(); got.Token != "" || got.TokenFrom != "HF_TOKEN" || got.CacheDir != cache || got.Endpoint != srv.URL {
		t.Errorf("Settings() = %+v", got)
	}
	dir, err := s.Download(t.Context(), testRepo, nil)
	if err != nil {
		t.Fatal(err)
	}
	list, err := s.List()
	if err != nil || len(list) != 1 || list[0].Repo != testRepo || !list[0].Snapshots[0].Complete {
		t.Fatalf("List() = %+v, %v; want the downloaded repo, complete", list, err)
	}
	if err := s.Delete(testRepo); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("snapshot still there after Delete: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cache, ".locks", "models--captune-test--tiny-blip")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("locks still there after Delete: %v", err)
	}
	if list, _ := s.List(); len(list) != 0 {
		t.Errorf("List() after Delete = %+v, want nothing", list)
	}
	if err := s.Delete("../x"); err == nil {
		t.Error("Delete accepted a repo id that leaves the cache")
	}
}
