// Package finetune trains BLIP on a caption dataset and evaluates the result: AdamW with warm-up
// and cosine, linear or constant schedules, gradient accumulation and clipping, frozen vision or
// text layers, checkpoints and resume, a NaN guard, the best epoch by validation CIDEr-D or loss,
// and the before/after comparison with its HTML report. Subpackages: metrics (BLEU, ROUGE-L and
// CIDEr-D, equal to pycocoevalcap) and synth (generated datasets for tests and demos). It never
// imports Fyne.
//
// A run takes examples (annotate's TrainingSet chooses them) and reports progress through a
// callback:
//
//	set := ds.TrainingSet(annotate.TrainTrusted, annotate.HoldoutAuto)
//	cfg := finetune.DefaultConfig()
//	cfg.BaseModel, cfg.OutDir = baseDir, runDir
//	data := finetune.Data{Train: examples(set.Train), Val: examples(set.Val)}
//	res, err := finetune.Run(ctx, cfg, data, func(p finetune.Progress) {
//		// p.Phase, p.Step of p.Total, p.Loss, p.ETA; hand to the UI with fyne.Do
//	})
//	// res.OutDir is a Hugging Face model folder; res.Stopped says ctx was cancelled
//
// and a comparison scores the images annotate's EvalSet chooses with two models:
//
//	base, err := finetune.CaptionExamples(ctx, baseCaptioner, ex, opts, nil)
//	tuned, err := finetune.CaptionExamples(ctx, tunedCaptioner, ex, opts, nil)
//	cmp, err := finetune.Compare(ex, base, tuned)
//	err = cmp.WriteHTML(filepath.Join(runDir, "compare.html"))
//
// Concurrency: Run is synchronous and runs on the calling goroutine, locked to its OS thread for
// the duration (libtorch's grad mode is per thread); the caller adds concurrency and cancels
// through ctx, which stops the run within one step and leaves the last checkpoint and the base
// model as they were. CaptionExamples and SelfTest touch tensors and so run inside an
// inference.Engine's Do. Score, Compare, the report writers and the metrics are plain Go.
//
// Files: the output folder, each checkpoint folder and every file is written beside its final name
// and renamed into place (internal/atomicfile), so a run killed at any moment leaves the previous
// state; the temporary files of a killed run are removed by the next run in the same folder.
// Ownership of tensors follows package inference: the model and optimizer state belong to the run
// and are freed when Run returns, a step's intermediates to its scope.
package finetune
