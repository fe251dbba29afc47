package ui

import (
	"cmp"
	"slices"

	"github.com/captune/captune/annotate"

	"fyne.io/fyne/v2"
)

// Preference keys. Fyne stores them per application ID (io.captune.app) in the user's config folder.
const (
	prefLastFolder     = "lastFolder"
	prefRecentFolders  = "recentFolders"
	prefRecentModels   = "recentModels"
	prefModel          = "model"
	prefDevice         = "device"
	prefLastRun        = "lastRun"
	prefGenBeams       = "gen.beams"
	prefGenMin         = "gen.minLength"
	prefGenMax         = "gen.maxLength"
	prefGenPrompt      = "gen.prompt"
	prefGenSample      = "gen.sample"
	prefGenTopP        = "gen.topP"
	prefGenTemp        = "gen.temperature"
	prefGenRepetition  = "gen.repetitionPenalty"
	prefGenExisting    = "gen.existing"
	prefGenTypedOnly   = "gen.typedOnly" // set once beams, lengths and repetition are stored only when typed
	prefTrainEpochs    = "train.epochs"
	prefTrainLR        = "train.lr"
	prefTrainBatch     = "train.batch"
	prefTrainFreeze    = "train.freezeVision"
	prefTrainPrecision = "train.precision"
	prefTrainCaptions  = "train.captions"
	prefTrainHoldout   = "train.holdout"
	prefTrainMethod    = "train.method"
	prefTrainLoraRank  = "train.loraRank"
	prefExportFormat   = "export.format"
	prefExportOut      = "export.out"
)

// LastFolder returns the dataset folder the window showed last, or "".
func LastFolder(p fyne.Preferences) string { return p.String(prefLastFolder) }

// maxRecent bounds the recent folder and model lists.
const maxRecent = 8

// trainDefaults are the Fine-tune panel's initial values (finetune.DefaultConfig's).
type trainDefaults struct {
	Epochs       int
	LR           float64
	Batch        int
	FreezeVision bool
	Captions     annotate.TrainingCaptions
	Holdout      annotate.Holdout
	Method       string // MethodFull or MethodLora
	LoraRank     int
}

func defaultTraining() trainDefaults {
	return trainDefaults{Epochs: 5, LR: 2e-5, Batch: 8, Captions: annotate.TrainTrusted, Holdout: annotate.HoldoutAuto,
		Method: MethodFull, LoraRank: 16}
}

func loadGeneration(p fyne.Preferences) GenerationSettings {
	d := DefaultGeneration()
	return GenerationSettings{
		Beams:             p.IntWithFallback(prefGenBeams, d.Beams),
		MinLength:         p.IntWithFallback(prefGenMin, d.MinLength),
		MaxLength:         p.IntWithFallback(prefGenMax, d.MaxLength),
		Prompt:            p.StringWithFallback(prefGenPrompt, d.Prompt),
		Sample:            p.BoolWithFallback(prefGenSample, d.Sample),
		TopP:              p.FloatWithFallback(prefGenTopP, d.TopP),
		Temperature:       p.FloatWithFallback(prefGenTemp, d.Temperature),
		RepetitionPenalty: p.FloatWithFallback(prefGenRepetition, d.RepetitionPenalty),
	}
}

// chosenGeneration lists the preference keys of the Generation numbers the user typed in an
// earlier session (beams, min and max length, repetition penalty); the others follow the model's
// generation_config.json. Versions before gen.typedOnly stored every value: there a value equal
// to the built-in default is taken for one the user never typed.
func chosenGeneration(p fyne.Preferences) map[string]bool {
	d := DefaultGeneration()
	typedOnly := p.Bool(prefGenTypedOnly)
	intSet := func(key string, def int) bool {
		v := p.IntWithFallback(key, -1)
		return v >= 0 && (typedOnly || v != def)
	}
	rep := p.FloatWithFallback(prefGenRepetition, -1)
	return map[string]bool{
		prefGenBeams:      intSet(prefGenBeams, d.Beams),
		prefGenMin:        intSet(prefGenMin, d.MinLength),
		prefGenMax:        intSet(prefGenMax, d.MaxLength),
		prefGenRepetition: rep >= 0 && (typedOnly || rep != d.RepetitionPenalty),
	}
}

