package inference

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"unsafe"
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

// clip8 rounds a fixed-point sum to 8 bits. Pillow sums in int: with weights normalised to one,
// 255·Σ|k|·2^22 stays far below 2^31 for every filter, so int32 gives its results exactly.
func clip8(v int32) uint8 {
	v >>= precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// resizeRGB resizes an interleaved 8-bit RGB image (w×h×3) to ow×oh with Pillow's algorithm:
// horizontal pass first, then vertical, each rounded to 8 bits. The sums are integer, so their
// order is free: the vertical pass adds whole source rows into a row of accumulators, which reads
// memory in order instead of striding down columns.
func resizeRGB(src []uint8, w, h, ow, oh, resample int) ([]uint8, error) {
	f, ok := resampleFilters[resample]
	if !ok {
		return nil, fmt.Errorf("resample %d not supported (want 1 lanczos, 2 bilinear, 3 bicubic, 4 box or 5 hamming)", resample)
	}
	cur, cw := src, w
	if ow != w {
		cur, cw = resampleRows(cur, w, h, ow, f), ow
	}
	if oh != h {
		cur = resampleColumns(cur, cw, h, oh, f)
	}
	return cur, nil
}

const half = 1 << (precisionBits - 1)

// parallelRows runs fn over [0, n) split into contiguous parts, one goroutine per CPU when the work
// (n times cost per row) is worth it. Every output row is computed by exactly one call, from the
// same inputs, so the result does not depend on the split: a large photo is resized several times
// faster on a multi-core machine and stays identical to Pillow's.
func parallelRows(n, costPerRow int, fn func(lo, hi int)) {
	parts := min(runtime.GOMAXPROCS(0), n)
	if parts <= 1 || n*costPerRow < 1<<20 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := n*p/parts, n*(p+1)/parts
		wg.Go(func() { fn(lo, hi) })
	}
	wg.Wait()
}

// resampleRows resizes each row of a w×h RGB image to ow pixels.
func resampleRows(src []uint8, w, h, ow int, f resampleFilter) []uint8 {
	bounds, kk, ks := coefficients(w, ow, f)
	out := make([]uint8, ow*h*3)
	parallelRows(h, ow*ks, func(lo, hi int) {
		for y := lo; y < hi; y++ {
			resampleRow(src[y*w*3:(y+1)*w*3], out[y*ow*3:(y+1)*ow*3], bounds, kk, ks)
		}
	})
	return out
}

func resampleRow(row, orow []uint8, bounds []int, kk []int32, ks int) {
	for xx := range len(orow) / 3 {
		xmin, n := bounds[xx*2], bounds[xx*2+1]
		k := kk[xx*ks : xx*ks+n]
		px := row[xmin*3 : (xmin+n)*3]
		var s0, s1, s2 int32 = half, half, half
		// px holds exactly len(k) pixels (checked by the slice expression above): stepping a
		// pointer through them saves the bounds checks of the innermost loop, most of its time.
		base := unsafe.Pointer(unsafe.SliceData(px))
		for i, kv := range k {
			q := (*[3]uint8)(unsafe.Add(base, 3*i))
			s0 += int32(q[0]) * kv
			s1 += int32(q[1]) * kv
			s2 += int32(q[2]) * kv
		}
		o := orow[xx*3 : xx*3+3 : xx*3+3]
		o[0], o[1], o[2] = clip8(s0), clip8(s1), clip8(s2)
	}
}

// resampleColumns resizes each column of a w×h RGB image to oh pixels.
func resampleColumns(src []uint8, w, h, oh int, f resampleFilter) []uint8 {
	bounds, kk, ks := coefficients(h, oh, f)
	stride := w * 3
	out := make([]uint8, stride*oh)
	parallelRows(oh, stride*ks, func(lo, hi int) {
		acc := make([]int32, stride)
		for yy := lo; yy < hi; yy++ {
			ymin, n := bounds[yy*2], bounds[yy*2+1]
			for i := range acc {
				acc[i] = half
			}
			for j, kv := range kk[yy*ks : yy*ks+n] {
				row := src[(ymin+j)*stride : (ymin+j+1)*stride]
				row = row[:len(acc)]
				for i, v := range row {
					acc[i] += int32(v) * kv
				}
			}
			orow := out[yy*stride : (yy+1)*stride]
			orow = orow[:len(acc)]
			for i, a := range acc {
				orow[i] = clip8(a)
			}
		}
	})
	return out
}
