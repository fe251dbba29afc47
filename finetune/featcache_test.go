package finetune

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/captune/captune/finetune/synth"
	"github.com/captune/captune/internal/atomicfile"
	"github.com/captune/captune/internal/atomicfile/atomicfiletest"
)

// cacheData is 10 training and 4 validation images with a caption each.
func cacheData(t *testing.T) Data {
	t.Helper()
	all := synthData(t, 14, synth.VariantBase, 5)
	return Data{Train: all[:10], Val: all[10:]}
}

// cacheConfig trains the tiny model's text decoder for 20 steps (7 epochs of 3 steps, the last
// cut short) with the feature cache in mode and dtype.
func cacheConfig(t *testing.T, mode, dtype string) Config {
	cfg := smallConfig(t)
	cfg.FreezeVision = true
	cfg.MaxSteps = 20
	cfg.CheckpointEvery = 0
	cfg.EvalBeams = 1
	cfg.FeatureCache, cfg.FeatureCacheDType = mode, dtype
	return cfg
}

func maxDiff(a, b []float64) (d float64, at int) {
	for i := range a {
		if x := math.Abs(a[i] - b[i]); x > d || math.IsNaN(x) {
			d, at = x, i
		}
	}
	return d, at
}

// withAvailableMemory makes the feature cache see avail bytes of free memory for the test.
func withAvailableMemory(t *testing.T, avail int64) {
	old := availableMemory
	availableMemory = func() int64 { return avail }
	t.Cleanup(func() { availableMemory = old })
}

