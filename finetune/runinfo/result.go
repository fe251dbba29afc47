package runinfo

import (
	"fmt"

	"github.com/captune/captune/finetune/metrics"
)

// Result summarises a finished (or stopped) run.
type Result struct {
	OutDir         string
	Steps          int
	Losses         []float64 // loss of every optimizer step, in order
	ValLosses      []float64 // after each epoch
	LastCheckpoint string
	Resumed        bool
	Stopped        bool           // cancelled before the end
	RemovedTemps   int            // temporary files of a killed run removed from OutDir and its checkpoints
	Captions       []CaptionStats // validation captions after each epoch (see CaptionStats)
	Alarms         []Alarm        // every alarm raised, in order
	StoppedByAlarm bool           // the run was asked to stop on an alarm and did
	StoppedEarly   bool           // patience ran out: epochs passed without a better checkpoint
	Best           BestInfo       // the checkpoint OutDir's model is (Epoch 0: the last weights)
	NaNReverts     int            // times a NaN loss sent the run back to a checkpoint

	Method       string // "full" or "lora" (finetune.Config.Method)
	AdapterBytes int64  // size on disk of a LoRA run's adapter_model.safetensors; 0 for full
	MergedDir    string // a LoRA run's merged model folder (OutDir/merged), "" without --merge
}

// CaptionStats describe the validation captions a run's current weights write: how good they are
// against the references and whether they collapsed (every image the same caption), repeat words
// or drifted in length. The loss shows none of these.
type CaptionStats struct {
	Images    int      `json:"images"`
	CIDErD    float64  `json:"cider_d"`   // pycocoevalcap's scale (×100 to print)
	BLEU4     float64  `json:"bleu_4"`    // idem
	Identical float64  `json:"identical"` // share of images whose caption another image also got
	Distinct1 float64  `json:"distinct_1"`
	Distinct2 float64  `json:"distinct_2"`
	Repeated  float64  `json:"repeated"`    // share of captions with a run of words said twice
	MeanLen   float64  `json:"mean_length"` // words per caption (pycocoevalcap tokens)
	RefLen    float64  `json:"ref_mean_length"`
	Examples  []string `json:"examples"` // "image: caption" for the first few images
}

// String is the stats on one line, as the CLI prints them.
func (s CaptionStats) String() string {
	return fmt.Sprintf("CIDEr-D %s BLEU-4 %s · identical %.0f%% · distinct-1/2 %.2f/%.2f · repeats %.0f%% · length %.1f (references %.1f)",
		metrics.Percent(s.CIDErD), metrics.Percent(s.BLEU4), 100*s.Identical, s.Distinct1, s.Distinct2,
		100*s.Repeated, s.MeanLen, s.RefLen)
}

// Alarm is one warning about the captions of an epoch, naming the likely cause and the remedy.
type Alarm struct {
	Kind    string `json:"kind"` // "identical", "repetition", "length", "cider"
	Message string `json:"message"`
}

// The criteria a run selects its model by (BestInfo.SelectBy).
const (
	SelectCIDEr = "cider"
	SelectLoss  = "loss"
)

// BestInfo says which checkpoint a run's output folder's model was copied from and why it was
// chosen.
type BestInfo struct {
	SelectBy   string  `json:"select_by"` // cider or loss
	Value      float64 `json:"value"`     // its validation CIDEr-D (pycocoevalcap's scale) or loss
	Step       int     `json:"step"`
	Epoch      int     `json:"epoch"`  // 1-based
	Epochs     int     `json:"epochs"` // planned
	Checkpoint string  `json:"checkpoint"`
}

// String says which epoch the model is and its score, e.g. "epoch 2 of 5, best validation CIDEr-D 41.2".
func (b BestInfo) String() string {
	if b.SelectBy == SelectCIDEr {
		return fmt.Sprintf("epoch %d of %d, best validation CIDEr-D %s", b.Epoch, b.Epochs, metrics.Percent(b.Value))
	}
	return fmt.Sprintf("epoch %d of %d, best validation loss %.4f", b.Epoch, b.Epochs, b.Value)
}
