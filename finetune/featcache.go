package finetune

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unsafe"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/inference"
	"github.com/captune/captune/internal/atomicfile"
)

// Feature cache modes (Config.FeatureCache).
const (
	FeatureCacheAuto   = "auto"
	FeatureCacheMemory = "memory"
	FeatureCacheDisk   = "disk"
	FeatureCacheOff    = "off"
)

// FeatureCacheDir is the folder under OutDir where the feature cache keeps what memory does not
// hold. A finished run removes it; a stopped one keeps it for --resume.
const FeatureCacheDir = "feature-cache"

func validFeatureCache(s string) bool {
	switch s {
	case "", FeatureCacheAuto, FeatureCacheMemory, FeatureCacheDisk, FeatureCacheOff:
		return true
	}
	return false
}

func validFeatureDType(s string) bool {
	switch featureDType(s) {
	case "", featFP16, featBF16, featFP32:
		return true
	}
	return false
}

// usesFeatureCache reports whether cfg trains with cached image features: the encoder must be
// frozen (--freeze-vision, or a LoRA run without adapters in it: its output never changes) and the
// images must not be augmented (each image is always the same pixels).
func usesFeatureCache(cfg Config) bool {
	return visionFrozen(cfg) && !cfg.Augment && cfg.FeatureCache != FeatureCacheOff
}

// FeatureCacheStats says what the feature cache did in a run; Images is 0 when it was not used.
type FeatureCacheStats struct {
	Images     int           // distinct training and validation images
	InMemory   int           // entries held in memory
	OnDisk     int           // entries kept in Dir
	Uncached   int           // images past the memory budget with FeatureCache "memory": encoded at each use
	Reused     int           // disk entries an earlier session of this run wrote (--resume)
	Rebuilt    int           // disk entries found damaged, half written or made by another model, and made again
	Encoded    int           // images run through the encoder to fill the cache
	EncodeTime time.Duration // spent encoding them
	Saved      time.Duration // encoder time the rest of the run avoids (estimated from EncodeTime)
	DType      string        // of disk entries
	Dir        string
}

// String is the line the CLI and the Fine-tune tab show, starting "image features cached".
func (s FeatureCacheStats) String() string {
	where := []string{fmt.Sprintf("%d in memory", s.InMemory)}
	if s.OnDisk > 0 {
		where = append(where, fmt.Sprintf("%d on disk as %s in %s", s.OnDisk, s.DType, s.Dir))
	}
	if s.Uncached > 0 {
		where = append(where, fmt.Sprintf("%d past the memory budget, encoded at each use", s.Uncached))
	}
	msg := fmt.Sprintf("image features cached: the frozen vision encoder runs once per image (%d images: %s)", s.Images, strings.Join(where, ", "))
	if s.Reused > 0 {
		msg += fmt.Sprintf("; %d reused from the last session", s.Reused)
	}
	if s.Rebuilt > 0 {
		msg += fmt.Sprintf("; %d damaged or foreign entries rebuilt", s.Rebuilt)
	}
	if s.Encoded == 0 {
		return msg + "; nothing to encode"
	}
	return msg + fmt.Sprintf("; saves ~%s of encoding", roundSaved(s.Saved))
}

func roundSaved(d time.Duration) string {
	if d >= time.Minute {
		return fmt.Sprintf("%.1f min", d.Minutes())
	}
	return d.Round(100 * time.Millisecond).String()
}

// imageFeeder gives a micro-batch's loss: either by encoding its pixels (the vision encoder runs
// in the loss) or from the cached encoder output. images index the split's image list; seeds are
// the augmentation seeds of each.
type imageFeeder interface {
	loss(c *inference.Captioner, images []int, seeds []uint64, b inference.DecoderBatch) (*ts.Tensor, error)
}

// loss makes imageLoader the feeder without a cache: pixels through the whole model.
func (l *imageLoader) loss(c *inference.Captioner, images []int, seeds []uint64, b inference.DecoderBatch) (*ts.Tensor, error) {
	pix, err := l.pixels(c, images, seeds)
	if err != nil {
		return nil, err
	}
	defer pix.MustDrop()
	return c.Model.Loss(pix, b)
}

// featureFeeder is the feeder of one split (training or validation) over a shared featureStore.
type featureFeeder struct {
	store  *featureStore
	loader *imageLoader
	keys   []string // the store key of each image of the split
}

