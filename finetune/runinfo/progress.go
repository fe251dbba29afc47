// Package runinfo holds what a fine-tuning run reports, as plain data: its progress as it goes
// (Progress, with a typed Phase), its result (Result), the statistics of its validation captions
// and the alarms they raise, which checkpoint its model is (BestInfo), and the before/after
// evaluation of base and fine-tuned models (Comparison), with the HTML and JSON report of it.
//
// It imports neither libtorch nor Fyne: package finetune fills these types in while it trains and
// evaluates, and the window (package ui) shows them as they are, without copying them field by
// field into types of its own.
package runinfo

import "time"

// Phase says what a run is doing when it reports Progress.
type Phase string

// The phases of a run, in the order a run goes through them; Estimate reports only PhaseLoad and
// PhaseEstimate.
const (
	PhaseLoad       Phase = "load"       // loading the model and the data; Message says what
	PhaseCache      Phase = "cache"      // encoding the images into the feature cache
	PhaseResume     Phase = "resume"     // a resumed run before its first step: History carries the run so far
	PhaseTrain      Phase = "train"      // an optimizer step finished
	PhaseEval       Phase = "eval"       // validation loss: started (ValLoss NaN) or finished
	PhaseCaptions   Phase = "captions"   // an epoch's validation captions: started, or their stats
	PhaseCheckpoint Phase = "checkpoint" // writing a checkpoint
	PhaseDone       Phase = "done"       // the model is saved
	PhaseEstimate   Phase = "estimate"   // Estimate timing a step or a validation batch
)

// Progress reports a run as it goes; Phase says what is happening.
type Progress struct {
	Phase         Phase
	Step, Total   int // optimizer steps done / planned
	Epoch         int // 1-based
	Loss          float64
	LR            float64
	SamplesPerSec float64
	ETA           time.Duration
	ValLoss       float64 // set after an evaluation (NaN otherwise)
	Message       string
	// PhaseResume (a resumed run, before its first step) carries the run so far, to draw its
	// curve once: History[i] is the loss of step i+1, ValHistory[i] the validation loss after
	// step ValSteps[i].
	History    []float64
	ValSteps   []int
	ValHistory []float64
	// PhaseCaptions (at each epoch end with validation references) carries the validation
	// captions' stats and, when one was raised, the alarm text naming cause and remedy; its first
	// report of an epoch, without Captions, says the captioning started.
	Captions *CaptionStats
	Alarm    string
}
