package inference

import (
	"fmt"
	"math"
)

// This file resamples 8-bit images exactly as Pillow's Image.resize does (libImaging/Resample.c):
// separable convolution with a filter whose support widens with the downscale factor, coefficients
// in 22-bit fixed point, and rounding to 8 bits after each pass. transformers' BlipImageProcessor
// resizes through Pillow, so matching it bit for bit removes the preprocessing residual on lossless
// images.

const precisionBits = 32 - 8 - 2

type resampleFilter struct {
	support float64
	fn      func(x float64) float64
}

func bicubicFilter(x float64) float64 {
	const a = -0.5
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return ((a+2)*x-(a+3))*x*x + 1
	}
	if x < 2 {
		return (((x-5)*x+8)*x - 4) * a
	}
	return 0
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	x *= math.Pi
	return math.Sin(x) / x
}

// Pillow's resample codes, as stored in preprocessor_config.json "resample".
var resampleFilters = map[int]resampleFilter{
	1: {3, func(x float64) float64 { // LANCZOS
		if x > -3 && x < 3 {
			return sinc(x) * sinc(x/3)
		}
		return 0
	}},
	2: {1, func(x float64) float64 { // BILINEAR
		if x < 0 {
			x = -x
		}
		if x < 1 {
			return 1 - x
		}
		return 0
	}},
	3: {2, bicubicFilter}, // BICUBIC
	4: {0.5, func(x float64) float64 { // BOX
		if x > -0.5 && x <= 0.5 {
			return 1
		}
		return 0
	}},
	5: {1, func(x float64) float64 { // HAMMING
		if x < 0 {
			x = -x
		}
		if x == 0 {
			return 1
		}
		if x >= 1 {
			return 0
		}
		x *= math.Pi
		return math.Sin(x) / x * (0.54 + 0.46*math.Cos(x))
	}},
}

// coefficients computes, for each output position, the first input index and fixed-point weights.
func coefficients(inSize, outSize int, f resampleFilter) (bounds []int, kk []int32, ksize int) {
	scale := float64(inSize) / float64(outSize)
	filterscale := math.Max(scale, 1)
	support := f.support * filterscale
	ksize = int(math.Ceil(support))*2 + 1
	bounds = make([]int, outSize*2)
	kk = make([]int32, outSize*ksize)
	k := make([]float64, ksize)
	for xx := 0; xx < outSize; xx++ {
		center := (float64(xx) + 0.5) * scale
		ss := 1 / filterscale
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ww := 0.0
		for x := 0; x < xmax; x++ {
			w := f.fn((float64(x+xmin) - center + 0.5) * ss)
			k[x] = w
			ww += w
		}
		for x := 0; x < xmax; x++ {
			if ww != 0 {
				k[x] /= ww
			}
		}
		for x := xmax; x < ksize; x++ {
			k[x] = 0
		}
		for x := 0; x < ksize; x++ {
			v := k[x] * (1 << precisionBits)
			if k[x] < 0 {
				kk[xx*ksize+x] = int32(-0.5 + v)
			} else {
				kk[xx*ksize+x] = int32(0.5 + v)
			}
		}
		bounds[xx*2] = xmin
		bounds[xx*2+1] = xmax
	}
	return bounds, kk, ksize
}

func clip8(v int64) uint8 {
	v >>= precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// resizeRGB resizes an interleaved 8-bit RGB image (w×h×3) to ow×oh with Pillow's algorithm.
func resizeRGB(src []uint8, w, h, ow, oh, resample int) ([]uint8, error) {
	f, ok := resampleFilters[resample]
	if !ok {
		return nil, fmt.Errorf("resample %d not supported (want 1 lanczos, 2 bilinear, 3 bicubic, 4 box or 5 hamming)", resample)
	}
	cur, cw, ch := src, w, h
	if ow != w {
		bounds, kk, ks := coefficients(w, ow, f)
		out := make([]uint8, ow*ch*3)
		for y := 0; y < ch; y++ {
			row := cur[y*cw*3:]
			for xx := 0; xx < ow; xx++ {
				xmin, xmax := bounds[xx*2], bounds[xx*2+1]
				k := kk[xx*ks:]
				var s0, s1, s2 int64 = 1 << (precisionBits - 1), 1 << (precisionBits - 1), 1 << (precisionBits - 1)
				for x := 0; x < xmax; x++ {
					p := (x + xmin) * 3
					kv := int64(k[x])
					s0 += int64(row[p]) * kv
					s1 += int64(row[p+1]) * kv
					s2 += int64(row[p+2]) * kv
				}
				o := (y*ow + xx) * 3
				out[o], out[o+1], out[o+2] = clip8(s0), clip8(s1), clip8(s2)
			}
		}
		cur, cw = out, ow
	}
	if oh != h {
		bounds, kk, ks := coefficients(h, oh, f)
		out := make([]uint8, cw*oh*3)
		for yy := 0; yy < oh; yy++ {
			ymin, ymax := bounds[yy*2], bounds[yy*2+1]
			k := kk[yy*ks:]
			for x := 0; x < cw; x++ {
				var s0, s1, s2 int64 = 1 << (precisionBits - 1), 1 << (precisionBits - 1), 1 << (precisionBits - 1)
				for y := 0; y < ymax; y++ {
					p := ((y+ymin)*cw + x) * 3
					kv := int64(k[y])
					s0 += int64(cur[p]) * kv
					s1 += int64(cur[p+1]) * kv
					s2 += int64(cur[p+2]) * kv
				}
				o := (yy*cw + x) * 3
				out[o], out[o+1], out[o+2] = clip8(s0), clip8(s1), clip8(s2)
			}
		}
		cur = out
	}
	return cur, nil
}
