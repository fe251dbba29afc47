package inference

import (
	"github.com/captune/captune/internal/memstat"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/internal/tx"
)

// liveTensors counts the tensors gotch has not freed and the bare handles of package tx.
// It first collects garbage, lets gotch's finalizers run and returns freed memory to the OS, so
// that counts and RSS measure what is really held.
func liveTensors() int {
	for i := 0; i < 3; i++ {
		debug.FreeOSMemory()
		time.Sleep(20 * time.Millisecond)
	}
	return len(ts.ExistingTensors) + int(tx.Live())
}

// TestSoakCaptioning captions 1,000 images (greedy and beam search alternating) and checks that
// after warm-up neither the live tensor count nor the resident memory grows: a decoding loop that
// leaked one tensor per image would fail the count check.
func TestSoakCaptioning(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test: skipped with -short")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c, _, err := LoadCaptioner("testdata/models/tiny-a", gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Free()
	img, err := LoadImage("testdata/images/rgb.png")
	if err != nil {
		t.Fatal(err)
	}
	imgs := []*RGBImage{img, img, img, img}
	greedy := CaptionOptions{Decode: DefaultDecodeOptions(), BatchSize: 4}
	beam := greedy
	beam.Decode.NumBeams = 3
	var tensorsAt100, tensorsAt1000 int
	var rssAt100, rssAt1000 int64
	for n := 4; n <= 1000; n += 4 {
		opts := greedy
		if n%8 == 0 {
			opts = beam
		}
		if _, err := c.CaptionImages(t.Context(), imgs, opts, nil); err != nil {
			t.Fatal(err)
		}
		switch n {
		case 100:
			tensorsAt100, rssAt100 = liveTensors(), residentKB(t)
		case 1000:
			tensorsAt1000, rssAt1000 = liveTensors(), residentKB(t)
		}
	}
	t.Logf("images 100: %d live tensors, RSS %d kB; images 1000: %d live tensors, RSS %d kB (%+.1f%%)",
		tensorsAt100, rssAt100, tensorsAt1000, rssAt1000, 100*float64(rssAt1000-rssAt100)/float64(rssAt100))
	if tensorsAt1000 != tensorsAt100 {
		t.Errorf("live tensors grew from %d to %d over 900 images", tensorsAt100, tensorsAt1000)
	}
	if float64(rssAt1000) > 1.05*float64(rssAt100) {
		t.Errorf("resident memory grew from %d kB to %d kB (more than 5%%) over 900 images", rssAt100, rssAt1000)
	}
}

// residentKB is VmRSS; the test is skipped where /proc is missing (not Linux).
func residentKB(t *testing.T) int64 {
	t.Helper()
	v, err := memstat.Status("VmRSS")
	if err != nil {
		t.Skipf("no resident-memory figure on this system: %v", err)
	}
	return v
}
