package app

import (
	"testing"
)

// The window's Generation panel hears what a model folder's generation_config.json sets, read
// without loading the weights: the bundled model sets min length 1 and nothing else.
func TestGenerationAdvice(t *testing.T) {
	adv, ok := generationAdvice("../assets/model")
	if !ok || adv.MinLength == nil || *adv.MinLength != 1 {
		t.Fatalf("bundled model: advice %+v (%v), want min length 1", adv, ok)
	}
	if adv.MaxLength != nil || adv.Beams != nil || adv.RepetitionPenalty != nil {
		t.Errorf("bundled model: advice %+v, want nothing but the min length", adv)
	}
	if adv, ok := generationAdvice(t.TempDir()); ok {
		t.Errorf("folder without generation_config.json: advice %+v, want none", adv)
	}
}
