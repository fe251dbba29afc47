package ui

import (
	"bytes"
	"container/list"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"image"
	"image/draw"
	_ "image/gif" // registered decoders for the default image reader
	"image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"sync"
	"time"

	_ "golang.org/x/image/bmp"
	xdraw "golang.org/x/image/draw"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"

	"github.com/captune/captune/internal/atomicfile"
)

// Sizes of decoded images. Thumbnails are small enough that hundreds fit in memory; previews are
// capped because a 50-megapixel photo does not need more than a screen's worth of pixels.
const (
	thumbSize      = 160
	previewMaxSide = 2048
	thumbMemItems  = 800
	previewMemItem = 6
)

// decodeFile reads an image with the standard library's decoders (JPEG, PNG, GIF, WebP, BMP, TIFF).
func decodeFile(path string) (image.Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read image %s: %w", path, err)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decode image %s: %w", path, err)
	}
	return img, nil
}

// loaded is a decoded image with the size of the original file's pixels.
type loaded struct {
	img  image.Image
	w, h int
}

// imageLoader decodes images off the UI goroutine. Thumbnails go through a memory LRU and a disk
// cache (keyed by path, size and modification time, so an edited image gets a new thumbnail);
// previews for the large view through a small LRU. The most recent request is served first, so
// the thumbnails the user scrolled to appear before those scrolled past.
type imageLoader struct {
	decode   func(string) (image.Image, error)
	cacheDir string
	// decodeFit, when set, decodes reduced for a thumbnail or preview (Deps.DecodeImageFit).
	decodeFit func(path string, fitSide int) (image.Image, int, int, error)

	mu       sync.Mutex
	cond     *sync.Cond
	thumbs   []*loadReq // LIFO
	previews []*loadReq // LIFO, served before thumbnails
	pending  map[string]*loadReq
	busy     int
	closed   bool
	thumbMem *lru
	prevMem  *lru
	// failed remembers thumbnails that could not be decoded, so that a cell scrolled back into
	// view shows its error badge at once instead of decoding the broken file again.
	failed map[string]error
}

type loadReq struct {
	key     string
	path    string
	preview bool
	cbs     []func(loaded, error)
}

// maxQueuedThumbs bounds the thumbnail queue: requests for cells scrolled far away are dropped
// (oldest first) and asked again when the cells come back.
const maxQueuedThumbs = 512

func newImageLoader(decode func(string) (image.Image, error), cacheDir string, workers int) *imageLoader {
	if decode == nil {
		decode = decodeFile
	}
	l := &imageLoader{decode: decode, cacheDir: cacheDir, pending: map[string]*loadReq{},
		thumbMem: newLRU(thumbMemItems), prevMem: newLRU(previewMemItem), failed: map[string]error{}}
	l.cond = sync.NewCond(&l.mu)
	for range max(workers, 1) {
		go l.work()
	}
	return l
}

// cachedThumbnail returns a thumbnail already in memory, so that a cell can show it at once.
func (l *imageLoader) cachedThumbnail(path string) (loaded, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.thumbMem.get("t:" + path)
}

// failedThumbnail returns the error of a thumbnail that could not be made, or nil.
func (l *imageLoader) failedThumbnail(path string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed["t:"+path]
}

// forgetFailures lets thumbnails that failed be tried again (a folder opened anew, where the
// files may have been repaired).
func (l *imageLoader) forgetFailures() {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.failed)
}

// cachedPreview returns a preview already in memory.
func (l *imageLoader) cachedPreview(path string) (loaded, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.prevMem.get("p:" + path)
}

// thumbnail asks for the thumbnail of path; cb runs on a loader goroutine.
func (l *imageLoader) thumbnail(path string, cb func(loaded, error)) { l.request(path, false, cb) }

// preview asks for the large-view image of path; cb runs on a loader goroutine.
func (l *imageLoader) preview(path string, cb func(loaded, error)) { l.request(path, true, cb) }