func (f *featureFeeder) loss(c *inference.Captioner, images []int, _ []uint64, b inference.DecoderBatch) (*ts.Tensor, error) {
	rows := make([]*ts.Tensor, len(images))
	var owned []*ts.Tensor
	defer func() {
		for _, t := range owned {
			t.MustDrop()
		}
	}()
	var missing []int
	for i, idx := range images {
		t, own := f.store.get(f.keys[idx])
		if t == nil {
			missing = append(missing, i)
			continue
		}
		rows[i] = t
		if own {
			owned = append(owned, t)
		}
	}
	if len(missing) > 0 {
		// Past a "memory" budget, or a disk entry that went bad during the run: encode these now.
		idx := make([]int, len(missing))
		for j, i := range missing {
			idx[j] = images[i]
		}
		vals, err := f.store.encode(c, f.loader, idx)
		if err != nil {
			return nil, err
		}
		for j, i := range missing {
			v := f.store.put(f.keys[images[i]], vals[j])
			t, err := f.store.tensor(v)
			if err != nil {
				return nil, err
			}
			rows[i] = t
			owned = append(owned, t)
		}
	}
	feats := ts.MustStack(rows, 0)
	if f.store.device != gotch.CPU {
		feats = feats.MustTo(f.store.device, true)
	}
	defer feats.MustDrop()
	return c.Model.LossFromImageEmbeds(feats, b)
}

// availableMemory is inference.AvailableMemory; tests replace it to simulate a machine running out.
var availableMemory = inference.AvailableMemory

// memoryReserve is the memory the cache leaves free for training when it decides to keep an entry
// in memory: below it, entries go to disk instead.
const memoryReserve = 1 << 30

// featureStore keeps the encoder output of each image, by key, in memory up to a budget and
// otherwise in dir. Its methods run on the training goroutine.
type featureStore struct {
	mode     string
	dtype    featureDType
	dir      string
	modelKey string
	tokens   int64 // image tokens per image (N)
	hidden   int64 // C
	device   gotch.Device
	budget   int64
	used     int64
	memFull  bool
	mem      map[string]*ts.Tensor
	disk     map[string]bool
	uncached map[string]bool // images the cache could not take: encoded at each use
	stats    FeatureCacheStats
}

// featureManifest is feature-cache/manifest.json: what every entry in the folder was made with.
type featureManifest struct {
	Format int      `json:"format"`
	Model  string   `json:"model"` // see modelFeatureKey
	DType  string   `json:"dtype"`
	Shape  [2]int64 `json:"shape"`
}

// featureHeader precedes each entry's values on disk.
type featureHeader struct {
	Format int      `json:"format"`
	Model  string   `json:"model"`
	Image  string   `json:"image"` // sha256 of the image file
	DType  string   `json:"dtype"`
	Shape  [2]int64 `json:"shape"`
	SHA256 string   `json:"sha256"` // of the values that follow
}

const featureMagic = "CAPTUNE-FEATURES\n"

func (s *featureStore) size() int64 { return s.tokens * s.hidden }

// entryPath is the file of an entry: named by the image and the model, so a foreign entry is
// never even looked at (its header is checked anyway).
func (s *featureStore) entryPath(imageKey string) string {
	h := sha256.Sum256([]byte(s.modelKey + "\x00" + imageKey))
	return filepath.Join(s.dir, hex.EncodeToString(h[:20])+".feat")
}

// openFeatureStore prepares dir for a model: a leftover of a killed writer is removed, and a
// folder whose manifest is missing, damaged or names another model, dtype or shape is emptied
// (and its entries counted as rebuilt) before the new manifest is written.
func openFeatureStore(cfg Config, c *inference.Captioner) (*featureStore, error) {
	vc := c.Model.Config.Vision
	patches := (vc.ImageSize / vc.PatchSize) * (vc.ImageSize / vc.PatchSize)
	s := &featureStore{
		mode: cfg.FeatureCache, dtype: parseFeatureDType(cfg.FeatureCacheDType),
		dir: filepath.Join(cfg.OutDir, FeatureCacheDir), tokens: patches + 1, hidden: vc.HiddenSize,
		device: c.Model.Device, mem: map[string]*ts.Tensor{}, disk: map[string]bool{}, uncached: map[string]bool{},
	}
	if s.mode == "" {
		s.mode = FeatureCacheAuto
	}
	s.budget = int64(cfg.FeatureCacheMB) << 20
	if cfg.FeatureCacheMB == 0 {
		s.budget = max(availableMemory()/4, 0)
	}
	s.stats.DType, s.stats.Dir = string(s.dtype), s.dir
	var err error
	if s.modelKey, err = modelFeatureKey(c); err != nil {
		return nil, err
	}
	if s.mode == FeatureCacheMemory {
		return s, nil
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("feature cache: %w", err)
	}
	atomicfile.CleanStale(s.dir)
	want := featureManifest{Format: 1, Model: s.modelKey, DType: string(s.dtype), Shape: [2]int64{s.tokens, s.hidden}}
	var have featureManifest
	if readJSON(filepath.Join(s.dir, "manifest.json"), &have) != nil || have != want {
		n, err := clearFeatureDir(s.dir)
		if err != nil {
			return nil, err
		}
		s.stats.Rebuilt += n
		if err := writeJSONFile(filepath.Join(s.dir, "manifest.json"), want); err != nil {
			return nil, fmt.Errorf("feature cache: %w", err)
		}
	}
	return s, nil
}

