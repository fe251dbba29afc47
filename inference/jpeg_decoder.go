package inference

import (
	"bytes"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"os"

	"github.com/captune/captune/internal/libjpeg"
)

// JPEGDecoder names the decoder DecodeImage uses for JPEG files, for captune doctor:
// libjpeg-turbo (set up as Pillow sets it up, so JPEG pixels match transformers' exactly) or, in a
// build without it, Go's image/jpeg with libjpeg-turbo's chroma upsampling and colour conversion.
func JPEGDecoder() string {
	if libjpeg.Available {
		return libjpeg.Version() + " (as Pillow: exact)"
	}
	return "Go image/jpeg (fallback: built without libjpeg-turbo; pixels may differ from Pillow by a few levels)"
}

func isJPEG(data []byte) bool { return len(data) >= 2 && data[0] == 0xff && data[1] == 0xd8 }

// checkSize refuses an image whose header declares no pixels or more than MaxImagePixels, before
// any of its pixels are decoded.
func checkSize(format string, w, h int) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%w: %s declares %d×%d pixels", ErrImage, format, w, h)
	}
	if int64(w)*int64(h) > MaxImagePixels {
		return fmt.Errorf("%w: %s declares %d×%d pixels, more than the %d million allowed", ErrImage, format, w, h, MaxImagePixels/1000000)
	}
	return nil
}

// decodeJPEG decodes a JPEG to RGB and applies its EXIF orientation after the colour conversion,
// as Pillow's exif_transpose does. fitSide > 0 lets libjpeg-turbo decode at a reduced DCT scale
// whose longer side is still at least fitSide (for thumbnails and previews); w and h are the whole
// image's size, oriented.
func decodeJPEG(data []byte, fitSide int) (img *RGBImage, w, h int, err error) {
	orientation := jpegOrientation(data)
	if !libjpeg.Available {
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return nil, 0, 0, fmt.Errorf("%w: jpeg: %v", ErrImage, err)
		}
		if err := checkSize("jpeg", cfg.Width, cfg.Height); err != nil {
			return nil, 0, 0, err
		}
		m, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, 0, 0, fmt.Errorf("%w: jpeg: %v", ErrImage, err)
		}
		img = orientRGB(jpegToRGB(m), orientation)
		return img, img.W, img.H, nil
	}
	check := func(h libjpeg.Header) error { return checkSize("jpeg", h.Width, h.Height) }
	m, hdr, err := libjpeg.Decode(data, libjpeg.Options{Check: check, FitSide: fitSide})
	if err != nil {
		if errors.Is(err, ErrImage) {
			return nil, 0, 0, err
		}
		return nil, 0, 0, fmt.Errorf("%w: %v", ErrImage, err)
	}
	w, h = hdr.Width, hdr.Height
	if orientation >= 5 { // turned a quarter: width and height swap
		w, h = h, w
	}
	return orientRGB(&RGBImage{W: m.Width, H: m.Height, Pix: m.Pix}, orientation), w, h, nil
}

// LoadImageFit reads an image as LoadImage does, for display: a JPEG much larger than fitSide
// pixels on its longer side is decoded at 1/2, 1/4 or 1/8 scale by libjpeg-turbo (several times
// faster), keeping at least fitSide pixels. Other formats, and JPEG in a build without
// libjpeg-turbo, are decoded at full size. w and h are the whole image's size, oriented.
func LoadImageFit(path string, fitSide int) (img *RGBImage, w, h int, err error) {
	data, err := readImageFile(path)
	if err != nil {
		return nil, 0, 0, err
	}
	img, w, h, err = decodeImage(data, fitSide)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("read image %s: %w", path, err)
	}
	return img, w, h, nil
}

func readImageFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read image %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxImageBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read image %s: %w", path, err)
	}
	return data, nil
}
