package ui

import (
	"image"
	"image/color"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fitDecoder fakes Deps.DecodeImageFit for a folder of large photos: it records the sizes asked
// for and returns an image already reduced to about that size, as libjpeg-turbo's DCT scaling
// would, together with the whole photo's size.
type fitDecoder struct {
	mu    sync.Mutex
	sides map[int]int // fitSide → calls
}

func (f *fitDecoder) decode(path string, fitSide int) (image.Image, int, int, error) {
	f.mu.Lock()
	f.sides[fitSide]++
	f.mu.Unlock()
	const w, h = 4032, 3024
	scale := 1
	for _, d := range []int{8, 4, 2} {
		if w/d >= fitSide {
			scale = d
			break
		}
	}
	img := image.NewRGBA(image.Rect(0, 0, w/scale, h/scale))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	img.Set(0, 0, color.RGBA{A: 255})
	return img, w, h, nil
}

// Opening a folder of large photos decodes the thumbnails and the large view through
// DecodeImageFit, asking for no more than each needs, and the status bar still gives the photo's
// full size.
func TestThumbnailsAndViewDecodeReduced(t *testing.T) {
	dir := makeDataset(t, 3, nil)
	fd := &fitDecoder{sides: map[int]int{}}
	deps := testDeps(&fakeCaptioner{name: "fake"})
	deps.DecodeImage = func(string) (image.Image, error) {
		t.Error("a full-size decode, where a reduced one was enough")
		return image.NewRGBA(image.Rect(0, 0, 1, 1)), nil
	}
	deps.DecodeImageFit = fd.decode
	m, ds := openWindow(t, deps, dir)
	onUIWait(func() { m.selectPos(m.posOf(0)) })
	waitImages(m)
	settle(m)

	fd.mu.Lock()
	thumbs, previews := fd.sides[thumbSize], fd.sides[previewMaxSide]
	fd.mu.Unlock()
	if thumbs != 3 || previews < 1 {
		t.Errorf("decodes asked for: %v; want 3 at the thumbnail size %d and one or more at the preview size %d", fd.sides, thumbSize, previewMaxSide)
	}
	if b := cellAt(t, m, m.posOf(0)).img.Image; b == nil || max(b.Bounds().Dx(), b.Bounds().Dy()) != thumbSize {
		t.Errorf("thumbnail image %v, want one %d px on its longer side", b, thumbSize)
	}
	if v := m.imgView.img.Image; v == nil || v.Bounds().Dx() > previewMaxSide {
		t.Errorf("large view shows %v, want the photo within %d px", v, previewMaxSide)
	}
	want := filepath.Base(ds.Item(0).Path) + " · 4032×3024"
	if got := m.itemInfo.Text; !strings.HasPrefix(got, want) {
		t.Errorf("status bar says %q, want it to start %q", got, want)
	}
}
