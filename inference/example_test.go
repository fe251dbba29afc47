package inference_test

import (
	"context"
	"fmt"
	"log"

	"github.com/captune/captune/inference"
)

// Captioning an image: load a Hugging Face BLIP folder and caption on the engine's thread. The
// test model here has random weights, so its caption is nonsense, but the same every run.
func ExampleCaptioner_CaptionImages() {
	eng := inference.NewEngine()
	defer eng.Close()
	dev, err := inference.ParseDevice("cpu")
	if err != nil {
		log.Fatal(err)
	}
	var caps []inference.Caption
	err = eng.Do(context.Background(), func() error {
		c, _, err := inference.LoadCaptioner("testdata/models/tiny-a", dev)
		if err != nil {
			return err
		}
		defer c.Free()
		img, err := inference.LoadImage("testdata/images/rgb.png")
		if err != nil {
			return err
		}
		opts := inference.CaptionOptions{Decode: inference.DefaultDecodeOptions()}
		opts.Decode.NumBeams, opts.Decode.MaxLength = 3, 8
		caps, err = c.CaptionImages(context.Background(), []*inference.RGBImage{img}, opts, nil)
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d caption of %d tokens\n", len(caps), len(caps[0].Tokens))
	fmt.Printf("%q\n", caps[0].Text)
	// Output:
	// 1 caption of 8 tokens
	// "##ching artem greland bowl"
}
