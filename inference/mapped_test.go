package inference

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/captune/captune/inference/safetensors"
)

// copyModelDir copies a test model folder into a fresh temporary folder, so that a test can look
// for its own file among the process's mappings (and damage it).
func copyModelDir(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("testdata", "models", name)
	dst := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// mappedIn reports whether /proc/self/maps lists a file under dir.
func mappedIn(t *testing.T, dir string) bool {
	t.Helper()
	data, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skipf("no /proc/self/maps: %v", err)
	}
	return strings.Contains(string(data), dir)
}

// readSource is a WeightSource that reads every tensor into memory (what OpenWeights did before
// it mapped checkpoints): the reference for the mapped model.
func readSource(t *testing.T, dir string) WeightSource {
	t.Helper()
	path := filepath.Join(dir, "model.safetensors")
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return &safetensorsSource{files: map[string]*safetensors.File{path: f}, byName: mapNames(f, path)}
}

func TestMappedModelGivesTheSameLogitsAsACopiedOne(t *testing.T) {
	dir := copyModelDir(t, "tiny-a")
	mapped := loadModelAt(t, dir)
	cfg, err := LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	src := readSource(t, dir)
	defer src.Close()
	copied, _, err := NewModelFromWeights(cfg, gotch.CPU, src)
	if err != nil {
		t.Fatal(err)
	}
	defer copied.Free()
	owned := loadModelAt(t, dir)
	if err := owned.OwnWeights(); err != nil {
		t.Fatal(err)
	}
	params := len(mapped.VS.Variables())
	if got := []int{mapped.MappedWeights(), copied.MappedWeights(), owned.MappedWeights()}; !reflect.DeepEqual(got, []int{params, 0, 0}) {
		t.Errorf("mapped weights (mapped, read, owned) = %v, want [%d 0 0]", got, params)
	}

	want := parityLogits(t, copied)
	defer want.MustDrop()
	for name, m := range map[string]*Model{"mapped": mapped, "owned": owned} {
		got := parityLogits(t, m)
		if d := maxAbsDiff(got, want); d != 0 {
			t.Errorf("%s model: logits differ from the read model's by %.3g, want identical", name, d)
		}
		got.MustDrop()
	}
}

func loadModelAt(t *testing.T, dir string) *Model {
	t.Helper()
	m, _, err := LoadModel(dir, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Free)
	return m
}

// TestFreeUnmapsTheCheckpoint: the mapping lives exactly as long as the model's tensors over it.
// Each case maps its own copy of the folder, so /proc/self/maps tells its mapping from other tests'.
func TestFreeUnmapsTheCheckpoint(t *testing.T) {
	tests := []struct {
		name       string
		model      string
		own        bool // OwnWeights before Free
		mappedLoad bool // whether the loaded model still reads from the file
	}{
		{"fp32 stays mapped until Free", "tiny-a", false, true},
		{"sharded fp32 stays mapped until Free", "tiny-a-sharded", false, true},
		{"OwnWeights lets the file go", "tiny-a", true, false},
		{"bf16 is converted, so nothing stays mapped", "tiny-a-bf16", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyModelDir(t, tc.model)
			m, _, err := LoadModel(dir, gotch.CPU)
			if err != nil {
				t.Fatal(err)
			}
			if tc.own {
				if err := m.OwnWeights(); err != nil {
					t.Fatal(err)
				}
			}
			if got := mappedIn(t, dir); got != tc.mappedLoad {
				t.Errorf("after load: file mapped = %v, want %v", got, tc.mappedLoad)
			}
			if got := m.MappedWeights() > 0; got != tc.mappedLoad {
				t.Errorf("after load: MappedWeights() = %d", m.MappedWeights())
			}
			m.Free()
			if mappedIn(t, dir) {
				t.Errorf("after Free: %s is still mapped", dir)
			}
		})
	}
}

// TestTruncatedCheckpointIsRefusedBeforeMapping: a download cut short fails at load, naming the
// file, and leaves nothing mapped.
func TestTruncatedCheckpointIsRefusedBeforeMapping(t *testing.T) {
	for _, cut := range []int64{1, 4096, 700000} {
		dir := copyModelDir(t, "tiny-a")
		path := filepath.Join(dir, "model.safetensors")
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, st.Size()-cut); err != nil {
			t.Fatal(err)
		}
		_, _, err = LoadModel(dir, gotch.CPU)
		if !errors.Is(err, safetensors.ErrFormat) || !strings.Contains(err.Error(), path) {
			t.Errorf("cut %d bytes: err = %v, want ErrFormat naming %s", cut, err, path)
		}
		if mappedIn(t, dir) {
			t.Errorf("cut %d bytes: the refused file is mapped", cut)
		}
	}
}

// TestCaptionsFromAMappedModel walks what a user does: open a model folder, caption a photo; the
// caption is the one the same model gives with its weights copied.
func TestCaptionsFromAMappedModel(t *testing.T) {
	dir := copyModelDir(t, "tiny-a")
	img, err := LoadImage(filepath.Join("testdata", "images", "photo.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	caption := func(own bool) []Caption {
		c, _, err := LoadCaptioner(dir, gotch.CPU)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Free()
		if own {
			if err := c.Model.OwnWeights(); err != nil {
				t.Fatal(err)
			}
		}
		opts := CaptionOptions{Decode: DefaultDecodeOptions()}
		opts.Decode.NumBeams = 3
		caps, err := c.CaptionImages(context.Background(), []*RGBImage{img, img}, opts, nil)
		if err != nil {
			t.Fatal(err)
		}
		return caps
	}
	want, got := caption(true), caption(false)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("captions from the mapped model:\n%+v\nwant, from the same model with its weights copied:\n%+v", got, want)
	}
	if got[0].Text == "" && len(got[0].Tokens) == 0 {
		t.Errorf("empty caption %+v", got[0])
	}
}
