package inference

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/sugarme/gotch"
)

// TestEngineConcurrentCaptioning drives one model from several goroutines at once through its
// Engine (run it with -race, as make test does): every caption equals the one a single caller
// gets, and nothing races.
func TestEngineConcurrentCaptioning(t *testing.T) {
	eng := NewEngine()
	defer eng.Close()
	var c *Captioner
	if err := eng.Do(context.Background(), func() error {
		var err error
		c, _, err = LoadCaptioner("testdata/models/tiny-a", gotch.CPU)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer eng.Do(context.Background(), func() error { c.Free(); return nil })
	names := []string{"rgb.png", "gray.png", "rgba.png", "palette.gif"}
	var imgs []*RGBImage
	for _, n := range names {
		img, err := LoadImage("testdata/images/" + n)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	opts := CaptionOptions{Decode: DefaultDecodeOptions(), BatchSize: 2}
	var want []Caption
	if err := eng.Do(context.Background(), func() error {
		var err error
		want, err = c.CaptionImages(context.Background(), imgs, opts, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for round := 0; round < 3; round++ {
				i := (g + round) % len(imgs)
				var got []Caption
				err := eng.Do(context.Background(), func() error {
					var err error
					got, err = c.CaptionImages(context.Background(), imgs[i:i+1], opts, nil)
					return err
				})
				if err != nil {
					errs <- err
					return
				}
				if got[0].Text != want[i].Text {
					errs <- fmt.Errorf("goroutine %d: image %s captioned %q, alone %q", g, names[i], got[0].Text, want[i].Text)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestEngineAfterCloseAndCancel(t *testing.T) {
	eng := NewEngine()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := eng.Do(ctx, func() error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Do with a cancelled context = %v, want context.Canceled", err)
	}
	if err := eng.Do(context.Background(), func() error { panic("boom") }); err == nil {
		t.Errorf("a panicking request returned no error")
	}
	eng.Close()
	if err := eng.Do(context.Background(), func() error { return nil }); !errors.Is(err, ErrEngineClosed) {
		t.Errorf("Do after Close = %v, want ErrEngineClosed", err)
	}
}
