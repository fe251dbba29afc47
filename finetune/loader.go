package finetune

import (
	"math"
	"math/rand/v2"

	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/inference"
)

// imageLoader decodes training images on demand and keeps the decoded pixels in memory up to a
// budget, so that small datasets are read once and large ones do not exhaust memory.
type imageLoader struct {
	paths   []string
	pre     inference.Preprocessor
	augment bool
	cache   map[int]*inference.RGBImage
	bytes   int
	budget  int
}

func newImageLoader(paths []string, pre inference.Preprocessor, augment bool) *imageLoader {
	return &imageLoader{paths: paths, pre: pre, augment: augment, cache: map[int]*inference.RGBImage{}, budget: 1 << 30}
}

// pixels returns images (indexes into the loader's list) as c's pixel tensor, each augmented
// from its seed (seeds nil: seed 0, the unaugmented image when not augmenting).
func (l *imageLoader) pixels(c *inference.Captioner, images []int, seeds []uint64) (*ts.Tensor, error) {
	imgs := make([]*inference.RGBImage, len(images))
	for i, idx := range images {
		var seed uint64
		if seeds != nil {
			seed = seeds[i]
		}
		img, err := l.get(idx, seed)
		if err != nil {
			return nil, err
		}
		imgs[i] = img
	}
	return c.Pixels(imgs)
}

// get returns image i, randomly cropped and flipped from the given seed when augmenting.
func (l *imageLoader) get(i int, seed uint64) (*inference.RGBImage, error) {
	img, ok := l.cache[i]
	if !ok {
		var err error
		img, err = inference.LoadImage(l.paths[i])
		if err != nil {
			return nil, err
		}
		if !l.augment && l.pre.DoResize {
			// Resizing now gives the same pixels as later and keeps the cache small.
			img = inference.ResizeImage(img, l.pre)
		}
		if l.bytes+len(img.Pix) <= l.budget {
			l.cache[i] = img
			l.bytes += len(img.Pix)
		}
	}
	if !l.augment {
		return img, nil
	}
	return randomResizedCrop(img, rand.New(rand.NewPCG(seed, uint64(i)))), nil
}

// randomResizedCrop takes a crop of 50–100% of the area with aspect ratio 3/4–4/3 (BLIP's training
// transform, torchvision's algorithm) and flips it horizontally half the time.
func randomResizedCrop(img *inference.RGBImage, r *rand.Rand) *inference.RGBImage {
	area := float64(img.W * img.H)
	w, h, x0, y0 := img.W, img.H, 0, 0
	for try := 0; try < 10; try++ {
		target := area * (0.5 + 0.5*r.Float64())
		logRatio := math.Log(3.0/4) + r.Float64()*(math.Log(4.0/3)-math.Log(3.0/4))
		ratio := math.Exp(logRatio)
		cw := int(math.Round(math.Sqrt(target * ratio)))
		ch := int(math.Round(math.Sqrt(target / ratio)))
		if cw > 0 && ch > 0 && cw <= img.W && ch <= img.H {
			w, h = cw, ch
			x0 = r.IntN(img.W - cw + 1)
			y0 = r.IntN(img.H - ch + 1)
			break
		}
	}
	flip := r.IntN(2) == 1
	out := &inference.RGBImage{W: w, H: h, Pix: make([]uint8, w*h*3)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			sx := x0 + x
			if flip {
				sx = x0 + w - 1 - x
			}
			copy(out.Pix[(y*w+x)*3:(y*w+x)*3+3], img.Pix[((y0+y)*img.W+sx)*3:])
		}
	}
	return out
}
