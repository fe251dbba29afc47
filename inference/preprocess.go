package inference

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // GIF: the first frame
	_ "image/png"
	"os"
	"path/filepath"

	"github.com/disintegration/imaging"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"
)

// MaxImagePixels bounds the pixels of an image Captune decodes; larger ones are refused before
// their pixels are read (Pillow refuses decompression bombs at twice its 89.5 MP warning limit).
const MaxImagePixels = 2 * 89478485

// MaxImageBytes bounds the size of an image file read into memory.
const MaxImageBytes = 512 << 20

// ErrImage is wrapped by every error about an unreadable image.
var ErrImage = errors.New("unreadable image")

// RGBImage is an 8-bit interleaved RGB image.
type RGBImage struct {
	W, H int
	Pix  []uint8 // len W*H*3, row-major
}

// Preprocessor turns images into pixel values as transformers' BlipImageProcessor does, configured
// by preprocessor_config.json.
type Preprocessor struct {
	Width, Height int
	Resample      int // Pillow's code: 3 = bicubic
	DoResize      bool
	DoRescale     bool
	DoNormalize   bool
	RescaleFactor float64
	Mean, Std     [3]float64
}

// DefaultPreprocessor returns BlipImageProcessor's defaults for a square input of size pixels.
func DefaultPreprocessor(size int) Preprocessor {
	return Preprocessor{
		Width: size, Height: size, Resample: 3, DoResize: true, DoRescale: true, DoNormalize: true,
		RescaleFactor: 1.0 / 255,
		Mean:          [3]float64{0.48145466, 0.4578275, 0.40821073},
		Std:           [3]float64{0.26862954, 0.26130258, 0.27577711},
	}
}

// LoadPreprocessor reads dir/preprocessor_config.json; when the file is absent it returns the
// defaults for the model's image size.
func LoadPreprocessor(dir string, imageSize int) (Preprocessor, error) {
	p := DefaultPreprocessor(imageSize)
	path := filepath.Join(dir, "preprocessor_config.json")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("load %s: %w", path, err)
	}
	var raw preprocessorConfig
	if err := json.Unmarshal(data, &raw); err != nil {
		return p, fmt.Errorf("load %s: %w", path, err)
	}
	if err := raw.apply(&p); err != nil {
		return p, fmt.Errorf("load %s: %w", path, err)
	}
	return p, nil
}

// preprocessorConfig is what Captune reads of preprocessor_config.json; a missing key keeps the
// default.
type preprocessorConfig struct {
	Size          json.RawMessage `json:"size"`
	Resample      *int            `json:"resample"`
	DoResize      *bool           `json:"do_resize"`
	DoRescale     *bool           `json:"do_rescale"`
	DoNormalize   *bool           `json:"do_normalize"`
	RescaleFactor *float64        `json:"rescale_factor"`
	Mean          []float64       `json:"image_mean"`
	Std           []float64       `json:"image_std"`
}

// apply sets in p the values raw gives, checking them.
func (raw preprocessorConfig) apply(p *Preprocessor) error {
	if len(raw.Size) > 0 {
		w, h, ok := parseImageSize(raw.Size)
		if !ok {
			return fmt.Errorf("size %s: want a number or {\"height\", \"width\"}", raw.Size)
		}
		p.Width, p.Height = w, h
	}
	if raw.Resample != nil {
		p.Resample = *raw.Resample
	}
	if _, ok := resampleFilters[p.Resample]; !ok {
		return fmt.Errorf("resample %d not supported", p.Resample)
	}
	setBool := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	setBool(&p.DoResize, raw.DoResize)
	setBool(&p.DoRescale, raw.DoRescale)
	setBool(&p.DoNormalize, raw.DoNormalize)
	if raw.RescaleFactor != nil {
		p.RescaleFactor = *raw.RescaleFactor
	}
	return raw.applyNormalization(p)
}

