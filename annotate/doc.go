// Package annotate holds the caption dataset: a folder of images with one or more captions each,
// read from and written to the formats captioning tools use (sidecar files, metadata.jsonl, COCO
// captions JSON, CSV), with origins, review states, splits, undo and crash-safe saving.
// It never imports Fyne.
package annotate
