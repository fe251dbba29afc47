package synth

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// readDataset returns the dataset's captions by image name, and fails on any stray (temporary) file.
func readDataset(t *testing.T, dir string, format Format) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	captions := map[string]string{}
	var images []string
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, ".png"):
			images = append(images, name)
		case format == FormatSidecar && strings.HasSuffix(name, ".txt"):
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			captions[strings.TrimSuffix(name, ".txt")+".png"] = strings.TrimSuffix(string(b), "\n")
		case format == FormatJSONL && name == MetadataFile:
			f, err := os.Open(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				var rec struct {
					FileName string `json:"file_name"`
					Text     string `json:"text"`
				}
				if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				captions[rec.FileName] = rec.Text
			}
			f.Close()
		default:
			t.Errorf("unexpected file %s in the dataset", name)
		}
	}
	if len(images) != len(captions) {
		t.Errorf("%d images, %d captions", len(images), len(captions))
	}
	return captions
}

func TestWriteDataset(t *testing.T) {
	for _, format := range []Format{FormatSidecar, FormatJSONL} {
		t.Run(string(format), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			cfg := Config{Variant: VariantTextures, Seed: 8, Size: 64}
			const n = 13
			var progress []int
			if err := WriteDataset(context.Background(), dir, cfg, n, format, func(done, total int) {
				if total != n {
					t.Errorf("progress total %d, want %d", total, n)
				}
				progress = append(progress, done)
			}); err != nil {
				t.Fatal(err)
			}
			if want := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}; !slices.Equal(progress, want) {
				t.Errorf("progress %v, want %v", progress, want)
			}
			captions := readDataset(t, dir, format)
			if len(captions) != n {
				t.Fatalf("%d captions, want %d", len(captions), n)
			}
			// Written in parallel, yet sample i is exactly Generate(cfg, i).
			for i := range n {
				name := FileName(i, n)
				want, wantCaption := Generate(cfg, i)
				if captions[name] != wantCaption {
					t.Errorf("%s: caption %q, want %q", name, captions[name], wantCaption)
				}
				b, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				got, err := png.Decode(bytes.NewReader(b))
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if !slices.Equal(got.(*image.Paletted).Pix, want.(*image.Paletted).Pix) {
					t.Errorf("%s: pixels differ from Generate(cfg, %d)", name, i)
				}
			}
		})
	}
}

func TestWriteDatasetRefuses(t *testing.T) {
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "keep.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	ok := Config{Variant: VariantBase, Seed: 1}
	tests := []struct {
		name    string
		dir     string
		cfg     Config
		n       int
		format  Format
		wantErr string
	}{
		{"folder not empty", full, ok, 3, FormatSidecar, "holds 1 entries: output folder is not empty"},
		{"no images", "", ok, 0, FormatSidecar, "number of images 0"},
		{"negative count", "", ok, -2, FormatJSONL, "number of images -2"},
		{"unknown format", "", ok, 3, "csv", `caption format "csv"`},
		{"unknown variant", "", Config{Variant: "plaid"}, 3, FormatSidecar, `variant "plaid"`},
		{"tiny images", "", Config{Variant: VariantBase, Size: 8}, 3, FormatSidecar, "size 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir
			if dir == "" {
				dir = filepath.Join(t.TempDir(), "out")
			}
			err := WriteDataset(context.Background(), dir, tt.cfg, tt.n, tt.format, nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("WriteDataset() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
	if b, err := os.ReadFile(filepath.Join(full, "keep.txt")); err != nil || string(b) != "mine" {
		t.Errorf("the refused folder changed: %q, %v", b, err)
	}
}

// TestWriteDatasetCancel cancels after the third image: the error says so, and only whole files,
// never temporaries, remain.
func TestWriteDatasetCancel(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	err := WriteDataset(ctx, dir, Config{Variant: VariantBase, Seed: 2}, 500, FormatSidecar, func(done, total int) {
		calls++
		if done == 3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("WriteDataset() = %v, want context.Canceled", err)
	}
	if calls >= 500 {
		t.Errorf("progress was called %d times after cancelling at 3", calls)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
	if len(entries) >= 1000 {
		t.Errorf("%d files written after cancelling at 3 of 500", len(entries))
	}
}

func TestFileName(t *testing.T) {
	tests := []struct {
		i, n int
		want string
	}{
		{0, 1, "synth_00000.png"},
		{49, 50, "synth_00049.png"},
		{99999, 100000, "synth_99999.png"},
		{7, 100001, "synth_000007.png"},
	}
	for _, tt := range tests {
		if got := FileName(tt.i, tt.n); got != tt.want {
			t.Errorf("FileName(%d, %d) = %q, want %q", tt.i, tt.n, got, tt.want)
		}
	}
}