func (l *imageLoader) request(path string, preview bool, cb func(loaded, error)) {
	key := "t:" + path
	if preview {
		key = "p:" + path
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	if r, ok := l.pending[key]; ok {
		r.cbs = append(r.cbs, cb)
		return
	}
	r := &loadReq{key: key, path: path, preview: preview, cbs: []func(loaded, error){cb}}
	l.pending[key] = r
	if preview {
		l.previews = append(l.previews, r)
	} else {
		l.thumbs = append(l.thumbs, r)
		if len(l.thumbs) > maxQueuedThumbs {
			old := l.thumbs[0]
			l.thumbs = l.thumbs[1:]
			delete(l.pending, old.key)
		}
	}
	l.cond.Broadcast()
}

func (l *imageLoader) work() {
	for {
		l.mu.Lock()
		for !l.closed && len(l.thumbs) == 0 && len(l.previews) == 0 {
			l.cond.Wait()
		}
		if l.closed {
			l.mu.Unlock()
			return
		}
		var r *loadReq
		if n := len(l.previews); n > 0 {
			r, l.previews = l.previews[n-1], l.previews[:n-1]
		} else {
			n := len(l.thumbs)
			r, l.thumbs = l.thumbs[n-1], l.thumbs[:n-1]
		}
		l.busy++
		l.mu.Unlock()

		var res loaded
		var err error
		if r.preview {
			res, err = l.loadPreview(r.path)
		} else {
			res, err = l.loadThumb(r.path)
		}

		l.mu.Lock()
		delete(l.pending, r.key)
		switch {
		case err == nil && r.preview:
			l.prevMem.put(r.key, res)
		case err == nil:
			l.thumbMem.put(r.key, res)
			delete(l.failed, r.key)
		case !r.preview:
			if len(l.failed) >= thumbMemItems {
				clear(l.failed) // a folder of broken files: forget and decode again when shown
			}
			l.failed[r.key] = err
		}
		cbs := r.cbs
		if l.closed {
			cbs = nil // the window is gone
		}
		l.mu.Unlock()
		for _, cb := range cbs {
			cb(res, err)
		}
		l.mu.Lock()
		l.busy--
		l.cond.Broadcast()
		l.mu.Unlock()
	}
}

// wait blocks until every queued request has been served (for tests and screenshots).
func (l *imageLoader) wait() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for !l.closed && (len(l.thumbs) > 0 || len(l.previews) > 0 || l.busy > 0) {
		l.cond.Wait()
	}
}

// close stops the workers; requests not yet served are dropped and no callback starts after it.
// It waits up to closeWait for the images being decoded, so that a callback in flight does not
// outlive the window; not longer, because a callback's fyne.Do may wait for the UI goroutine that
// is running close, or for an event loop that has already ended (a quit by signal).
func (l *imageLoader) close() {
	l.mu.Lock()
	l.closed = true
	l.thumbs, l.previews = nil, nil
	l.cond.Broadcast()
	l.mu.Unlock()
	for deadline := time.Now().Add(closeWait); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		l.mu.Lock()
		busy := l.busy
		l.mu.Unlock()
		if busy == 0 {
			return
		}
	}
}

// closeWait bounds how long closing a window waits for an image being decoded.
const closeWait = 2 * time.Second

// decodeFitting decodes an image that will be shown at most fitSide pixels on its longer side, and
// returns the whole image's size with it.
func (l *imageLoader) decodeFitting(path string, fitSide int) (image.Image, int, int, error) {
	if l.decodeFit != nil {
		return l.decodeFit(path, fitSide)
	}
	img, err := l.decode(path)
	if err != nil {
		return nil, 0, 0, err
	}
	b := img.Bounds()
	return img, b.Dx(), b.Dy(), nil
}

func (l *imageLoader) loadPreview(path string) (loaded, error) {
	img, w, h, err := l.decodeFitting(path, previewMaxSide)
	if err != nil {
		return loaded{}, err
	}
	return loaded{img: fitImage(img, previewMaxSide), w: w, h: h}, nil
}

