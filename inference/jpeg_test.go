package inference

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/disintegration/imaging"
)

// These tests pin the arithmetic of jpeg.go to the definitions in libjpeg-turbo's jdcolor.c and
// jdsample.c. Agreement with Pillow itself on real files is checked by TestPreprocessParity; on
// files whose blocks hold only a DC term (so that the IDCTs cannot differ) the conversion was
// found identical to Pillow 10.4's libjpeg-turbo 3.0.3 for every subsampling Go decodes.

// TestYCCTables checks jdcolor.c's tables against the equations they approximate:
// R = Y + 1.402·Cr, G = Y − 0.34414·Cb − 0.71414·Cr, B = Y + 1.772·Cb, with Cb, Cr centred on 128.
func TestYCCTables(t *testing.T) {
	tab := &yccTables
	for i := range 256 {
		x := float64(i - 128)
		// Nearest integers; a tie (1.772·−125 = −221.5) may go either way.
		if d := math.Abs(float64(tab.crR[i]) - 1.402*x); d > 0.5 {
			t.Errorf("Cr %d: R offset %d, want within 0.5 of %.4f", i, tab.crR[i], 1.402*x)
		}
		if d := math.Abs(float64(tab.cbB[i]) - 1.772*x); d > 0.5 {
			t.Errorf("Cb %d: B offset %d, want within 0.5 of %.4f", i, tab.cbB[i], 1.772*x)
		}
	}
	// G is rounded once from the sum of two 16-bit fixed-point products, so it can miss the nearest
	// integer by the constants' quantisation (under 2^-16 · 128 per term).
	for cb := range 256 {
		for cr := range 256 {
			g := (tab.cbG[cb] + tab.crG[cr]) >> yccScaleBits
			exact := -0.34414*float64(cb-128) - 0.71414*float64(cr-128)
			if d := math.Abs(float64(g) - exact); d > 0.5+2*128.0/(1<<yccScaleBits) {
				t.Fatalf("Cb %d Cr %d: G offset %d, exact %.4f", cb, cr, g, exact)
			}
		}
	}
	if tab.crR[128] != 0 || tab.cbB[128] != 0 || (tab.cbG[128]+tab.crG[128])>>yccScaleBits != 0 {
		t.Errorf("neutral chroma must add nothing: %d %d %d", tab.crR[128], tab.cbB[128], (tab.cbG[128]+tab.crG[128])>>yccScaleBits)
	}
}

// planeImage builds a YCbCr image laid out as image/jpeg lays it out: planes padded to whole
// MCUs (the padding filled with values libjpeg never reads), then cut to w×h at the origin.
func planeImage(ratio image.YCbCrSubsampleRatio, w, h int, y, cb, cr [][]uint8) *image.YCbCr {
	hf, vf, _ := chromaFactors(ratio)
	mw, mh := 8*hf*((w+8*hf-1)/(8*hf)), 8*vf*((h+8*vf-1)/(8*vf))
	m := image.NewYCbCr(image.Rect(0, 0, mw, mh), ratio)
	for i := range m.Y {
		m.Y[i] = 251
	}
	for i := range m.Cb {
		m.Cb[i], m.Cr[i] = 3, 252
	}
	for r := range y {
		copy(m.Y[r*m.YStride:], y[r])
	}
	for r := range cb {
		copy(m.Cb[r*m.CStride:], cb[r])
		copy(m.Cr[r*m.CStride:], cr[r])
	}
	return m.SubImage(image.Rect(0, 0, w, h)).(*image.YCbCr)
}

func upsampledRows(u *chromaUpsampler, m *image.YCbCr, w, h int) [][]uint8 {
	out := make([][]uint8, h)
	for y := range h {
		out[y] = make([]uint8, w)
		u.row(out[y], m.Cb, m.CStride, y)
	}
	return out
}