// applyNormalization sets the per-channel mean and standard deviation, three values each.
func (raw preprocessorConfig) applyNormalization(p *Preprocessor) error {
	for name, v := range map[string][]float64{"image_mean": raw.Mean, "image_std": raw.Std} {
		if v == nil {
			continue
		}
		if len(v) != 3 {
			return fmt.Errorf("%s has %d values, want 3", name, len(v))
		}
	}
	if raw.Mean != nil {
		copy(p.Mean[:], raw.Mean)
	}
	if raw.Std != nil {
		copy(p.Std[:], raw.Std)
		for _, s := range p.Std {
			if s == 0 {
				return errors.New("image_std has a zero")
			}
		}
	}
	return nil
}

// parseImageSize reads the "size" of preprocessor_config.json: a number, {"height", "width"}
// or {"shortest_edge"}. ok is false for anything else or a size that is not positive.
func parseImageSize(size json.RawMessage) (width, height int, ok bool) {
	var n int
	var hw struct {
		ShortestEdge int `json:"shortest_edge"`
	}
	var hw2 struct {
		Height int `json:"height"`
		Width  int `json:"width"`
	}
	switch {
	case json.Unmarshal(size, &n) == nil && n > 0:
		return n, n, true
	case json.Unmarshal(size, &hw2) == nil && hw2.Height > 0 && hw2.Width > 0:
		return hw2.Width, hw2.Height, true
	case json.Unmarshal(size, &hw) == nil && hw.ShortestEdge > 0:
		return hw.ShortestEdge, hw.ShortestEdge, true
	}
	return 0, 0, false
}

// Save writes dir/preprocessor_config.json in transformers' layout.
func (p Preprocessor) Save(dir string) error {
	m := map[string]any{
		"do_convert_rgb": true, "do_normalize": p.DoNormalize, "do_rescale": p.DoRescale, "do_resize": p.DoResize,
		"image_mean": p.Mean[:], "image_std": p.Std[:], "image_processor_type": "BlipImageProcessor",
		"processor_class": "BlipProcessor", "resample": p.Resample, "rescale_factor": p.RescaleFactor,
		"size": map[string]int{"height": p.Height, "width": p.Width},
	}
	return writeJSON(filepath.Join(dir, "preprocessor_config.json"), m)
}

// LoadImage reads an image file (JPEG, PNG, WebP, GIF, BMP, TIFF), applies its EXIF orientation and
// converts it to 8-bit RGB: grayscale is replicated, palettes expanded, alpha dropped (as Pillow's
// convert("RGB") does), 16-bit samples reduced to their high byte.
func LoadImage(path string) (*RGBImage, error) {
	data, err := readImageFile(path)
	if err != nil {
		return nil, err
	}
	img, err := DecodeImage(data)
	if err != nil {
		return nil, fmt.Errorf("read image %s: %w", path, err)
	}
	return img, nil
}

// DecodeImage decodes image bytes as LoadImage does.
func DecodeImage(data []byte) (*RGBImage, error) {
	img, _, _, err := decodeImage(data, 0)
	return img, err
}

// decodeImage decodes as DecodeImage does; a JPEG may come reduced towards fitSide (decodeJPEG).
// w and h are the whole image's size, oriented.
func decodeImage(data []byte, fitSide int) (img *RGBImage, w, h int, err error) {
	if len(data) == 0 {
		return nil, 0, 0, fmt.Errorf("%w: empty file", ErrImage)
	}
	if len(data) > MaxImageBytes {
		return nil, 0, 0, fmt.Errorf("%w: larger than %d MB", ErrImage, MaxImageBytes>>20)
	}
	if isJPEG(data) {
		// Decoded by libjpeg-turbo as Pillow decodes it (jpeg_decoder.go), and oriented after the
		// colour conversion, as Pillow's exif_transpose does.
		return decodeJPEG(data, fitSide)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%w: not a JPEG, PNG, WebP, GIF, BMP or TIFF image (%v)", ErrImage, err)
	}
	if err := checkSize(format, cfg.Width, cfg.Height); err != nil {
		return nil, 0, 0, err
	}
	m, err := imaging.Decode(bytes.NewReader(data), imaging.AutoOrientation(true))
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%w: %s: %v", ErrImage, format, err)
	}
	img = toRGB(m)
	return img, img.W, img.H, nil
}

