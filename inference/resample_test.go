package inference

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// referenceResize is Pillow's ImagingResample for 8-bit RGB written the plain way: each output
// sample is its own sum, in int64, in source order, the horizontal pass first.
func referenceResize(src []uint8, w, h, ow, oh int, f resampleFilter) []uint8 {
	round := func(v int64) uint8 { return uint8(min(max(v>>precisionBits, 0), 255)) }
	cur, cw := src, w
	if ow != w {
		bounds, kk, ks := coefficients(w, ow, f)
		out := make([]uint8, ow*h*3)
		for y := range h {
			for xx := range ow {
				for c := range 3 {
					s := int64(1) << (precisionBits - 1)
					for x := range bounds[xx*2+1] {
						s += int64(cur[(y*cw+bounds[xx*2]+x)*3+c]) * int64(kk[xx*ks+x])
					}
					out[(y*ow+xx)*3+c] = round(s)
				}
			}
		}
		cur, cw = out, ow
	}
	if oh != h {
		bounds, kk, ks := coefficients(h, oh, f)
		out := make([]uint8, cw*oh*3)
		for yy := range oh {
			for x := range cw {
				for c := range 3 {
					s := int64(1) << (precisionBits - 1)
					for y := range bounds[yy*2+1] {
						s += int64(cur[((bounds[yy*2]+y)*cw+x)*3+c]) * int64(kk[yy*ks+y])
					}
					out[(yy*cw+x)*3+c] = round(s)
				}
			}
		}
		cur = out
	}
	return cur
}

// TestResizeRGBMatchesReference checks the fast passes (int32 sums, rows accumulated in place of
// columns) against the plain ones for every filter, down and up, with extreme pixel values where
// the negative lobes clip.
func TestResizeRGBMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	sizes := []struct{ w, h, ow, oh int }{
		{4032 / 8, 3024 / 8, 384, 384}, {640, 480, 384, 384}, {1, 1, 384, 384}, {17, 9, 24, 24},
		{4001, 3, 24, 24}, {384, 384, 384, 384}, {300, 7, 300, 20}, {7, 300, 20, 300},
	}
	for code, f := range resampleFilters {
		for _, sz := range sizes {
			t.Run(fmt.Sprintf("filter%d/%dx%d-%dx%d", code, sz.w, sz.h, sz.ow, sz.oh), func(t *testing.T) {
				src := make([]uint8, sz.w*sz.h*3)
				for i := range src {
					src[i] = uint8(rng.IntN(2) * 255) // black and white: the largest overshoots
					if rng.IntN(3) == 0 {
						src[i] = uint8(rng.IntN(256))
					}
				}
				got, err := resizeRGB(src, sz.w, sz.h, sz.ow, sz.oh, code)
				if err != nil {
					t.Fatal(err)
				}
				if want := referenceResize(src, sz.w, sz.h, sz.ow, sz.oh, f); !bytes.Equal(got, want) {
					t.Errorf("fast resize differs from the reference")
				}
			})
		}
	}
}

func BenchmarkResizeRGB(b *testing.B) {
	const w, h = 4032, 3024
	src := make([]uint8, w*h*3)
	for i := range src {
		src[i] = uint8(i * 7)
	}
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := resizeRGB(src, w, h, 384, 384, 3); err != nil {
			b.Fatal(err)
		}
	}
}
