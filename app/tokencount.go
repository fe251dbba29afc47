package app

import (
	"strings"
	"sync"

	"github.com/captune/captune/inference/tokenizer"
)

// tokenCounter counts captions' tokens for the caption editor with a model folder's tokenizer,
// loading only the tokenizer files, once per folder: the editor counts on every image it shows.
type tokenCounter struct {
	mu   sync.Mutex
	toks map[string]*tokenizer.Tokenizer // nil for a folder without a readable tokenizer
}

// Count returns the tokens of text as fine-tuning encodes it, with the start and end tokens; 0 when
// modelDir has no tokenizer.
func (c *tokenCounter) Count(modelDir, text string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	tok, ok := c.toks[modelDir]
	if !ok {
		tok, _ = tokenizer.Load(modelDir) // no tokenizer: no count, the editor shows none
		if c.toks == nil {
			c.toks = map[string]*tokenizer.Tokenizer{}
		}
		c.toks[modelDir] = tok
	}
	if tok == nil {
		return 0
	}
	return len(tok.Encode(strings.TrimSpace(text), 0))
}
