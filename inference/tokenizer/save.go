package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/captune/captune/internal/atomicfile"
)

// Save writes the tokenizer into dir in Hugging Face's layout: tokenizer.json, vocab.txt,
// tokenizer_config.json and special_tokens_map.json (and added_tokens.json when the source had
// one). Files that were loaded are written back byte for byte; the others are generated as
// transformers' save_pretrained would write them, so a folder loaded from vocab.txt alone gains
// a tokenizer.json. dir is created if needed.
func (t *Tokenizer) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save tokenizer: %w", err)
	}
	gens := []struct {
		name string
		gen  func() ([]byte, error)
	}{
		{TokenizerJSON, t.tokenizerJSON},
		{VocabTxt, t.vocabTxt},
		{TokenizerConfig, t.tokenizerConfigJSON},
		{SpecialTokensMap, t.specialTokensMapJSON},
		{AddedTokensJSON, nil},
	}
	for _, g := range gens {
		b := t.files[g.name]
		if b == nil && g.gen != nil {
			var err error
			if b, err = g.gen(); err != nil {
				return fmt.Errorf("save tokenizer %s: %w", filepath.Join(dir, g.name), err)
			}
		}
		if b == nil {
			continue
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, g.name), b, 0o644); err != nil {
			return fmt.Errorf("save tokenizer: %w", err)
		}
	}
	return nil
}

// vocabTokens lists the WordPiece vocabulary by id; it must be 0..n-1 to be a vocab.txt.
func (t *Tokenizer) vocabTokens() ([]string, error) {
	toks := make([]string, len(t.vocabByID))
	for id, tok := range t.vocabByID {
		if id >= len(toks) {
			return nil, fmt.Errorf("vocabulary ids are not 0..%d: id %d of %q", len(toks)-1, id, tok)
		}
		toks[id] = tok
	}
	return toks, nil
}

