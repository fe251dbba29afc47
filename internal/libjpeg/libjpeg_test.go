package libjpeg

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func skipWithout(t testing.TB) {
	t.Helper()
	if !Available {
		t.Skip("built without libjpeg-turbo (tag noturbojpeg)")
	}
}

// photo encodes a w×h picture with Go's encoder (baseline 4:2:0).
func photo(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 7), uint8(y * 5), uint8(x ^ y), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "inference", "testdata", "jpeg", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestScaleFor(t *testing.T) {
	tests := []struct{ w, h, fit, want int }{
		{4032, 3024, 0, 1},
		{4032, 3024, 160, 8},  // 504 ≥ 160
		{4032, 3024, 2048, 1}, // 2016 < 2048 at 1/2
		{4032, 3024, 1000, 4}, // 1008
		{1024, 768, 160, 4},   // 256; 1/8 gives 128
		{100, 3000, 160, 8},   // the longer side counts
		{300, 200, 160, 1},    // 150 at 1/2
		{1, 1, 160, 1},
	}
	for _, tc := range tests {
		if got := scaleFor(tc.w, tc.h, tc.fit); got != tc.want {
			t.Errorf("scaleFor(%d, %d, %d) = %d, want %d", tc.w, tc.h, tc.fit, got, tc.want)
		}
	}
}

// TestDecode walks the cases a caller meets: a photo at full size and scaled for a thumbnail, a
// header the caller refuses, and files that must fail with a message saying why.
func TestDecode(t *testing.T) {
	skipWithout(t)
	full := photo(t, 64, 40)
	errTooBig := errors.New("too big")
	tests := []struct {
		name    string
		data    []byte
		opt     Options
		w, h    int
		wantErr string // substring; "" means success
		is      error
	}{
		{name: "full size", data: full, w: 64, h: 40},
		{name: "fit 20 decodes at 1/2", data: full, opt: Options{FitSide: 20}, w: 32, h: 20},
		{name: "fit 16 decodes at 1/4", data: full, opt: Options{FitSide: 16}, w: 16, h: 10},
		{name: "fit 8 decodes at 1/8", data: full, opt: Options{FitSide: 8}, w: 8, h: 5},
		{name: "fit larger than the image", data: full, opt: Options{FitSide: 500}, w: 64, h: 40},
		{name: "refused by Check", data: full, opt: Options{Check: func(Header) error { return errTooBig }}, wantErr: "too big", is: errTooBig},
		{name: "truncated", data: full[:len(full)/2], wantErr: "truncated", is: ErrTruncated},
		{name: "header only", data: full[:200], wantErr: "truncated", is: ErrTruncated},
		{name: "12-bit", data: fixture(t, "precision_12.jpg"), wantErr: "precision 12"},
		{name: "empty", data: nil, wantErr: "empty"},
		{name: "not a JPEG", data: []byte("\x89PNG\r\n\x1a\n0000"), wantErr: "Not a JPEG"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, _, err := Decode(tc.data, tc.opt)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Errorf("error %v does not wrap %v", err, tc.is)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if img.Width != tc.w || img.Height != tc.h || len(img.Pix) != tc.w*tc.h*3 {
				t.Errorf("got %d×%d (%d bytes), want %d×%d", img.Width, img.Height, len(img.Pix), tc.w, tc.h)
			}
		})
	}
}

func TestHeader(t *testing.T) {
	skipWithout(t)
	tests := []struct {
		file string
		want Header
	}{
		{"baseline_420.jpg", Header{Width: 37, Height: 29, Components: 3, ColorSpace: "ycbcr", Precision: 8}},
		{"progressive_444.jpg", Header{Width: 37, Height: 29, Components: 3, ColorSpace: "ycbcr", Progressive: true, Precision: 8}},
		{"gray.jpg", Header{Width: 31, Height: 23, Components: 1, ColorSpace: "gray", Precision: 8}},
		{"cmyk.jpg", Header{Width: 30, Height: 20, Components: 4, ColorSpace: "cmyk", Precision: 8, Adobe: true}},
		{"cjpeg_rgb.jpg", Header{Width: 37, Height: 29, Components: 3, ColorSpace: "rgb", Precision: 8, Adobe: true}},
		{"ycck.jpg", Header{Width: 27, Height: 19, Components: 4, ColorSpace: "ycck", Precision: 8, Adobe: true}},
	}
	for _, tc := range tests {
		var got Header
		_, _, err := Decode(fixture(t, tc.file), Options{Check: func(h Header) error { got = h; return nil }})
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if got != tc.want {
			t.Errorf("%s: header %+v, want %+v", tc.file, got, tc.want)
		}
	}
}

// TestDecodeConcurrent decodes from several goroutines at once: each call has its own libjpeg
// state and error jump buffer.
func TestDecodeConcurrent(t *testing.T) {
	skipWithout(t)
	good, bad := photo(t, 33, 17), photo(t, 33, 17)[:300]
	want, _, err := Decode(good, Options{})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 16)
	for i := range 16 {
		go func() {
			data := good
			if i%2 == 1 {
				data = bad
			}
			img, _, err := Decode(data, Options{})
			switch {
			case i%2 == 1 && !errors.Is(err, ErrTruncated):
				errs <- errors.New("truncated file: " + errString(err))
			case i%2 == 0 && (err != nil || !bytes.Equal(img.Pix, want.Pix)):
				errs <- errors.New("good file decoded differently: " + errString(err))
			default:
				errs <- nil
			}
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

// FuzzDecode feeds arbitrary bytes through the cgo boundary. libjpeg must report an error, never
// crash, hang or write outside the pixels Go allocated; a success must hold exactly the pixels
// its size says. The seeds are the fixture files.
//
//	go test ./internal/libjpeg -run '^$' -fuzz FuzzDecode -fuzztime 60s
func FuzzDecode(f *testing.F) {
	skipWithout(f)
	for _, name := range []string{"baseline_420.jpg", "progressive_420.jpg", "cjpeg_440.jpg", "cjpeg_restart.jpg",
		"cjpeg_arithmetic.jpg", "cjpeg_440_progressive.jpg", "gray.jpg", "cmyk.jpg", "ycck.jpg", "size_1x1.jpg",
		"orientation_6.jpg", "truncated.jpg", "precision_12.jpg"} {
		f.Add(fixture(f, name), 0)
	}
	f.Fuzz(func(t *testing.T, data []byte, fit int) {
		check := func(h Header) error {
			if int64(h.Width)*int64(h.Height) > 1<<22 {
				return errors.New("too large for the fuzzer")
			}
			return nil
		}
		img, _, err := Decode(data, Options{Check: check, FitSide: fit % 64})
		if err != nil {
			return
		}
		if img.Width <= 0 || img.Height <= 0 || len(img.Pix) != img.Width*img.Height*3 {
			t.Fatalf("decoded %d×%d with %d bytes", img.Width, img.Height, len(img.Pix))
		}
	})
}

// BenchmarkDecode compares libjpeg-turbo with Go's image/jpeg on a 12-megapixel 4:2:0 photo.
func BenchmarkDecode(b *testing.B) {
	skipWithout(b)
	data := photo(b, 4032, 3024)
	b.Run("libjpeg-turbo", func(b *testing.B) {
		b.SetBytes(4032 * 3024 * 3)
		for b.Loop() {
			if _, _, err := Decode(data, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("image-jpeg", func(b *testing.B) {
		b.SetBytes(4032 * 3024 * 3)
		for b.Loop() {
			if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("libjpeg-turbo-thumbnail", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := Decode(data, Options{FitSide: 160}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
