package inference

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTmpIDCTCheck(t *testing.T) {
	dir := os.Getenv("CAPTUNE_JPEG_CHECK_DIR")
	if dir == "" {
		t.Skip("CAPTUNE_JPEG_CHECK_DIR not set")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.ycc"))
	tot, totDiff, hist := 0, 0, map[int]int{}
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		nl := bytes.IndexByte(raw, '\n')
		var w, h, c int
		fmt.Sscanf(string(raw[:nl]), "%d %d %d", &w, &h, &c)
		ref := raw[nl+1:]
		data, _ := os.ReadFile(strings.TrimSuffix(f, ".ycc") + ".jpg")
		img, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		get := func(x, y, ch int) uint8 {
			switch m := img.(type) {
			case *image.Gray:
				return m.Pix[y*m.Stride+x]
			case *image.YCbCr:
				switch ch {
				case 0:
					return m.Y[m.YOffset(x, y)]
				case 1:
					return m.Cb[m.COffset(x, y)]
				}
				return m.Cr[m.COffset(x, y)]
			}
			panic("type")
		}
		mx, n := 0, 0
		for y := range h {
			for x := range w {
				for ch := range c {
					d := int(get(x, y, ch)) - int(ref[(y*w+x)*c+ch])
					hist[d]++
					if d != 0 {
						n++
					}
					mx = max(mx, d, -d)
				}
			}
		}
		tot += w * h * c
		totDiff += n
		fmt.Printf("%-24s max %d, %d of %d samples differ\n", filepath.Base(f), mx, n, w*h*c)
	}
	fmt.Printf("all: %d of %d differ; histogram %v\n", totDiff, tot, hist)
}