func (l *imageLoader) loadThumb(path string) (loaded, error) {
	st, err := os.Stat(path)
	if err != nil {
		return loaded{}, fmt.Errorf("read image %s: %w", path, err)
	}
	var cachePath string
	if l.cacheDir != "" {
		h := sha1.Sum(fmt.Appendf(nil, "%s|%d|%d|%d", path, st.Size(), st.ModTime().UnixNano(), thumbSize))
		name := hex.EncodeToString(h[:])
		cachePath = filepath.Join(l.cacheDir, name[:2], name+".jpg")
		if f, err := os.Open(cachePath); err == nil {
			img, err := jpeg.Decode(f)
			f.Close()
			if err == nil {
				return loaded{img: img, w: img.Bounds().Dx(), h: img.Bounds().Dy()}, nil
			}
		}
	}
	img, w, h, err := l.decodeFitting(path, thumbSize)
	if err != nil {
		return loaded{}, err
	}
	small := fitImage(img, thumbSize)
	if cachePath != "" {
		// A cache that cannot be written only costs time on the next start: ignore the error.
		_ = writeThumb(cachePath, small)
	}
	return loaded{img: small, w: w, h: h}, nil
}

// writeThumb stores a thumbnail atomically, so that a crash never leaves half a JPEG in the cache.
func writeThumb(path string, img image.Image) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		return err
	}
	tmp, err := atomicfile.Create(path) // not synced: a thumbnail lost in a crash is made again
	if err != nil {
		return err
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// fitImage scales img down so that its longer side is at most maxSide. A box filter first takes it
// to within twice the target (cheap, and without the aliasing of sampling a large image sparsely),
// then Catmull-Rom gives the exact size.
func fitImage(img image.Image, maxSide int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= maxSide && h <= maxSide || w == 0 || h == 0 {
		return img
	}
	tw, th := maxSide, h*maxSide/w
	if h > w {
		tw, th = w*maxSide/h, maxSide
	}
	tw, th = max(tw, 1), max(th, 1)
	src := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(src, src.Bounds(), img, b.Min, draw.Src)
	if k := min(w/tw, h/th) / 2; k >= 2 {
		src = boxShrink(src, k)
	}
	dst := image.NewRGBA(image.Rect(0, 0, tw, th))
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), xdraw.Src, nil)
	return dst
}

// boxShrink averages k×k blocks.
func boxShrink(src *image.RGBA, k int) *image.RGBA {
	w, h := src.Bounds().Dx()/k, src.Bounds().Dy()/k
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	n := uint32(k * k)
	for y := range h {
		for x := range w {
			var r, g, b, a uint32
			for yy := y * k; yy < y*k+k; yy++ {
				row := src.Pix[yy*src.Stride+x*k*4:]
				for xx := 0; xx < k*4; xx += 4 {
					r += uint32(row[xx])
					g += uint32(row[xx+1])
					b += uint32(row[xx+2])
					a += uint32(row[xx+3])
				}
			}
			o := y*dst.Stride + x*4
			dst.Pix[o], dst.Pix[o+1], dst.Pix[o+2], dst.Pix[o+3] = uint8(r/n), uint8(g/n), uint8(b/n), uint8(a/n)
		}
	}
	return dst
}

// lru is a small least-recently-used map; the caller locks.
type lru struct {
	cap   int
	order *list.List
	items map[string]*list.Element
}

type lruEntry struct {
	key string
	val loaded
}

func newLRU(n int) *lru { return &lru{cap: n, order: list.New(), items: map[string]*list.Element{}} }

func (c *lru) get(key string) (loaded, bool) {
	if e, ok := c.items[key]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*lruEntry).val, true
	}
	return loaded{}, false
}

func (c *lru) put(key string, v loaded) {
	if e, ok := c.items[key]; ok {
		e.Value.(*lruEntry).val = v
		c.order.MoveToFront(e)
		return
	}
	c.items[key] = c.order.PushFront(&lruEntry{key, v})
	for c.order.Len() > c.cap {
		e := c.order.Back()
		c.order.Remove(e)
		delete(c.items, e.Value.(*lruEntry).key)
	}
}