// TestChromaUpsamplerCases works small planes through by hand from jdsample.c's filters:
// 2:1 fancy takes 3/4 of the nearer and 1/4 of the further sample, with rounding biases that
// alternate between output samples (1, 2 across; 1 above, 2 below; 8, 7 for the 2-D 9/16 filter),
// repeats edge samples beyond the image, and is replaced by replication for rows of ≤ 2 samples.
func TestChromaUpsamplerCases(t *testing.T) {
	tests := []struct {
		name  string
		ratio image.YCbCrSubsampleRatio
		w, h  int
		plane [][]uint8
		want  [][]uint8
	}{
		{
			// Columns: 0 | (0·3+40+2)/4=10 | (40·3+0+1)/4=30 | (120+80+2)/4=50 | (240+40+1)/4=70 |
			// (240+200+2)/4=110 | (600+80+1)/4=170 | 200.
			name: "h2v1 fancy", ratio: image.YCbCrSubsampleRatio422, w: 8, h: 1,
			plane: [][]uint8{{0, 40, 80, 200}},
			want:  [][]uint8{{0, 10, 30, 50, 70, 110, 170, 200}},
		},
		{
			// An odd width drops the last computed column.
			name: "h2v1 fancy odd width", ratio: image.YCbCrSubsampleRatio422, w: 5, h: 1,
			plane: [][]uint8{{100, 0, 100}},
			want:  [][]uint8{{100, 75, 25, 25, 75}},
		},
		{
			name: "h2v1 two samples replicate", ratio: image.YCbCrSubsampleRatio422, w: 4, h: 1,
			plane: [][]uint8{{0, 100}},
			want:  [][]uint8{{0, 0, 100, 100}},
		},
		{
			// Rows: 0 (row above repeats row 0) | (0·3+100+2)/4=25 | (300+0+1)/4=75 | 100.
			name: "h1v2 fancy", ratio: image.YCbCrSubsampleRatio440, w: 1, h: 4,
			plane: [][]uint8{{0}, {100}},
			want:  [][]uint8{{0}, {25}, {75}, {100}},
		},
		{
			// Column sums 3·near + far for each output row (rows above the first and below the last
			// repeat them): {0, 0, 640}, {16, 16, 496}, {48, 48, 208}, {64, 64, 64}; then
			// (3·this + neighbour + 8 or 7) / 16, e.g. row 1: (48+16+8)/16=4, (48+16+7)/16=4, 4,
			// (48+496+7)/16=34, (1488+16+8)/16=94, (1488+496+7)/16=124.
			name: "h2v2 fancy", ratio: image.YCbCrSubsampleRatio420, w: 6, h: 4,
			plane: [][]uint8{{0, 0, 160}, {16, 16, 16}},
			want: [][]uint8{
				{0, 0, 0, 40, 120, 160}, {4, 4, 4, 34, 94, 124},
				{12, 12, 12, 22, 42, 52}, {16, 16, 16, 16, 16, 16},
			},
		},
		{
			name: "h2v2 two samples replicate", ratio: image.YCbCrSubsampleRatio420, w: 3, h: 3,
			plane: [][]uint8{{10, 20}, {30, 40}},
			want:  [][]uint8{{10, 10, 20}, {10, 10, 20}, {30, 30, 40}},
		},
		{
			name: "h4v1 replicates", ratio: image.YCbCrSubsampleRatio411, w: 6, h: 1,
			plane: [][]uint8{{7, 9}},
			want:  [][]uint8{{7, 7, 7, 7, 9, 9}},
		},
		{
			name: "h1v1 copies", ratio: image.YCbCrSubsampleRatio444, w: 3, h: 1,
			plane: [][]uint8{{1, 2, 3}},
			want:  [][]uint8{{1, 2, 3}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := planeImage(tc.ratio, tc.w, tc.h, nil, tc.plane, tc.plane)
			hf, vf, _ := chromaFactors(tc.ratio)
			got := upsampledRows(newChromaUpsampler(hf, vf, tc.w, tc.h), m, tc.w, tc.h)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}

// referenceUpsample computes each output sample directly from the 2-D filter weights of
// jdsample.c's comments, with edge samples repeated, rather than by its running column sums.
func referenceUpsample(plane [][]uint8, hf, vf, w, h int) [][]uint8 {
	cw, ch := (w+hf-1)/hf, (h+vf-1)/vf
	at := func(r, c int) int32 { return int32(plane[min(max(r, 0), ch-1)][min(max(c, 0), cw-1)]) }
	side := func(i int) int { return 2*(i&1) - 1 } // −1 towards the previous sample, +1 the next
	out := make([][]uint8, h)
	for y := range h {
		out[y] = make([]uint8, w)
		for x := range w {
			cy, cx := y/vf, x/hf
			var v int32
			switch {
			case hf == 2 && vf == 1 && cw > 2:
				v = (3*at(cy, cx) + at(cy, cx+side(x)) + 1 + int32(x&1)) >> 2
			case hf == 1 && vf == 2:
				v = (3*at(cy, cx) + at(cy+side(y), cx) + 1 + int32(y&1)) >> 2
			case hf == 2 && vf == 2 && cw > 2:
				dy, dx := side(y), side(x)
				v = (9*at(cy, cx) + 3*at(cy+dy, cx) + 3*at(cy, cx+dx) + at(cy+dy, cx+dx) + 8 - int32(x&1)) >> 4
			default:
				v = at(cy, cx)
			}
			out[y][x] = uint8(v)
		}
	}
	return out
}

func randomPlane(rng *rand.Rand, w, h int) [][]uint8 {
	p := make([][]uint8, h)
	for r := range p {
		p[r] = make([]uint8, w)
		for c := range p[r] {
			p[r][c] = uint8(rng.IntN(256))
		}
	}
	return p
}

// TestLibjpegRGBMatchesReference runs every subsampling over all small sizes, where the edge
// cases live, against referenceUpsample and the colour tables.
func TestLibjpegRGBMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ratios := []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	}
	for _, ratio := range ratios {
		hf, vf, _ := chromaFactors(ratio)
		for w := 1; w <= 19; w++ {
			for h := 1; h <= 19; h++ {
				cw, ch := (w+hf-1)/hf, (h+vf-1)/vf
				yp, cb, cr := randomPlane(rng, w, h), randomPlane(rng, cw, ch), randomPlane(rng, cw, ch)
				got, ok := libjpegRGB(planeImage(ratio, w, h, yp, cb, cr))
				if !ok {
					t.Fatalf("%v: not converted", ratio)
				}
				ucb, ucr := referenceUpsample(cb, hf, vf, w, h), referenceUpsample(cr, hf, vf, w, h)
				for y := range h {
					for x := range w {
						l, b, r := int32(yp[y][x]), ucb[y][x], ucr[y][x]
						want := [3]uint8{
							clampByte(l + yccTables.crR[r]),
							clampByte(l + (yccTables.cbG[b]+yccTables.crG[r])>>yccScaleBits),
							clampByte(l + yccTables.cbB[b]),
						}
						o := (y*w + x) * 3
						if g := [3]uint8(got.Pix[o : o+3]); g != want {
							t.Fatalf("%v %d×%d pixel (%d,%d): got %v, want %v", ratio, w, h, x, y, g, want)
						}
					}
				}
			}
		}
	}
}

// TestLibjpegRGBGray checks that neutral chroma leaves luma unchanged in every channel.
func TestLibjpegRGBGray(t *testing.T) {
	row := make([]uint8, 256)
	mid := make([]uint8, 128)
	for i := range row {
		row[i] = uint8(i)
	}
	for i := range mid {
		mid[i] = 128
	}
	got, ok := libjpegRGB(planeImage(image.YCbCrSubsampleRatio420, 256, 1, [][]uint8{row}, [][]uint8{mid}, [][]uint8{mid}))
	if !ok {
		t.Fatal("not converted")
	}
	for x := range 256 {
		if p := got.Pix[3*x : 3*x+3]; p[0] != uint8(x) || p[1] != uint8(x) || p[2] != uint8(x) {
			t.Errorf("Y %d: got %v", x, p)
		}
	}
}

// exifSegment is an APP1 segment holding one IFD entry: Orientation (SHORT) = o.
func exifSegment(order binary.ByteOrder, o uint16) []byte {
	tiff := make([]byte, 8+2+12+4)
	if order == binary.LittleEndian {
		copy(tiff, "II")
	} else {
		copy(tiff, "MM")
	}
	order.PutUint16(tiff[2:], 42)
	order.PutUint32(tiff[4:], 8)
	order.PutUint16(tiff[8:], 1)
	order.PutUint16(tiff[10:], 0x0112)
	order.PutUint16(tiff[12:], 3)
	order.PutUint32(tiff[14:], 1)
	order.PutUint16(tiff[18:], o)
	body := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xff, 0xe1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(body)+2))
	return append(seg, body...)
}

