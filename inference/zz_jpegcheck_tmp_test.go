package inference

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/disintegration/imaging"
)

func TestTmpJPEGCheck(t *testing.T) {
	dir := os.Getenv("CAPTUNE_JPEG_CHECK_DIR")
	if dir == "" {
		t.Skip("CAPTUNE_JPEG_CHECK_DIR not set")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.jpg"))
	sort.Strings(files)
	cmp := func(a *RGBImage, ref []byte, w, h int) (int, int) {
		if a.W != w || a.H != h {
			return -1, -1
		}
		m, n := 0, 0
		for i := range ref {
			d := int(a.Pix[i]) - int(ref[i])
			if d < 0 {
				d = -d
			}
			if d > 0 {
				n++
			}
			m = max(m, d)
		}
		return m, n
	}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		raw, _ := os.ReadFile(strings.TrimSuffix(f, ".jpg") + ".rgb")
		nl := bytes.IndexByte(raw, '\n')
		var w, h int
		fmt.Sscanf(string(raw[:nl]), "%d %d", &w, &h)
		ref := raw[nl+1:]
		old, err := imaging.Decode(bytes.NewReader(data), imaging.AutoOrientation(true))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		before := toRGB(old)
		after, err := DecodeImage(data)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		bm, bn := cmp(before, ref, w, h)
		am, an := cmp(after, ref, w, h)
		fmt.Printf("%-32s %4dx%-4d before max %3d (%5d samples differ)  after max %3d (%5d of %6d differ)\n", filepath.Base(f), w, h, bm, bn, am, an, len(ref))
	}
}