func (t *Tokenizer) vocabTxt() ([]byte, error) {
	toks, err := t.vocabTokens()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for _, tok := range toks {
		b.WriteString(tok)
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// orderedVocab marshals as a JSON object in id order, as tokenizers writes it.
type orderedVocab []string

func (v orderedVocab) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for id, tok := range v {
		if id > 0 {
			b.WriteByte(',')
		}
		k, err := marshalNoEscape(tok)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(id))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshalNoEscape is json.Marshal without HTML escaping, which tokenizers does not do either.
func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

func marshalIndentNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

type addedTokenOut struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

func (t *Tokenizer) addedSorted() []addedTokenOut {
	out := make([]addedTokenOut, 0, len(t.addedByID))
	for id, a := range t.addedByID {
		out = append(out, addedTokenOut{ID: id, Content: a.Content, SingleWord: a.SingleWord, LStrip: a.LStrip,
			RStrip: a.RStrip, Normalized: a.Normalized, Special: t.special[a.Content]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// tokenizerJSON writes the tokenizer as tokenizers' serialization.rs does for a BERT tokenizer.
func (t *Tokenizer) tokenizerJSON() ([]byte, error) {
	toks, err := t.vocabTokens()
	if err != nil {
		return nil, err
	}
	type special struct {
		ID  string `json:"id"`
		IDs []int  `json:"ids"`
		// Tokens are the token strings of IDs.
		Tokens []string `json:"tokens"`
	}
	specials := map[string]special{}
	piece := func(ids []int, typeID int) ([]map[string]any, error) {
		var out []map[string]any
		for _, id := range ids {
			name, ok := t.Token(id)
			if !ok {
				return nil, fmt.Errorf("post-processor id %d is not in the vocabulary", id)
			}
			specials[name] = special{ID: name, IDs: []int{id}, Tokens: []string{name}}
			out = append(out, map[string]any{"SpecialToken": map[string]any{"id": name, "type_id": typeID}})
		}
		return out, nil
	}
	seq := func(id string, typeID int) map[string]any {
		return map[string]any{"Sequence": map[string]any{"id": id, "type_id": typeID}}
	}
	pre, err := piece(t.prefixIDs, 0)
	if err != nil {
		return nil, err
	}
	suf, err := piece(t.suffixIDs, 0)
	if err != nil {
		return nil, err
	}
	sufB, _ := piece(t.suffixIDs, 1)
	single := append(append(append([]map[string]any{}, pre...), seq("A", 0)), suf...)
	pair := append(append(append(append([]map[string]any{}, pre...), seq("A", 0)), suf...), seq("B", 1))
	pair = append(pair, sufB...)

	var dec any
	if t.decoder != nil {
		dec = map[string]any{"type": "WordPiece", "prefix": t.decoderPrefix, "cleanup": t.decoderCleanup}
	}
	doc := struct {
		Version       string          `json:"version"`
		Truncation    any             `json:"truncation"`
		Padding       any             `json:"padding"`
		AddedTokens   []addedTokenOut `json:"added_tokens"`
		Normalizer    map[string]any  `json:"normalizer"`
		PreTokenizer  map[string]any  `json:"pre_tokenizer"`
		PostProcessor map[string]any  `json:"post_processor"`
		Decoder       any             `json:"decoder"`
		Model         struct {
			Type                    string       `json:"type"`
			UnkToken                string       `json:"unk_token"`
			ContinuingSubwordPrefix string       `json:"continuing_subword_prefix"`
			MaxInputCharsPerWord    int          `json:"max_input_chars_per_word"`
			Vocab                   orderedVocab `json:"vocab"`
		} `json:"model"`
	}{
		Version:     "1.0",
		AddedTokens: t.addedSorted(),
		Normalizer: map[string]any{"type": "BertNormalizer", "clean_text": t.normalizer.cleanText,
			"handle_chinese_chars": t.normalizer.chineseChars, "strip_accents": t.normalizer.stripAccents,
			"lowercase": t.normalizer.lowercase},
		PreTokenizer: map[string]any{"type": "BertPreTokenizer"},
		PostProcessor: map[string]any{"type": "TemplateProcessing", "single": single, "pair": pair,
			"special_tokens": specials},
		Decoder: dec,
	}
	doc.Model.Type = "WordPiece"
	doc.Model.UnkToken = t.unkToken
	doc.Model.ContinuingSubwordPrefix = t.subwordPrefix
	doc.Model.MaxInputCharsPerWord = t.maxWordChars
	doc.Model.Vocab = toks
	return marshalIndentNoEscape(doc)
}

// specialValue is how transformers writes a special token in the two config files: a plain
// string unless it has non-default options.
func specialValue(a *addedToken) any {
	if a == nil {
		return nil
	}
	if !a.SingleWord && !a.LStrip && !a.RStrip && !a.Normalized {
		return a.Content
	}
	return map[string]any{"content": a.Content, "single_word": a.SingleWord, "lstrip": a.LStrip,
		"rstrip": a.RStrip, "normalized": a.Normalized}
}

func (t *Tokenizer) specialFields(m map[string]any) {
	s := t.specials
	for _, f := range []struct {
		key string
		tok *addedToken
	}{{"bos_token", s.BOS}, {"eos_token", s.EOS}, {"unk_token", s.UNK}, {"sep_token", s.SEP},
		{"pad_token", s.PAD}, {"cls_token", s.CLS}, {"mask_token", s.Mask}} {
		if f.tok != nil {
			m[f.key] = specialValue(f.tok)
		}
	}
	if len(s.Additional) > 0 {
		var add []any
		for i := range s.Additional {
			add = append(add, specialValue(&s.Additional[i]))
		}
		m["additional_special_tokens"] = add
	}
}

// tokenizerConfigJSON writes tokenizer_config.json as BertTokenizerFast.save_pretrained does.
func (t *Tokenizer) tokenizerConfigJSON() ([]byte, error) {
	m := map[string]any{
		"clean_up_tokenization_spaces": t.cleanUpSpaces,
		"do_basic_tokenize":            true,
		"do_lower_case":                t.normalizer.lowercase,
		"never_split":                  nil,
		"strip_accents":                t.normalizer.stripAccents,
		"tokenize_chinese_chars":       t.normalizer.chineseChars,
		"tokenizer_class":              "BertTokenizer",
		// transformers writes int(1e30) for "no limit".
		"model_max_length": json.Number("1000000000000000019884624838656"),
	}
	if t.ModelMaxLength > 0 {
		m["model_max_length"] = t.ModelMaxLength
	}
	if t.truncLeft {
		m["truncation_side"] = "left"
	}
	dec := map[string]any{}
	for _, a := range t.addedSorted() {
		dec[strconv.Itoa(a.ID)] = map[string]any{"content": a.Content, "lstrip": a.LStrip,
			"normalized": a.Normalized, "rstrip": a.RStrip, "single_word": a.SingleWord, "special": a.Special}
	}
	m["added_tokens_decoder"] = dec
	t.specialFields(m)
	return marshalIndentNoEscape(m)
}

func (t *Tokenizer) specialTokensMapJSON() ([]byte, error) {
	m := map[string]any{}
	t.specialFields(m)
	return marshalIndentNoEscape(m)
}