// saveGeneration stores the Generation panel's settings; of the numbers a model can advise, only
// those the user typed (chosen), so that one model's values do not stick to the next model.
func saveGeneration(p fyne.Preferences, g GenerationSettings, chosen map[string]bool) {
	saveTyped(p, chosen, map[string]func(){
		prefGenBeams:      func() { p.SetInt(prefGenBeams, g.Beams) },
		prefGenMin:        func() { p.SetInt(prefGenMin, g.MinLength) },
		prefGenMax:        func() { p.SetInt(prefGenMax, g.MaxLength) },
		prefGenRepetition: func() { p.SetFloat(prefGenRepetition, g.RepetitionPenalty) },
	})
	p.SetBool(prefGenTypedOnly, true)
	p.SetString(prefGenPrompt, g.Prompt)
	p.SetBool(prefGenSample, g.Sample)
	p.SetFloat(prefGenTopP, g.TopP)
	p.SetFloat(prefGenTemp, g.Temperature)
}

func loadTraining(p fyne.Preferences) trainDefaults {
	d := defaultTraining()
	return trainDefaults{
		Epochs:       p.IntWithFallback(prefTrainEpochs, d.Epochs),
		LR:           p.FloatWithFallback(prefTrainLR, d.LR),
		Batch:        p.IntWithFallback(prefTrainBatch, d.Batch),
		FreezeVision: p.BoolWithFallback(prefTrainFreeze, d.FreezeVision),
		Captions:     annotate.TrainingCaptions(p.StringWithFallback(prefTrainCaptions, string(d.Captions))),
		Holdout:      annotate.Holdout(p.StringWithFallback(prefTrainHoldout, string(d.Holdout))),
		Method:       p.StringWithFallback(prefTrainMethod, d.Method),
		LoraRank:     p.IntWithFallback(prefTrainLoraRank, d.LoraRank),
	}
}

// chosenTraining lists the preference keys of the numbers the user typed in an earlier session
// (epochs, learning rate, batch size); the others follow the base model's advice.
func chosenTraining(p fyne.Preferences) map[string]bool {
	return map[string]bool{
		prefTrainEpochs: p.IntWithFallback(prefTrainEpochs, -1) >= 0,
		prefTrainLR:     p.FloatWithFallback(prefTrainLR, -1) >= 0,
		prefTrainBatch:  p.IntWithFallback(prefTrainBatch, -1) >= 0,
	}
}

// saveTraining stores the panel's settings; of the numbers, only those the user typed (chosen),
// so that a value filled in from one base model's advice does not stick to the next model.
func saveTraining(p fyne.Preferences, t trainDefaults, chosen map[string]bool) {
	saveTyped(p, chosen, map[string]func(){
		prefTrainEpochs: func() { p.SetInt(prefTrainEpochs, t.Epochs) },
		prefTrainLR:     func() { p.SetFloat(prefTrainLR, t.LR) },
		prefTrainBatch:  func() { p.SetInt(prefTrainBatch, t.Batch) },
	})
	p.SetBool(prefTrainFreeze, t.FreezeVision)
	p.SetString(prefTrainCaptions, string(t.Captions))
	p.SetString(prefTrainHoldout, string(t.Holdout))
	p.SetString(prefTrainMethod, cmp.Or(t.Method, MethodFull))
	if t.LoraRank > 0 {
		p.SetInt(prefTrainLoraRank, t.LoraRank)
	}
}

// pushRecent puts v first in the list stored under key, without duplicates, keeping maxRecent.
func pushRecent(p fyne.Preferences, key, v string) []string {
	list := slices.DeleteFunc(slices.Clone(p.StringList(key)), func(s string) bool { return s == v || s == "" })
	list = append([]string{v}, list...)
	if len(list) > maxRecent {
		list = list[:maxRecent]
	}
	p.SetStringList(key, list)
	return list
}
