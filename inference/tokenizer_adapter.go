package inference

import (
	"github.com/captune/captune/inference/tokenizer"
)

// bertTokenizer adapts the BLIP WordPiece tokenizer to TextTokenizer.
type bertTokenizer struct{ t *tokenizer.Tokenizer }

func loadTokenizer(dir string) (TextTokenizer, error) {
	t, err := tokenizer.Load(dir)
	if err != nil {
		return nil, err
	}
	return bertTokenizer{t}, nil
}

func (b bertTokenizer) EncodeCaption(text string, maxLen int) []int64 {
	ids := b.t.Encode(text, maxLen)
	out := make([]int64, len(ids))
	for i, id := range ids {
		out[i] = int64(id)
	}
	return out
}

func (b bertTokenizer) DecodeCaption(ids []int64) string {
	in := make([]int, len(ids))
	for i, id := range ids {
		in[i] = int(id)
	}
	return b.t.Decode(in, true)
}

func (b bertTokenizer) Save(dir string) error { return b.t.Save(dir) }