// withSegments inserts segments right after a JPEG's SOI marker.
func withSegments(jpg []byte, segs ...[]byte) []byte {
	out := append([]byte{}, jpg[:2]...)
	for _, s := range segs {
		out = append(out, s...)
	}
	return append(out, jpg[2:]...)
}

func testJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(40 * x), uint8(60 * y), uint8(200 - 30*x), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestJPEGOrientation(t *testing.T) {
	plain := testJPEG(t, 5, 3)
	xmp := append([]byte{0xff, 0xe1, 0, 31}, []byte("http://ns.adobe.com/xap/1.0/\x00")...)
	tests := []struct {
		name string
		data []byte
		want int
	}{
		{"none", plain, 0},
		{"big-endian 6", withSegments(plain, exifSegment(binary.BigEndian, 6)), 6},
		{"little-endian 8", withSegments(plain, exifSegment(binary.LittleEndian, 8)), 8},
		{"out of range", withSegments(plain, exifSegment(binary.BigEndian, 9)), 0},
		// Only the first APP1 is read, as by the imaging library that applied orientation before.
		{"after XMP", withSegments(plain, xmp, exifSegment(binary.BigEndian, 3)), 0},
		{"truncated", withSegments(plain, exifSegment(binary.BigEndian, 6))[:20], 0},
		{"not JPEG", []byte("\x89PNG\r\n"), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := jpegOrientation(tc.data); got != tc.want {
				t.Errorf("orientation %d, want %d", got, tc.want)
			}
		})
	}
	data, err := os.ReadFile(filepath.Join("testdata", "images", "exif6.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if got := jpegOrientation(data); got != 6 {
		t.Errorf("exif6.jpg: orientation %d, want 6", got)
	}
}

