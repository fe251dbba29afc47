package inference

import (
	"bytes"
	"encoding/binary"
	"image"
)

// This file turns the planes that Go's image/jpeg decodes into RGB the way libjpeg-turbo does with
// its default settings, which is how Pillow (and so transformers' BlipImageProcessor) reads JPEGs.
// Go's decoder hands back the chroma planes at their stored resolution; image/color's
// YCbCrToRGB on the nearest chroma sample differs from libjpeg-turbo by several levels at colour
// edges. libjpeg-turbo instead interpolates 2:1 chroma with a triangle filter ("fancy upsampling",
// jdsample.c) and converts with fixed-point tables (jdcolor.c). Both are integer arithmetic and are
// reproduced here bit for bit; what remains is the difference between Go's IDCT and libjpeg-turbo's
// JDCT_ISLOW: ±1 in about 1.4% of samples. Matching that too would need the DCT coefficients, which
// image/jpeg does not expose.

// yccScaleBits is jdcolor.c's SCALEBITS: the tables hold constants scaled by 2^16.
const yccScaleBits = 16

// yccTables are jdcolor.c's build_ycc_rgb_table: per Cb or Cr sample value, the offset it adds
// to R or B (already rounded) and its contribution to G (scaled, rounding term folded into cbG).
var yccTables = func() (t struct{ crR, cbB, crG, cbG [256]int32 }) {
	fix := func(x float64) int32 { return int32(x*(1<<yccScaleBits) + 0.5) }
	const half = 1 << (yccScaleBits - 1)
	for i := range 256 {
		x := int32(i - 128)
		t.crR[i] = (fix(1.40200)*x + half) >> yccScaleBits
		t.cbB[i] = (fix(1.77200)*x + half) >> yccScaleBits
		t.crG[i] = -fix(0.71414) * x
		t.cbG[i] = -fix(0.34414)*x + half
	}
	return t
}()

func clampByte(v int32) uint8 {
	switch {
	case v < 0:
		return 0
	case v > 255:
		return 255
	}
	return uint8(v)
}

// chromaFactors returns how many luma samples share one chroma sample across and down.
func chromaFactors(r image.YCbCrSubsampleRatio) (h, v int, ok bool) {
	switch r {
	case image.YCbCrSubsampleRatio444:
		return 1, 1, true
	case image.YCbCrSubsampleRatio422:
		return 2, 1, true
	case image.YCbCrSubsampleRatio420:
		return 2, 2, true
	case image.YCbCrSubsampleRatio440:
		return 1, 2, true
	case image.YCbCrSubsampleRatio411:
		return 4, 1, true
	case image.YCbCrSubsampleRatio410:
		return 4, 2, true
	}
	return 0, 0, false
}

// chromaUpsampler fills one output row of full-resolution chroma from a downsampled plane, choosing
// the method jdsample.c's jinit_upsampler picks for the component's sampling factors.
type chromaUpsampler struct {
	hf, vf int  // luma samples per chroma sample, across and down
	cw, ch int  // the plane's real size: jdiv_round_up(image size, factor), as libjpeg counts it
	fancy  bool // triangle filter (h2v1, h2v2, h1v2) rather than replication
	colsum []int32
}

func newChromaUpsampler(hf, vf, w, h int) *chromaUpsampler {
	u := &chromaUpsampler{hf: hf, vf: vf, cw: (w + hf - 1) / hf, ch: (h + vf - 1) / vf}
	switch {
	case hf == 2 && vf <= 2:
		// libjpeg-turbo replicates instead when a row has two samples or fewer.
		u.fancy = u.cw > 2
	case hf == 1 && vf == 2:
		u.fancy = true
	}
	u.colsum = make([]int32, u.cw)
	return u
}

// row writes the upsampled chroma of output row y into out (len ≥ image width). plane and stride
// address the downsampled samples, row-major from the image's top-left corner.
func (u *chromaUpsampler) row(out []uint8, plane []uint8, stride, y int) {
	w := len(out)
	cy := y / u.vf
	near := plane[cy*stride : cy*stride+u.cw]
	if !u.fancy {
		// Replication (jdsample.c int_upsample, h2v1_upsample, h2v2_upsample), or a copy for 1:1.
		for x := range w {
			out[x] = near[x/u.hf]
		}
		return
	}
	if u.vf == 1 { // h2v1_fancy_upsample: 3/4 nearer + 1/4 further sample, biases 1 and 2.
		last := u.cw - 1
		for x := range w {
			c := x >> 1
			if x&1 == 0 {
				out[x] = uint8((3*int32(near[c]) + int32(near[max(c-1, 0)]) + 1) >> 2)
			} else {
				out[x] = uint8((3*int32(near[c]) + int32(near[min(c+1, last)]) + 2) >> 2)
			}
		}
		return
	}
	// Vertical 2:1: the output row lies a quarter of a chroma row from the nearer input row towards
	// the row above (even y) or below (odd y). libjpeg's main controller repeats the first and last
	// real rows as context beyond the image's top and bottom (jdmainct.c).
	fy := cy + 1
	if y&1 == 0 {
		fy = cy - 1
	}
	fy = min(max(fy, 0), u.ch-1)
	far := plane[fy*stride : fy*stride+u.cw]
	if u.hf == 1 { // h1v2_fancy_upsample: biases 1 (row above) and 2 (row below).
		bias := int32(1 + y&1)
		for x := range w {
			out[x] = uint8((3*int32(near[x]) + int32(far[x]) + bias) >> 2)
		}
		return
	}
	// h2v2_fancy_upsample: 9/16, 3/16, 3/16, 1/16 of the four nearest samples, in two steps of
	// column sums; the biases 8 and 7 alternate so that halves do not always round up.
	cs := u.colsum
	for c := range cs {
		cs[c] = 3*int32(near[c]) + int32(far[c])
	}
	last := u.cw - 1
	for x := range w {
		c := x >> 1
		if x&1 == 0 {
			out[x] = uint8((3*cs[c] + cs[max(c-1, 0)] + 8) >> 4)
		} else {
			out[x] = uint8((3*cs[c] + cs[min(c+1, last)] + 7) >> 4)
		}
	}
}

