// Package annotate holds the caption dataset: a folder of images with one or more captions each,
// read from and written to the formats captioning tools use (sidecar files, metadata.jsonl, COCO
// captions JSON, CSV), with origins, review states, splits, undo and crash-safe saving.
// It never imports Fyne.
//
// A window opens a folder, takes the lock, edits through the Dataset's methods and lets an
// Autosaver write:
//
//	ds, report, err := annotate.Open(dir, annotate.OpenOptions{Recursive: true})
//	// report.Summary(), report.Warnings: show them
//	if err := ds.Lock(); errors.Is(err, annotate.ErrLocked) { /* warn: open elsewhere */ }
//	defer ds.Close()
//	ds.OnChange(func(c annotate.Change) { /* fyne.Do(refresh c.Items) */ })
//	saver := annotate.NewAutosaver(ds, 0)
//	saver.OnError = func(err error) { /* a *ConflictError: ask, then ds.Resolve(...) */ }
//	saver.Start(ctx)
//	defer saver.Stop()
//	ds.SetCaption(i, 0, text, annotate.OriginHuman)
//	ds.Undo()
//	b := ds.NewBatch() // a job's edits undo as one step
//	b.AddCaption(i, modelText, annotate.ModelOrigin("blip-base"))
//
// The dataset owns its policies, so that the window, the CLI and the trainer never decide them
// twice: TrainingSet says which images train and which validate a run, EvalSet which images score
// a model (the val split, else the test split, else the run's held-out images; the training images
// only when nothing was held out, and then it says so); AddImages copies dropped files into the
// folder, WriteSidecar writes the caption file of an image outside a dataset by the rule Open reads
// with, IsImageName says which files are images. Exports go through Export.
//
// Export leaves out rejected captions and files that do not read as images unless asked (it reads
// each image's header, never its pixels), and places images beside a named .json / .csv file only
// on request; ExportSummary says what was left out.
//
// Guarantees: opening never decodes (or reads) an image; no file name from a caption file and no
// symlink leads a read or write outside the dataset folder; every write is atomic (temporary file
// in the same folder, fsync, rename), and the temporary files a killed Captune left are removed by
// the next Open, Save or Export in the folders it touches (Report.RemovedTemps,
// ExportSummary.RemovedTemps), never those of a Captune still running; a failed Export removes what
// it wrote and restores the files it replaced; a caption file changed by another program since it was
// loaded is never overwritten without the user's say (ConflictError, Resolve); lines and fields
// Captune does not understand are written back as they were.
package annotate