func toRGB(img image.Image) *RGBImage {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := &RGBImage{W: w, H: h, Pix: make([]uint8, w*h*3)}
	px := out.Pix
	switch m := img.(type) {
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[(y)*m.Stride:]
			for x := 0; x < w; x++ {
				o := (y*w + x) * 3
				px[o], px[o+1], px[o+2] = row[x*4], row[x*4+1], row[x*4+2]
			}
		}
	case *image.YCbCr:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				yi := m.YOffset(x+b.Min.X, y+b.Min.Y)
				ci := m.COffset(x+b.Min.X, y+b.Min.Y)
				r, g, bb := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				o := (y*w + x) * 3
				px[o], px[o+1], px[o+2] = r, g, bb
			}
		}
	case *image.Gray:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				v := m.Pix[y*m.Stride+x]
				o := (y*w + x) * 3
				px[o], px[o+1], px[o+2] = v, v, v
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.NRGBA64Model.Convert(img.At(x+b.Min.X, y+b.Min.Y)).(color.NRGBA64)
				o := (y*w + x) * 3
				px[o], px[o+1], px[o+2] = uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8)
			}
		}
	}
	return out
}

// Pixels returns the normalised pixel values of one image, channel-major [3, Height, Width].
func (p Preprocessor) Pixels(img *RGBImage) ([]float32, error) {
	pix, w, h := img.Pix, img.W, img.H
	if p.DoResize && (w != p.Width || h != p.Height) {
		var err error
		pix, err = resizeRGB(img.Pix, img.W, img.H, p.Width, p.Height, p.Resample)
		if err != nil {
			return nil, err
		}
		w, h = p.Width, p.Height
	}
	if w != p.Width || h != p.Height {
		return nil, fmt.Errorf("image is %d×%d but the model needs %d×%d and resizing is off", w, h, p.Width, p.Height)
	}
	out := make([]float32, 3*w*h)
	plane := w * h
	for c := 0; c < 3; c++ {
		lut := p.channelLUT(c)
		dst := out[c*plane : (c+1)*plane]
		for i := range dst {
			dst[i] = lut[pix[i*3+c]]
		}
	}
	return out, nil
}

// channelLUT returns the pixel value of each 8-bit sample of channel c, computed as transformers
// computes it: rescale in float64 (a uint8 array times a Python float), cast to float32, then
// normalise in float32 with the mean and std cast to float32. The same sums in another order differ
// in the last bit of about one sample in ten.
func (p Preprocessor) channelLUT(c int) *[256]float32 {
	var lut [256]float32
	scale := 1.0
	if p.DoRescale {
		scale = p.RescaleFactor
	}
	m, s := float32(p.Mean[c]), float32(p.Std[c])
	for v := range lut {
		x := float32(float64(v) * scale)
		if p.DoNormalize {
			x = float32(x-m) / s
		}
		lut[v] = x
	}
	return &lut
}

// Batch stacks images into pixel values [N, 3, Height, Width] on device.
func (p Preprocessor) Batch(images []*RGBImage, device gotch.Device) (*ts.Tensor, error) {
	n := len(images)
	all := make([]float32, 0, n*3*p.Width*p.Height)
	for i, img := range images {
		v, err := p.Pixels(img)
		if err != nil {
			return nil, fmt.Errorf("image %d: %w", i, err)
		}
		all = append(all, v...)
	}
	t, err := ts.NewTensorFromData(all, []int64{int64(n), 3, int64(p.Height), int64(p.Width)})
	if err != nil {
		return nil, err
	}
	if device != gotch.CPU {
		return t.MustTo(device, true), nil
	}
	return t, nil
}

// ResizeImage resizes an image to the preprocessor's size with its resampling filter (the first
// step of Pixels), for callers that cache resized images.
func ResizeImage(img *RGBImage, p Preprocessor) *RGBImage {
	if img.W == p.Width && img.H == p.Height {
		return img
	}
	pix, err := resizeRGB(img.Pix, img.W, img.H, p.Width, p.Height, p.Resample)
	if err != nil {
		return img
	}
	return &RGBImage{W: p.Width, H: p.Height, Pix: pix}
}
