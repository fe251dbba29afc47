// Package inference holds the BLIP captioning model: config, checkpoint I/O, preprocessing,
// tokenizer, the vision encoder and text decoder, decoding (greedy, beam search, sampling, with
// transformers' logits processors), and the training loss. It reads and writes Hugging Face model
// folders (config.json, model.safetensors or pytorch_model.bin, tokenizer and preprocessor files,
// generation_config.json) and matches BlipForConditionalGeneration: see docs/BLIP.md for the facts
// parity depends on. It never imports Fyne.
//
// A caller loads a model and captions images on an Engine:
//
//	eng := inference.NewEngine()
//	defer eng.Close()
//	dev, err := inference.ParseDevice("auto") // cpu, cuda, cuda:N
//	var caps []inference.Caption
//	err = eng.Do(ctx, func() error {
//		c, report, err := inference.LoadCaptioner(modelDir, dev)
//		if err != nil {
//			return err
//		}
//		defer c.Free()
//		// report lists checkpoint keys the model did not use
//		img, err := inference.LoadImage(path)
//		if err != nil {
//			return err
//		}
//		opts := inference.CaptionOptions{Decode: inference.CaptuneDecodeOptions()}
//		caps, err = c.CaptionImages(ctx, []*inference.RGBImage{img}, opts, nil)
//		return err
//	})
//
// Concurrency: libtorch keeps grad mode and its last error per OS thread, so every call that
// touches a tensor (LoadCaptioner, CaptionImages, Save, Free, the loss) runs inside Engine.Do, which
// runs closures one at a time on one goroutine locked to one thread (finetune.Run instead locks
// its own goroutine to its thread for a run); a Captioner is not safe for concurrent use and belongs
// to the engine that loaded it. Decoding images (LoadImage, DecodeImage)
// and tokenizing are plain Go and safe anywhere. Engine.Do turns a panic inside the closure (a
// libtorch error is a panic in model code) into an error.
//
// Ownership: a Captioner owns its weights until Free. Tensors a caller passes in (the pixels given
// to Model.Generate) stay the caller's; tensors returned are the caller's to drop. Inside the model,
// the intermediates of a call belong to an internal/tx Scope, which frees them when the call
// returns or panics; only what the call hands back (logits, the KV cache) is kept. The soak tests
// hold the live tensor count and the RSS flat over many calls.
package inference