// libjpegRGB converts a YCbCr image as decoded by image/jpeg (origin at 0,0) to RGB with
// libjpeg-turbo's upsampling and colour conversion. It reports false for layouts it does not
// know, which the caller converts another way.
func libjpegRGB(m *image.YCbCr) (*RGBImage, bool) {
	hf, vf, ok := chromaFactors(m.SubsampleRatio)
	if !ok || m.Rect.Min != (image.Point{}) {
		return nil, false
	}
	w, h := m.Rect.Dx(), m.Rect.Dy()
	out := &RGBImage{W: w, H: h, Pix: make([]uint8, w*h*3)}
	if w == 0 || h == 0 {
		return out, true
	}
	u := newChromaUpsampler(hf, vf, w, h)
	cb, cr := make([]uint8, w), make([]uint8, w)
	t := &yccTables
	for y := range h {
		u.row(cb, m.Cb, m.CStride, y)
		u.row(cr, m.Cr, m.CStride, y)
		lum := m.Y[y*m.YStride : y*m.YStride+w]
		px := out.Pix[y*w*3 : (y+1)*w*3]
		for x, yv := range lum {
			l, b, r := int32(yv), cb[x], cr[x]
			px[3*x] = clampByte(l + t.crR[r])
			px[3*x+1] = clampByte(l + (t.cbG[b]+t.crG[r])>>yccScaleBits)
			px[3*x+2] = clampByte(l + t.cbB[b])
		}
	}
	return out, true
}

// jpegToRGB converts what image/jpeg decoded to RGB, through libjpegRGB when it can.
// Grayscale, Adobe RGB and CMYK JPEGs have no chroma planes to upsample and go through toRGB.
func jpegToRGB(img image.Image) *RGBImage {
	if m, ok := img.(*image.YCbCr); ok {
		if rgb, ok := libjpegRGB(m); ok {
			return rgb
		}
	}
	return toRGB(img)
}

// jpegOrientation returns the EXIF orientation (1–8) of JPEG data, or 0 when it has none. It
// reads the first APP1 segment only, as imaging.AutoOrientation (used before for JPEGs) does.
func jpegOrientation(data []byte) int {
	if len(data) < 4 || data[0] != 0xff || data[1] != 0xd8 {
		return 0
	}
	p := 2
	var seg []byte
	for {
		if p+4 > len(data) || data[p] != 0xff {
			return 0
		}
		marker, size := data[p+1], int(binary.BigEndian.Uint16(data[p+2:]))
		if size < 2 || p+2+size > len(data) {
			return 0
		}
		if marker == 0xe1 {
			seg = data[p+4 : p+2+size]
			break
		}
		p += 2 + size
	}
	if !bytes.HasPrefix(seg, []byte("Exif\x00\x00")) || len(seg) < 14 {
		return 0
	}
	tiff := seg[6:]
	var order binary.ByteOrder
	switch string(tiff[:2]) {
	case "II":
		order = binary.LittleEndian
	case "MM":
		order = binary.BigEndian
	default:
		return 0
	}
	ifd := int(order.Uint32(tiff[4:]))
	if ifd < 8 || ifd+2 > len(tiff) {
		return 0
	}
	n := int(order.Uint16(tiff[ifd:]))
	for i := range n {
		e := ifd + 2 + 12*i
		if e+12 > len(tiff) {
			return 0
		}
		if order.Uint16(tiff[e:]) != 0x0112 {
			continue
		}
		if v := int(order.Uint16(tiff[e+8:])); v >= 1 && v <= 8 {
			return v
		}
		return 0
	}
	return 0
}

// orientRGB applies an EXIF orientation to an image, returning img itself for 0 and 1.
func orientRGB(img *RGBImage, orientation int) *RGBImage {
	w, h := img.W, img.H
	// src maps an output pixel to the source pixel it shows.
	var src func(x, y int) (int, int)
	ow, oh := w, h
	switch orientation {
	case 2: // mirrored horizontally
		src = func(x, y int) (int, int) { return w - 1 - x, y }
	case 3: // rotated 180°
		src = func(x, y int) (int, int) { return w - 1 - x, h - 1 - y }
	case 4: // mirrored vertically
		src = func(x, y int) (int, int) { return x, h - 1 - y }
	case 5: // transposed
		ow, oh = h, w
		src = func(x, y int) (int, int) { return y, x }
	case 6: // stored rotated 90° anticlockwise: turn it clockwise
		ow, oh = h, w
		src = func(x, y int) (int, int) { return y, h - 1 - x }
	case 7: // transversed
		ow, oh = h, w
		src = func(x, y int) (int, int) { return w - 1 - y, h - 1 - x }
	case 8: // stored rotated 90° clockwise: turn it anticlockwise
		ow, oh = h, w
		src = func(x, y int) (int, int) { return w - 1 - y, x }
	default:
		return img
	}
	out := &RGBImage{W: ow, H: oh, Pix: make([]uint8, len(img.Pix))}
	for y := range oh {
		for x := range ow {
			sx, sy := src(x, y)
			copy(out.Pix[(y*ow+x)*3:(y*ow+x)*3+3], img.Pix[(sy*w+sx)*3:])
		}
	}
	return out
}
