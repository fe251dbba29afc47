// Package finetune trains BLIP on a caption dataset (AdamW, schedules, checkpoints, resume) and
// evaluates captions with the COCO caption metrics. It never imports Fyne.
package finetune
