// Package inference holds the BLIP captioning model: config, checkpoint I/O, preprocessing,
// tokenizer, the vision encoder and text decoder, decoding, and the training loss.
// It never imports Fyne.
package inference
