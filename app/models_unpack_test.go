package app

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
)

// TestUnpackBundledModelConcurrently starts two Captunes' unpacking of the bundled model at once
// (the GUI and a CLI command on first use): both get the same complete folder, and no temporary
// folder is left beside it.
func TestUnpackBundledModelConcurrently(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("HOME", cache)
	fsys := fstest.MapFS{
		"model/config.json":       {Data: []byte(`{"model_type": "blip"}`)},
		"model/model.safetensors": {Data: []byte(strings.Repeat("w", 1<<16))},
	}
	dirs := make([]string, 4)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dirs[i], errs[i] = extractEmbedded(fsys, "model", "bundled-model")
		}()
	}
	wg.Wait()
	for i := range dirs {
		if errs[i] != nil {
			t.Fatalf("unpack %d: %v", i, errs[i])
		}
		if dirs[i] != dirs[0] {
			t.Errorf("unpack %d gave %s, unpack 0 %s", i, dirs[i], dirs[0])
		}
	}
	for _, name := range []string{"config.json", "model.safetensors", ".complete"} {
		if st, err := os.Stat(filepath.Join(dirs[0], name)); err != nil || st.Mode().Perm() != 0o644 {
			t.Errorf("%s: %v (mode %v), want a 0644 file", name, err, st)
		}
	}
	entries, err := os.ReadDir(filepath.Dir(dirs[0]))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("the cache holds %v, want only %s", names, filepath.Base(dirs[0]))
	}
}

// TestUnpackBundledModelReplacesACopyCutShort finds the folder an older Captune left half
// unpacked (no .complete) and replaces it.
func TestUnpackBundledModelReplacesACopyCutShort(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("HOME", cache)
	fsys := fstest.MapFS{"model/config.json": {Data: []byte(`{}`)}}
	dir, err := extractEmbedded(fsys, "model", "bundled-model")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, ".complete")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := extractEmbedded(fsys, "model", "bundled-model")
	if err != nil || again != dir {
		t.Fatalf("unpack again: %s, %v; want %s", again, err, dir)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "config.json")); err != nil || string(b) != "{}" {
		t.Errorf("config.json = %q, %v after unpacking again", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
		t.Errorf("no .complete: %v", err)
	}
}