// clearFeatureDir removes every entry of a feature cache folder and its manifest.
func clearFeatureDir(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("feature cache: %w", err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".feat") || e.Name() == "manifest.json" {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return n, fmt.Errorf("feature cache: %w", err)
			}
			if e.Name() != "manifest.json" {
				n++
			}
		}
	}
	return n, nil
}

// modelFeatureKey identifies what a cached feature depends on besides the image: the vision
// encoder's configuration and weights (every vision_model tensor, by name, shape and bytes) and
// the image preprocessing. The text decoder's weights are left out, so a checkpoint of the same
// run (--resume) keeps the key.
func modelFeatureKey(c *inference.Captioner) (string, error) {
	h := sha256.New()
	vc, _ := json.Marshal(c.Model.Config.Vision)
	pre, _ := json.Marshal(c.Pre)
	fmt.Fprintf(h, "captune-features-1\x00%s\x00%s\x00", vc, pre)
	if c.Model.Precision != inference.FP32 {
		fmt.Fprintf(h, "precision %s\x00", c.Model.Precision)
	}
	named := c.Model.Tensors()
	sort.Slice(named, func(i, j int) bool { return named[i].Name < named[j].Name })
	for _, n := range named {
		if !strings.HasPrefix(n.Name, "vision_model.") {
			continue
		}
		t := n.Tensor.MustTo(gotch.CPU, false).MustContiguous(true)
		fmt.Fprintf(h, "%s\x00%v\x00%v\x00", n.Name, t.MustSize(), t.DType())
		ptr, err := t.DataPtr()
		if err != nil {
			t.MustDrop()
			return "", fmt.Errorf("feature cache: hash %s: %w", n.Name, err)
		}
		size := int(t.Numel()) * int(t.DType().Size())
		if size > 0 {
			h.Write(unsafe.Slice((*byte)(ptr), size))
		}
		t.MustDrop()
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// imageKey is the sha256 of an image file's bytes.
func imageKey(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("feature cache: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("feature cache: read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// get returns the entry of key as [N, C] fp32, or nil when the store does not hold
// it (or its file is no longer valid: it is then removed). own says the caller must drop it.
func (s *featureStore) get(key string) (t *ts.Tensor, own bool) {
	if t, ok := s.mem[key]; ok {
		return t, false
	}
	if !s.disk[key] {
		return nil, false
	}
	vals, err := s.read(key)
	if err != nil {
		delete(s.disk, key)
		os.Remove(s.entryPath(key))
		s.stats.Rebuilt++
		s.stats.OnDisk--
		return nil, false
	}
	t, err = s.tensor(vals)
	if err != nil {
		return nil, false
	}
	return t, true
}

// tensor makes an entry's tensor in host memory, where the budget is counted (a micro-batch's
// features go to a GPU together).
func (s *featureStore) tensor(vals []float32) (t *ts.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("feature cache: %v", r)
		}
	}()
	return ts.NewTensorFromData(vals, []int64{s.tokens, s.hidden})
}

// put stores an entry where it fits and returns its values as every later get sees them (rounded
// to the disk dtype when it went to disk).
func (s *featureStore) put(key string, vals []float32) []float32 {
	if s.mode != FeatureCacheDisk && !s.memFull {
		size := int64(len(vals)) * 4
		avail := availableMemory()
		if s.used+size <= s.budget && (avail == 0 || avail-size >= memoryReserve) {
			if t, err := s.tensor(vals); err == nil {
				s.mem[key] = t
				s.used += size
				s.stats.InMemory++
				return vals
			}
		}
		s.memFull = true // budget reached, or memory running out: the rest goes to disk
	}
	if s.mode == FeatureCacheMemory {
		s.noteUncached(key)
		return vals
	}
	rounded := s.dtype.round(vals)
	if err := s.write(key, vals); err != nil {
		s.noteUncached(key) // a full disk: train on, encoding this image at each use
		return rounded
	}
	s.disk[key] = true
	s.stats.OnDisk++
	return rounded
}

func (s *featureStore) noteUncached(key string) {
	if !s.uncached[key] {
		s.uncached[key] = true
		s.stats.Uncached++
	}
}

// write stores an entry's file atomically: header, then values.
func (s *featureStore) write(key string, vals []float32) error {
	payload := s.dtype.encode(vals)
	sum := sha256.Sum256(payload)
	hdr, _ := json.Marshal(featureHeader{Format: 1, Model: s.modelKey, Image: key, DType: string(s.dtype),
		Shape: [2]int64{s.tokens, s.hidden}, SHA256: hex.EncodeToString(sum[:])})
	return atomicfile.Write(s.entryPath(key), 0o644, func(w io.Writer) error {
		var n [4]byte
		binary.LittleEndian.PutUint32(n[:], uint32(len(hdr)))
		for _, b := range [][]byte{[]byte(featureMagic), n[:], hdr, payload} {
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		return nil
	})
}

// errBadEntry is wrapped by every reason an entry file is not used.
var errBadEntry = errors.New("feature cache entry not valid")

// read returns an entry's values after checking that its file is whole and belongs to this
// model, image, dtype and shape.
func (s *featureStore) read(key string) ([]float32, error) {
	path := s.entryPath(key)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	bad := func(why string) error { return fmt.Errorf("%w: %s: %s", errBadEntry, path, why) }
	rest, ok := bytes.CutPrefix(data, []byte(featureMagic))
	if !ok || len(rest) < 4 {
		return nil, bad("not a feature file")
	}
	n := int(binary.LittleEndian.Uint32(rest))
	if n > len(rest)-4 {
		return nil, bad("header cut short")
	}
	var h featureHeader
	if err := json.Unmarshal(rest[4:4+n], &h); err != nil {
		return nil, bad("header: " + err.Error())
	}
	want := featureHeader{Format: 1, Model: s.modelKey, Image: key, DType: string(s.dtype), Shape: [2]int64{s.tokens, s.hidden}, SHA256: h.SHA256}
	if h != want {
		return nil, bad("made for another model, image, dtype or shape")
	}
	payload := rest[4+n:]
	if sum := sha256.Sum256(payload); hex.EncodeToString(sum[:]) != h.SHA256 {
		return nil, bad("values damaged or cut short")
	}
	return s.dtype.decode(payload, int(s.size()))
}

// encode runs the frozen encoder over images (of loader's split) under no-grad and returns each
// image's [N, C] output, flattened.
func (s *featureStore) encode(c *inference.Captioner, loader *imageLoader, images []int) ([][]float32, error) {
	pix, err := loader.pixels(c, images, nil)
	if err != nil {
		return nil, err
	}
	defer pix.MustDrop()
	ng := ts.NewNoGradGuard()
	defer ng.Drop()
	enc := c.Model.EncodeImage(pix)
	if enc.MustDevice() != gotch.CPU {
		enc = enc.MustTo(gotch.CPU, true)
	}
	enc = enc.MustContiguous(true)
	defer enc.MustDrop()
	if sz := enc.MustSize(); len(sz) != 3 || sz[1] != s.tokens || sz[2] != s.hidden {
		return nil, fmt.Errorf("feature cache: the encoder gave %v, want [%d %d %d]", sz, len(images), s.tokens, s.hidden)
	}
	per := int(s.size())
	buf := make([]float32, len(images)*per)
	if err := enc.CopyData(buf, uint(len(buf))); err != nil {
		return nil, fmt.Errorf("feature cache: %w", err)
	}
	out := make([][]float32, len(images))
	for i := range out {
		out[i] = buf[i*per : (i+1)*per : (i+1)*per]
	}
	return out, nil
}

// fill makes sure the store holds every image of a split: a valid disk entry from an earlier
// session is reused (and a bad one removed), the others are encoded batch images at a time.
func (s *featureStore) fill(ctx context.Context, c *inference.Captioner, f *featureFeeder, batch int, report func()) error {
	var todo []int
	for i, key := range f.keys {
		if _, ok := s.mem[key]; ok || s.disk[key] {
			continue
		}
		if s.mode != FeatureCacheMemory {
			if _, err := s.read(key); err == nil {
				s.disk[key] = true
				s.stats.OnDisk++
				s.stats.Reused++
				continue
			} else if !errors.Is(err, fs.ErrNotExist) {
				os.Remove(s.entryPath(key))
				s.stats.Rebuilt++
			}
		}
		todo = append(todo, i)
	}
	for start := 0; start < len(todo); start += batch {
		if err := ctx.Err(); err != nil {
			return err
		}
		idx := todo[start:min(start+batch, len(todo))]
		t0 := time.Now()
		vals, err := s.encode(c, f.loader, idx)
		if err != nil {
			return err
		}
		s.stats.EncodeTime += time.Since(t0)
		s.stats.Encoded += len(idx)
		for j, i := range idx {
			s.put(f.keys[i], vals[j])
		}
		report()
	}
	return nil
}

// free releases the entries held in memory; a nil store does nothing.
func (s *featureStore) free() {
	if s == nil {
		return
	}
	for _, t := range s.mem {
		t.MustDrop()
	}
	s.mem = map[string]*ts.Tensor{}
}

// finish removes the disk part of the cache (a finished run has no use for it) and returns what
// the cache did; a nil store returns zero stats.
func (s *featureStore) finish() FeatureCacheStats {
	if s == nil {
		return FeatureCacheStats{}
	}
	if s.mode != FeatureCacheMemory {
		os.RemoveAll(s.dir)
	}
	return s.stats
}

// featureRun is what prepareFeatures needs to know of a run: its images (indexes of the training
// and validation samples), and the passes the rest of the run makes over them, to say what the
// cache saves: steps optimizer steps of perEpoch per epoch, with a validation at each epoch end.
type featureRun struct {
	train, val      []string
	valSamples      int
	steps, perEpoch int
}

// prepareFeatures returns the image feeders of the training and validation splits: their loaders
// when cfg does not cache features, otherwise feeders over one store filled now, before the first
// step. The store is nil without a cache; free it when the run returns, finish it when it succeeds.
func prepareFeatures(ctx context.Context, c *inference.Captioner, cfg Config, run featureRun, onProgress func(Progress)) (train, val imageFeeder, s *featureStore, err error) {
	trainLoader, valLoader := newImageLoader(run.train, c.Pre, cfg.Augment), newImageLoader(run.val, c.Pre, false)
	if !usesFeatureCache(cfg) {
		return trainLoader, valLoader, nil, nil
	}
	if s, err = openFeatureStore(cfg, c); err != nil {
		return nil, nil, nil, err
	}
	feeders := []*featureFeeder{{store: s, loader: trainLoader}, {store: s, loader: valLoader}}
	seen := map[string]bool{}
	for i, paths := range [][]string{run.train, run.val} {
		feeders[i].keys = make([]string, len(paths))
		for j, p := range paths {
			if feeders[i].keys[j], err = imageKey(p); err != nil {
				s.free()
				return nil, nil, nil, err
			}
			seen[feeders[i].keys[j]] = true
		}
	}
	s.stats.Images = len(seen)
	report := func() {
		done := s.stats.InMemory + s.stats.OnDisk + s.stats.Uncached
		onProgress(Progress{Phase: "cache", ValLoss: math.NaN(), Step: done, Total: s.stats.Images,
			Message: fmt.Sprintf("caching image features: %d/%d images", done, s.stats.Images)})
	}
	for _, f := range feeders {
		if err := s.fill(ctx, c, f, cfg.BatchSize, report); err != nil {
			s.free()
			return nil, nil, nil, fmt.Errorf("feature cache: %w", err)
		}
		f.loader.cache, f.loader.bytes = map[int]*inference.RGBImage{}, 0 // decoded pixels are not needed again
	}
	if s.stats.Encoded > 0 {
		passes := run.steps*cfg.BatchSize*cfg.GradAccum + run.valSamples*((run.steps+run.perEpoch-1)/max(run.perEpoch, 1))
		s.stats.Saved = s.stats.EncodeTime / time.Duration(s.stats.Encoded) * time.Duration(max(passes-s.stats.Images, 0))
	}
	onProgress(Progress{Phase: "load", ValLoss: math.NaN(), Message: s.stats.String()})
	return feeders[0], feeders[1], s, nil
}
