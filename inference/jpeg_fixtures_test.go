package inference

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/captune/captune/inference/safetensors"
	"github.com/captune/captune/internal/libjpeg"
)

// jpegFixtures is testdata/jpeg/expected.json, written with the files by
// scripts/make_jpeg_fixtures.py.
type jpegFixtures struct {
	Files  []string          `json:"files"`
	Errors map[string]string `json:"errors"`
	Size   int               `json:"size"`
	Pillow string            `json:"pillow"`
	Turbo  string            `json:"libjpeg_turbo"`
}

// TestJPEGFixtures loads every fixture JPEG as captioning and training do (LoadImage, then the
// processor's Pixels) and asserts that the pixels equal Pillow's and the pixel values equal
// BlipImageProcessor's exactly: baseline, progressive, arithmetic, restart markers, 4:4:4, 4:2:2,
// 4:2:0, 4:4:0, grey, CMYK, YCCK, Adobe RGB, 1×1, 17×9, 4001×3 and EXIF orientations 1–8. A truncated
// and a 12-bit file must fail with an error that names the file and says what is wrong.
func TestJPEGFixtures(t *testing.T) {
	if !libjpeg.Available {
		t.Skip("built without libjpeg-turbo (tag noturbojpeg): Go's decoder is not Pillow-exact")
	}
	dir := filepath.Join("testdata", "jpeg")
	raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx jpegFixtures
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	want, err := safetensors.Open(filepath.Join(dir, "expected.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	pp := DefaultPreprocessor(fx.Size)
	for _, name := range fx.Files {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			img, err := LoadImage(path)
			if words, bad := fx.Errors[name]; bad {
				if err == nil {
					t.Fatalf("decoded a %d×%d image; want an error about %q", img.W, img.H, words)
				}
				if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(strings.ToLower(msg), words) {
					t.Errorf("error %q: want it to name %s and say %q", msg, path, words)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			info, _ := want.Info(name + "/rgb")
			wantRGB, err := want.Bytes(name + "/rgb")
			if err != nil {
				t.Fatal(err)
			}
			if w, h := int(info.Shape[1]), int(info.Shape[0]); img.W != w || img.H != h {
				t.Fatalf("size %d×%d, Pillow %d×%d", img.W, img.H, w, h)
			}
			diffs, maxDiff := 0, 0
			for i, v := range img.Pix {
				if d := int(v) - int(wantRGB[i]); d != 0 {
					diffs++
					maxDiff = max(maxDiff, d, -d)
				}
			}
			if diffs > 0 {
				t.Errorf("%d of %d samples differ from Pillow's, by up to %d", diffs, len(img.Pix), maxDiff)
			}
			got, err := pp.Pixels(img)
			if err != nil {
				t.Fatal(err)
			}
			wantPV := float32s(t, want, name+"/pixel_values")
			if len(got) != len(wantPV) {
				t.Fatalf("%d pixel values, BlipImageProcessor %d", len(got), len(wantPV))
			}
			var maxAbs float64
			for i := range got {
				maxAbs = math.Max(maxAbs, math.Abs(float64(got[i])-float64(wantPV[i])))
			}
			if maxAbs != 0 {
				t.Errorf("pixel values: max abs diff %g from BlipImageProcessor's, want 0", maxAbs)
			}
		})
	}
}

func float32s(t *testing.T, f *safetensors.File, name string) []float32 {
	t.Helper()
	b, err := f.Bytes(name)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// TestLoadImageFit reads a photo for a thumbnail: a JPEG comes reduced by libjpeg-turbo's DCT
// scaling but never below the size asked for, turned by its EXIF orientation, with the whole
// image's size beside it; a PNG comes whole.
func TestLoadImageFit(t *testing.T) {
	dir := t.TempDir()
	photo := testJPEG(t, 640, 480)
	files := map[string][]byte{
		"photo.jpg":   photo,
		"turned.jpg":  withSegments(photo, exifSegment(binary.BigEndian, 6)),
		"corrupt.jpg": photo[:len(photo)/3],
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		file             string
		fit              int
		gotW, gotH, w, h int
		wantErr          string
	}{
		{file: "photo.jpg", fit: 0, gotW: 640, gotH: 480, w: 640, h: 480},
		{file: "photo.jpg", fit: 160, gotW: 160, gotH: 120, w: 640, h: 480},
		{file: "photo.jpg", fit: 161, gotW: 320, gotH: 240, w: 640, h: 480},
		{file: "turned.jpg", fit: 80, gotW: 60, gotH: 80, w: 480, h: 640},
		{file: "corrupt.jpg", fit: 160, wantErr: "corrupt.jpg"},
		{file: filepath.Join("..", "images", "rgb.png"), fit: 10, gotW: 50, gotH: 40, w: 50, h: 40},
	}
	if !libjpeg.Available {
		t.Log("built without libjpeg-turbo: JPEGs come whole")
	}
	for _, tc := range tests {
		path := filepath.Join(dir, tc.file)
		if strings.HasSuffix(tc.file, ".png") {
			path = filepath.Join("testdata", "images", "rgb.png")
		}
		img, w, h, err := LoadImageFit(path, tc.fit)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrImage) {
				t.Errorf("%s: error %v, want an unreadable-image error naming %s", tc.file, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if !libjpeg.Available {
			tc.gotW, tc.gotH = tc.w, tc.h
		}
		if img.W != tc.gotW || img.H != tc.gotH || w != tc.w || h != tc.h {
			t.Errorf("%s fit %d: decoded %d×%d of %d×%d, want %d×%d of %d×%d", tc.file, tc.fit, img.W, img.H, w, h, tc.gotW, tc.gotH, tc.w, tc.h)
		}
	}
}
