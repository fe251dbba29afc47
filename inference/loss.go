package inference

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/internal/tx"
)

// LossRecipe selects how captions become decoder inputs and labels; see docs/BLIP.md.
type LossRecipe int

const (
	// RecipeBLIP is the original Salesforce BLIP / LAVIS recipe: the first input token is [DEC] (as in
	// generation), pad and prompt tokens are left out of the loss, label smoothing 0.1.
	RecipeBLIP LossRecipe = iota
	// RecipeHF is transformers' BlipForConditionalGeneration.forward with labels = input_ids: the first
	// token stays as tokenized ([CLS]), pads count, label smoothing from text_config.label_smoothing.
	RecipeHF
)

// String names the recipe as the CLI spells it.
func (r LossRecipe) String() string {
	if r == RecipeHF {
		return "hf"
	}
	return "blip"
}

// ParseLossRecipe reads "blip" or "hf".
func ParseLossRecipe(s string) (LossRecipe, error) {
	switch s {
	case "blip", "original", "":
		return RecipeBLIP, nil
	case "hf", "transformers":
		return RecipeHF, nil
	}
	return 0, fmt.Errorf("loss recipe %q: want blip or hf", s)
}

// ignoreIndex marks label positions left out of the loss, as PyTorch's CrossEntropyLoss default.
const ignoreIndex = -100

// DecoderBatch is a batch of tokenized captions prepared for the decoder under a recipe.
type DecoderBatch struct {
	InputIDs  [][]int64 // padded to one length
	Attention [][]int64 // 1 for tokens, 0 for padding
	Labels    [][]int64 // targets before the shift; ignoreIndex where the recipe excludes a token
	Smoothing float64
}

// PrepareBatch pads tokenized captions (each [CLS] ... [SEP], as the tokenizer encodes them) and
// builds inputs and labels under recipe. promptLen is the number of leading tokens of every caption
// that belong to the prompt, counting the first token (1 + prompt tokens; 1 without a prompt).
func (m *Model) PrepareBatch(captions [][]int64, promptLen int, recipe LossRecipe) (DecoderBatch, error) {
	if len(captions) == 0 {
		return DecoderBatch{}, fmt.Errorf("empty batch")
	}
	maxT := 0
	for i, c := range captions {
		if len(c) < 2 {
			return DecoderBatch{}, fmt.Errorf("caption %d has %d tokens, need at least a start and an end token", i, len(c))
		}
		if len(c) > maxT {
			maxT = len(c)
		}
	}
	if int64(maxT) > m.Config.Text.MaxPositionEmbeddings {
		return DecoderBatch{}, fmt.Errorf("caption of %d tokens exceeds the decoder's %d positions", maxT, m.Config.Text.MaxPositionEmbeddings)
	}
	tc := m.Config.Text
	b := DecoderBatch{Smoothing: tc.LabelSmoothing}
	if recipe == RecipeBLIP {
		b.Smoothing = 0.1
	}
	for _, c := range captions {
		in := make([]int64, maxT)
		att := make([]int64, maxT)
		lab := make([]int64, maxT)
		for t := 0; t < maxT; t++ {
			if t < len(c) {
				in[t], att[t], lab[t] = c[t], 1, c[t]
			} else {
				in[t], att[t], lab[t] = tc.PadTokenID, 0, tc.PadTokenID
			}
		}
		if recipe == RecipeBLIP {
			in[0] = tc.BosTokenID
			lab[0] = tc.BosTokenID
			for t := range lab {
				if att[t] == 0 || t < promptLen {
					lab[t] = ignoreIndex
				}
			}
		}
		b.InputIDs = append(b.InputIDs, in)
		b.Attention = append(b.Attention, att)
		b.Labels = append(b.Labels, lab)
	}
	return b, nil
}

func int64Tensor(rows [][]int64, device gotch.Device) (*ts.Tensor, error) {
	flat := make([]int64, 0, len(rows)*len(rows[0]))
	for _, r := range rows {
		flat = append(flat, r...)
	}
	t, err := ts.NewTensorFromData(flat, []int64{int64(len(rows)), int64(len(rows[0]))})
	if err != nil {
		return nil, err
	}
	if device != gotch.CPU {
		return t.MustTo(device, true), nil
	}
	return t, nil
}

// Loss returns the mean cross-entropy of the batch's next-token predictions (a scalar tensor that
// keeps its autograd graph): logits at positions 0..T-2 against labels at 1..T-1, shifted once.
func (m *Model) Loss(pixels *ts.Tensor, batch DecoderBatch) (*ts.Tensor, error) {
	s := tx.NewScope()
	defer s.Free()
	return m.decoderLoss(s, m.encode(s, pixels), batch), nil
}

// LossFromImageEmbeds is Loss on image tokens the vision encoder has already made: image [B, N, C]
// on m.Device is its last_hidden_state after post_layernorm, what EncodeImage returns and the
// decoder's cross-attention reads. Training with a frozen encoder uses it to encode each image once
// per run rather than once per epoch; the result is Loss's for the same pixels.
func (m *Model) LossFromImageEmbeds(image *ts.Tensor, batch DecoderBatch) (*ts.Tensor, error) {
	s := tx.NewScope()
	defer s.Free()
	return m.decoderLoss(s, W(image), batch), nil
}

// decoderLoss is the loss of the text decoder against image tokens img, handed to gotch.
func (m *Model) decoderLoss(s *tx.Scope, img T, batch DecoderBatch) *ts.Tensor {
	defer m.lowPrecision()()
	ids, att := idsTensor(s, batch.InputIDs, m.Device), idsTensor(s, batch.Attention, m.Device)
	logits := toFloat32(s, m.Text.Forward(s, ids, &att, img, m.Device))
	labels := idsTensor(s, batch.Labels, m.Device)
	t, v := logits.Shape()[1], m.Config.Text.VocabSize
	shifted := reshape(s, narrow(s, logits, 1, 0, t-1), -1, v)
	target := reshape(s, narrow(s, labels, 1, 1, t-1), -1)
	return s.Keep(crossEntropy(s, shifted, target, ignoreIndex, batch.Smoothing)).TS()
}
