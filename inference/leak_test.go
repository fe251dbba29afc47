package inference

import (
	"context"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/internal/tx"
)

// tensorCount is the number of live tensors: gotch's (pixels, weights, optimizer state) and the
// bare handles of package tx (the model's activations, caches and logits).
func tensorCount() int { return len(ts.ExistingTensors) + int(tx.Live()) }

// withoutGC runs the garbage collector and gotch's finalizers until nothing is left to finalize,
// then turns the collector off until the returned function restores it: a gotch tensor that a
// failed call left behind then stays counted, rather than being freed by a finalizer at some
// later collection (the deterministic drop this test checks is what keeps memory flat).
func withoutGC() (restore func()) {
	for i := 0; i < 3; i++ {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
	old := debug.SetGCPercent(-1)
	return func() { debug.SetGCPercent(old) }
}

// TestFailureLeavesNoTensors makes the n-th libtorch operation of a caption request fail (tx.FailAfter,
// as an out-of-memory error would) for n from the first operation to past the last, in greedy
// decoding, beam search and the training loss. Every failed request returns the engine's error,
// and after each one the live tensor count is what it was before: a panic recovered by the Engine
// leaks no intermediate, no KV cache and no pixel tensor.
func TestFailureLeavesNoTensors(t *testing.T) {
	eng := NewEngine()
	defer eng.Close()
	var c *Captioner
	if err := eng.Do(t.Context(), func() error {
		var err error
		c, _, err = LoadCaptioner("testdata/models/tiny-a", gotch.CPU)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer eng.Do(context.Background(), func() error { c.Free(); return nil })
	img, err := LoadImage("testdata/images/rgb.png")
	if err != nil {
		t.Fatal(err)
	}
	imgs := []*RGBImage{img, img}
	greedy := CaptionOptions{Decode: DefaultDecodeOptions(), BatchSize: 2}
	beam := greedy
	beam.Decode.NumBeams = 3
	caption := func(opts CaptionOptions) func() error {
		return func() error { _, err := c.CaptionImages(t.Context(), imgs, opts, nil); return err }
	}
	loss := func() error {
		ids, promptLen := c.EncodeCaptions([]string{"a red square", "a dog"}, "", 0)
		b, err := c.Model.PrepareBatch(ids, promptLen, RecipeBLIP)
		if err != nil {
			return err
		}
		pix, err := c.Pixels(imgs)
		if err != nil {
			return err
		}
		defer pix.MustDrop()
		l, err := c.Model.Loss(pix, b)
		if err != nil {
			return err
		}
		defer l.MustDrop()
		return l.Backward()
	}
	tests := []struct {
		name string
		run  func() error
	}{
		{"greedy", caption(greedy)},
		{"beam search", caption(beam)},
		{"training loss", loss},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := eng.Do(t.Context(), tt.run); err != nil { // warm-up: nothing fails
				t.Fatal(err)
			}
			defer withoutGC()()
			before := tensorCount()
			failures := 0
			for n := int64(1); ; n += 1 + n/4 {
				err := eng.Do(t.Context(), func() error {
					tx.FailAfter(n)
					defer tx.FailAfter(0)
					return tt.run()
				})
				if err == nil {
					break // n is past the last operation
				}
				failures++
				if !strings.Contains(err.Error(), "injected") {
					t.Fatalf("operation %d failed with %v, want the injected failure", n, err)
				}
				if got := tensorCount(); got != before {
					t.Fatalf("after a failure at operation %d: %d live tensors, want %d (as before)", n, got, before)
				}
			}
			if failures < 10 {
				t.Errorf("only %d failure points reached: the request made fewer operations than expected", failures)
			}
			t.Logf("%d failure points, %d live tensors throughout", failures, before)
		})
	}
}
