// Package libjpeg decodes JPEG files with libjpeg-turbo, set up the way Pillow sets it up, so that
// Captune reads a photo into the very pixels transformers' BlipImageProcessor sees.
//
// Pillow decodes JPEG through the libjpeg API with the library's defaults: the accurate integer
// IDCT (JDCT_ISLOW), fancy (triangle-filter) chroma upsampling, block smoothing for progressive
// files, and libjpeg's own YCbCr→RGB conversion; four-component files come out as CMYK, which
// Pillow treats as Adobe-inverted and converts with its cmyk2rgb. Decode does the same, and
// converts CMYK and YCCK files to RGB with that formula, so every JPEG comes back as 8-bit RGB.
//
//	img, hdr, err := libjpeg.Decode(data, libjpeg.Options{Check: func(h libjpeg.Header) error {
//		if int64(h.Width)*int64(h.Height) > limit {
//			return errTooLarge
//		}
//		return nil
//	}})
//
// Check sees the header before any scan data is decoded, so a decompression bomb is refused
// before its pixels are allocated. Options.FitSide asks libjpeg-turbo to decode at 1/2, 1/4 or
// 1/8 scale in the DCT domain, which makes thumbnails of large photos several times cheaper.
//
// A truncated file is an error wrapping ErrTruncated (libjpeg would pad it with grey; Pillow
// refuses it). Files with 12-bit samples, lossless JPEG and other layouts the 8-bit library does
// not decode are refused with libjpeg's message. Other warnings (extraneous bytes, a misplaced
// restart marker) are ignored, as Pillow ignores them.
//
// The package needs libjpeg-turbo's development files (Debian: libjpeg62-turbo-dev) and cgo.
// Built with the tag noturbojpeg, or without cgo, Available is false and Decode returns
// ErrUnavailable; callers then fall back to Go's image/jpeg. Decode is safe for concurrent use.
package libjpeg

import "errors"

// ErrTruncated is wrapped by the error for a file that ends before its last scan does.
var ErrTruncated = errors.New("truncated JPEG")

// ErrUnavailable is returned by Decode in a build without libjpeg-turbo.
var ErrUnavailable = errors.New("built without libjpeg-turbo")

// MaxScans bounds the scans of a progressive file; libjpeg-turbo's fuzzers use the same limit.
// Real encoders write about ten.
const MaxScans = 500

// Header is what a JPEG's markers say about the image, read before decoding.
type Header struct {
	Width, Height int
	Components    int    // 1 grey, 3 colour, 4 CMYK or YCCK
	ColorSpace    string // as libjpeg guessed it: "gray", "rgb", "ycbcr", "cmyk", "ycck", "unknown"
	Progressive   bool
	Precision     int  // bits per sample; only 8 decodes
	Adobe         bool // an Adobe APP14 marker is present
}

// Options tune Decode.
type Options struct {
	// Check, when set, is called with the header before any scan data is decoded; an error it
	// returns is Decode's error.
	Check func(Header) error
	// FitSide, when positive, lets libjpeg-turbo scale the image by 1/2, 1/4 or 1/8 while
	// decoding: the smallest scale whose longer side is still at least FitSide pixels.
	FitSide int
}

// Image is an 8-bit interleaved RGB image.
type Image struct {
	Width, Height int
	Pix           []uint8 // len Width*Height*3, row-major
}

// scaleFor returns the DCT scale denominator (1, 2, 4 or 8) for Options.FitSide.
func scaleFor(w, h, fitSide int) int {
	if fitSide <= 0 {
		return 1
	}
	long := max(w, h)
	for _, d := range []int{8, 4, 2} {
		if (long+d-1)/d >= fitSide {
			return d
		}
	}
	return 1
}

var colorSpaces = map[int]string{0: "unknown", 1: "gray", 2: "rgb", 3: "ycbcr", 4: "cmyk", 5: "ycck"}