// TestOrientRGB compares each EXIF orientation with the imaging library's transform for it.
func TestOrientRGB(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	src := &RGBImage{W: 5, H: 3, Pix: make([]uint8, 5*3*3)}
	for i := range src.Pix {
		src.Pix[i] = uint8(rng.IntN(256))
	}
	nrgba := image.NewNRGBA(image.Rect(0, 0, src.W, src.H))
	for i := range src.W * src.H {
		copy(nrgba.Pix[4*i:], src.Pix[3*i:3*i+3])
		nrgba.Pix[4*i+3] = 255
	}
	transforms := map[int]func(image.Image) *image.NRGBA{
		1: imaging.Clone, 2: imaging.FlipH, 3: imaging.Rotate180, 4: imaging.FlipV,
		5: imaging.Transpose, 6: imaging.Rotate270, 7: imaging.Transverse, 8: imaging.Rotate90,
	}
	for o := 1; o <= 8; o++ {
		want := toRGB(transforms[o](nrgba))
		got := orientRGB(src, o)
		if got.W != want.W || got.H != want.H || !bytes.Equal(got.Pix, want.Pix) {
			t.Errorf("orientation %d: got %d×%d %v\nwant %d×%d %v", o, got.W, got.H, got.Pix, want.W, want.H, want.Pix)
		}
	}
}

// TestDecodeImageOrientsAfterConversion checks that a tagged JPEG decodes to the untagged one's
// pixels, turned.
func TestDecodeImageOrientsAfterConversion(t *testing.T) {
	plain := testJPEG(t, 7, 4)
	base, err := DecodeImage(plain)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []int{1, 3, 6, 8} {
		got, err := DecodeImage(withSegments(plain, exifSegment(binary.BigEndian, uint16(o))))
		if err != nil {
			t.Fatal(err)
		}
		want := orientRGB(base, o)
		if got.W != want.W || got.H != want.H || !bytes.Equal(got.Pix, want.Pix) {
			t.Errorf("orientation %d: %d×%d image differs from the untagged one turned (%d×%d)", o, got.W, got.H, want.W, want.H)
		}
	}
}

func FuzzJPEGOrientation(f *testing.F) {
	f.Add([]byte{0xff, 0xd8})
	f.Add(withSegments([]byte{0xff, 0xd8, 0xff, 0xd9}, exifSegment(binary.LittleEndian, 6)))
	f.Add(withSegments([]byte{0xff, 0xd8, 0xff, 0xd9}, exifSegment(binary.BigEndian, 2)))
	f.Fuzz(func(t *testing.T, data []byte) {
		if o := jpegOrientation(data); o < 0 || o > 8 {
			t.Fatalf("orientation %d out of range", o)
		}
	})
}