// Training with cached image features is the same training: the losses of the first 20 steps and
// the validation losses agree with a run that encodes every image at every use, to 1e-5 in fp32
// wherever the features are kept, and within fp16's rounding when they are kept on disk as fp16.
func TestFeatureCacheSameLosses(t *testing.T) {
	data := cacheData(t)
	ref, err := Run(context.Background(), cacheConfig(t, FeatureCacheOff, "fp32"), data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ref.FeatureCache.Images != 0 || len(ref.Losses) != 20 {
		t.Fatalf("run without a cache: %d losses, cache %+v; want 20 losses and no cache", len(ref.Losses), ref.FeatureCache)
	}
	for _, tc := range []struct {
		name, mode, dtype string
		avail             int64 // free memory the cache sees; 0: the machine's
		tol               float64
		inMemory, onDisk  int
		uncached          int
	}{
		{name: "memory", mode: FeatureCacheMemory, dtype: "fp32", tol: 1e-5, inMemory: 14},
		{name: "auto", mode: FeatureCacheAuto, dtype: "fp32", tol: 1e-5, inMemory: 14},
		{name: "disk fp32", mode: FeatureCacheDisk, dtype: "fp32", tol: 1e-5, onDisk: 14},
		{name: "auto, out of memory: disk", mode: FeatureCacheAuto, dtype: "fp32", avail: memoryReserve, tol: 1e-5, onDisk: 14},
		{name: "memory, out of memory: encoded at each use", mode: FeatureCacheMemory, dtype: "fp32", avail: memoryReserve, tol: 1e-5, uncached: 14},
		{name: "disk fp16", mode: FeatureCacheDisk, dtype: "fp16", tol: 1e-4, onDisk: 14},
		{name: "disk bf16", mode: FeatureCacheDisk, dtype: "bf16", tol: 5e-4, onDisk: 14},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.avail > 0 {
				withAvailableMemory(t, tc.avail)
			}
			cfg := cacheConfig(t, tc.mode, tc.dtype)
			var note string
			res, err := Run(context.Background(), cfg, data, func(p Progress) {
				if strings.HasPrefix(p.Message, "image features cached") {
					note = p.Message
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			fc := res.FeatureCache
			if fc.Images != 14 || fc.Encoded != 14 || fc.InMemory != tc.inMemory || fc.OnDisk != tc.onDisk || fc.Uncached != tc.uncached {
				t.Errorf("cache %+v; want 14 images encoded once, %d in memory, %d on disk, %d uncached", fc, tc.inMemory, tc.onDisk, tc.uncached)
			}
			if !strings.Contains(note, "(14 images: ") || !strings.Contains(note, "saves ~") {
				t.Errorf("progress said %q; want the images cached and the time saved", note)
			}
			d, at := maxDiff(ref.Losses, res.Losses)
			t.Logf("%s: largest loss difference %.2g (step %d); validation %v vs %v", tc.name, d, at+1, ref.ValLosses, res.ValLosses)
			if len(res.Losses) != 20 || d > tc.tol {
				t.Errorf("%d losses; step %d: %.7f without the cache, %.7f with (diff %.2g > %g)", len(res.Losses), at+1, ref.Losses[at], res.Losses[at], d, tc.tol)
			}
			if d, at := maxDiff(ref.ValLosses, res.ValLosses); len(res.ValLosses) != len(ref.ValLosses) || d > tc.tol {
				t.Errorf("validation losses %v, want %v (diff %.2g at %d)", res.ValLosses, ref.ValLosses, d, at)
			}
			if _, err := os.Stat(filepath.Join(cfg.OutDir, FeatureCacheDir)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a finished run left %s (err %v)", FeatureCacheDir, err)
			}
		})
	}
}

// The cache is used only where the encoder output cannot change: a trained or augmented encoder,
// or --feature-cache off, encodes every image at every use.
func TestFeatureCacheOnlyWhenFrozen(t *testing.T) {
	for _, tc := range []struct {
		name            string
		freeze, augment bool
		mode            string
		want            bool
	}{
		{"frozen", true, false, FeatureCacheAuto, true},
		{"frozen, default mode", true, false, "", true},
		{"trained encoder", false, false, FeatureCacheAuto, false},
		{"augmented", true, true, FeatureCacheAuto, false},
		{"off", true, false, FeatureCacheOff, false},
	} {
		cfg := DefaultConfig()
		cfg.FreezeVision, cfg.Augment, cfg.FeatureCache = tc.freeze, tc.augment, tc.mode
		if got := usesFeatureCache(cfg); got != tc.want {
			t.Errorf("%s: usesFeatureCache = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A run stopped after 6 steps keeps its disk cache; --resume reuses every entry that is whole and
// made by this model for this image, and rebuilds (never uses) one that is cut short, damaged,
// another image's, or in a folder of another model. A killed writer's half-written entry is
// removed. Either way the resumed run's losses are the uninterrupted run's.
func TestFeatureCacheResume(t *testing.T) {
	data := cacheData(t)
	full, err := Run(context.Background(), cacheConfig(t, FeatureCacheDisk, "fp16"), data, nil)
	if err != nil {
		t.Fatal(err)
	}
	stopped := cacheConfig(t, FeatureCacheDisk, "fp16")
	stopped.CheckpointEvery = 3
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := Run(ctx, stopped, data, func(p Progress) {
		if p.Phase == "checkpoint" && p.Step == 6 {
			cancel()
		}
	}); !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped run: err %v, want context.Canceled", err)
	}
	entries := func(dir string) []string {
		m, _ := filepath.Glob(filepath.Join(dir, "*.feat"))
		return m
	}
	if n := len(entries(filepath.Join(stopped.OutDir, FeatureCacheDir))); n != 14 {
		t.Fatalf("the stopped run left %d cache entries, want 14", n)
	}
	for _, tc := range []struct {
		name            string
		damage          func(t *testing.T, dir string)
		reused, rebuilt int
	}{
		{"intact", func(*testing.T, string) {}, 14, 0},
		{"cut short", func(t *testing.T, dir string) {
			p := entries(dir)[3]
			st, _ := os.Stat(p)
			must(t, os.Truncate(p, st.Size()/2))
		}, 13, 1},
		{"a flipped byte", func(t *testing.T, dir string) {
			p := entries(dir)[5]
			b, err := os.ReadFile(p)
			must(t, err)
			b[len(b)-7] ^= 0x40
			must(t, os.WriteFile(p, b, 0o644))
		}, 13, 1},
		{"another image's entry", func(t *testing.T, dir string) {
			e := entries(dir)
			b, err := os.ReadFile(e[1])
			must(t, err)
			must(t, os.WriteFile(e[2], b, 0o644))
		}, 13, 1},
		{"killed while writing", func(t *testing.T, dir string) {
			p := entries(dir)[0]
			b, err := os.ReadFile(p)
			must(t, err)
			must(t, os.Remove(p))
			tmp := filepath.Join(dir, fmt.Sprintf(".%s%s%d-1234", filepath.Base(p), atomicfile.Marker, atomicfiletest.DeadPID(t)))
			must(t, os.WriteFile(tmp, b[:len(b)/3], 0o600))
		}, 13, 0},
		{"another model's folder", func(t *testing.T, dir string) {
			var m featureManifest
			must(t, readJSON(filepath.Join(dir, "manifest.json"), &m))
			m.Model = strings.Repeat("0", 64)
			must(t, writeJSONFile(filepath.Join(dir, "manifest.json"), m))
		}, 0, 14},
		{"no manifest", func(t *testing.T, dir string) {
			must(t, os.Remove(filepath.Join(dir, "manifest.json")))
		}, 0, 14},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := stopped
			cfg.OutDir = filepath.Join(t.TempDir(), "out")
			must(t, os.CopyFS(cfg.OutDir, os.DirFS(stopped.OutDir)))
			dir := filepath.Join(cfg.OutDir, FeatureCacheDir)
			tc.damage(t, dir)
			cfg.Resume = true
			res, err := Run(context.Background(), cfg, data, nil)
			if err != nil {
				t.Fatal(err)
			}
			fc := res.FeatureCache
			if !res.Resumed || fc.Reused != tc.reused || fc.Rebuilt != tc.rebuilt || fc.Encoded != 14-tc.reused || fc.OnDisk != 14 {
				t.Errorf("resumed %v, cache %+v; want %d reused, %d rebuilt, %d encoded, 14 on disk", res.Resumed, fc, tc.reused, tc.rebuilt, 14-tc.reused)
			}
			if d, at := maxDiff(full.Losses, res.Losses); len(res.Losses) != 20 || d > 1e-5 {
				t.Errorf("%d losses; step %d: uninterrupted %.7f, resumed %.7f (diff %.2g > 1e-5)", len(res.Losses), at+1, full.Losses[at], res.Losses[at], d)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
