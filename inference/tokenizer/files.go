package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The file names of a Hugging Face tokenizer folder.
const (
	TokenizerJSON     = "tokenizer.json"
	VocabTxt          = "vocab.txt"
	TokenizerConfig   = "tokenizer_config.json"
	SpecialTokensMap  = "special_tokens_map.json"
	AddedTokensJSON   = "added_tokens.json"
	maxTokenizerBytes = 256 << 20 // far above BERT's 700 kB tokenizer.json; refuses absurd files
)

// tokenizerFile is the part of tokenizer.json (tokenizers' serialization.rs) a BERT WordPiece
// tokenizer uses. Unknown fields are ignored, as tokenizers does.
type tokenizerFile struct {
	Version       string           `json:"version"`
	AddedTokens   []addedTokenJSON `json:"added_tokens"`
	Normalizer    json.RawMessage  `json:"normalizer"`
	PreTokenizer  json.RawMessage  `json:"pre_tokenizer"`
	PostProcessor json.RawMessage  `json:"post_processor"`
	Decoder       json.RawMessage  `json:"decoder"`
	Model         json.RawMessage  `json:"model"`
}

// addedTokenJSON is one added token as tokenizer.json and tokenizer_config.json's
// added_tokens_decoder write it. Normalized defaults to !special, as in both libraries.
type addedTokenJSON struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized *bool  `json:"normalized"`
	Special    bool   `json:"special"`
}

func (a addedTokenJSON) token() addedToken {
	t := addedToken{Content: a.Content, SingleWord: a.SingleWord, LStrip: a.LStrip, RStrip: a.RStrip,
		Normalized: !a.Special, Special: a.Special}
	if a.Normalized != nil {
		t.Normalized = *a.Normalized
	}
	return t
}

type typed struct {
	Type string `json:"type"`
}

// normalizerJSON is a BertNormalizer; missing fields take tokenizers' serde defaults.
type normalizerJSON struct {
	Type               string `json:"type"`
	CleanText          *bool  `json:"clean_text"`
	HandleChineseChars *bool  `json:"handle_chinese_chars"`
	StripAccents       *bool  `json:"strip_accents"`
	Lowercase          *bool  `json:"lowercase"`
}

type modelJSON struct {
	Type                    string         `json:"type"`
	UnkToken                *string        `json:"unk_token"`
	ContinuingSubwordPrefix *string        `json:"continuing_subword_prefix"`
	MaxInputCharsPerWord    *int           `json:"max_input_chars_per_word"`
	Vocab                   map[string]int `json:"vocab"`
}

type decoderJSON struct {
	Type    string  `json:"type"`
	Prefix  *string `json:"prefix"`
	Cleanup *bool   `json:"cleanup"`
}

// templatePiece is one element of TemplateProcessing's "single" list.
type templatePiece struct {
	SpecialToken *struct {
		ID string `json:"id"`
	} `json:"SpecialToken"`
	Sequence *struct {
		ID string `json:"id"`
	} `json:"Sequence"`
}

type postProcessorJSON struct {
	Type          string          `json:"type"`
	Single        []templatePiece `json:"single"`
	SpecialTokens map[string]struct {
		IDs []int `json:"ids"`
	} `json:"special_tokens"`
	// BertProcessing and RobertaProcessing write [token, id] pairs.
	Sep []json.RawMessage `json:"sep"`
	Cls []json.RawMessage `json:"cls"`
}

// tokenizerConfig is the part of tokenizer_config.json that changes what BertTokenizerFast does.
type tokenizerConfig struct {
	DoLowerCase          *bool                     `json:"do_lower_case"`
	StripAccents         *bool                     `json:"strip_accents"`
	TokenizeChineseChars *bool                     `json:"tokenize_chinese_chars"`
	ModelMaxLength       *float64                  `json:"model_max_length"`
	TruncationSide       string                    `json:"truncation_side"`
	CleanUpSpaces        *bool                     `json:"clean_up_tokenization_spaces"`
	AddedTokensDecoder   map[string]addedTokenJSON `json:"added_tokens_decoder"`
	specialTokenFields
}

// specialTokenFields are the special-token attributes, in transformers' SPECIAL_TOKENS_ATTRIBUTES
// order, as both tokenizer_config.json and special_tokens_map.json write them: a string, an
// AddedToken object, or null.
type specialTokenFields struct {
	BOS        json.RawMessage `json:"bos_token"`
	EOS        json.RawMessage `json:"eos_token"`
	UNK        json.RawMessage `json:"unk_token"`
	SEP        json.RawMessage `json:"sep_token"`
	PAD        json.RawMessage `json:"pad_token"`
	CLS        json.RawMessage `json:"cls_token"`
	Mask       json.RawMessage `json:"mask_token"`
	Additional json.RawMessage `json:"additional_special_tokens"`
}

// specialTokens holds the names of the special tokens after all files are read.
type specialTokens struct {
	BOS, EOS, UNK, SEP, PAD, CLS, Mask *addedToken
	Additional                         []addedToken
}

// ordered lists the special tokens as transformers' all_special_tokens_extended does.
func (s specialTokens) ordered() []addedToken {
	var out []addedToken
	for _, t := range []*addedToken{s.BOS, s.EOS, s.UNK, s.SEP, s.PAD, s.CLS, s.Mask} {
		if t != nil {
			out = append(out, *t)
		}
	}
	for _, t := range s.Additional {
		if !containsContent(out, t.Content) {
			out = append(out, t)
		}
	}
	return out
}

func containsContent(ts []addedToken, content string) bool {
	for _, t := range ts {
		if t.Content == content {
			return true
		}
	}
	return false
}

// parseSpecial reads one special-token value: a string or an AddedToken object. Special tokens
// given as strings become non-normalized special tokens, as transformers makes them.
func parseSpecial(raw json.RawMessage) (*addedToken, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return &addedToken{Content: s, Special: true}, nil
	}
	var a addedTokenJSON
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("neither a string nor a token object: %w", err)
	}
	a.Special = true
	t := a.token()
	return &t, nil
}

func parseSpecialList(raw json.RawMessage) ([]addedToken, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("not a list: %w", err)
	}
	var out []addedToken
	for i, item := range items {
		t, err := parseSpecial(item)
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		if t != nil {
			out = append(out, *t)
		}
	}
	return out, nil
}

// merge sets, from one file's fields, every special token that file names. override says whether
// a name already set is replaced (special_tokens_map.json over tokenizer_config.json), and extra
// additional tokens are appended.
func (s *specialTokens) merge(f specialTokenFields, override bool) error {
	for _, field := range []struct {
		name string
		raw  json.RawMessage
		dst  **addedToken
	}{
		{"bos_token", f.BOS, &s.BOS}, {"eos_token", f.EOS, &s.EOS}, {"unk_token", f.UNK, &s.UNK},
		{"sep_token", f.SEP, &s.SEP}, {"pad_token", f.PAD, &s.PAD}, {"cls_token", f.CLS, &s.CLS},
		{"mask_token", f.Mask, &s.Mask},
	} {
		t, err := parseSpecial(field.raw)
		if err != nil {
			return fmt.Errorf("%s: %w", field.name, err)
		}
		if t != nil && (override || *field.dst == nil) {
			*field.dst = t
		}
	}
	extra, err := parseSpecialList(f.Additional)
	if err != nil {
		return fmt.Errorf("additional_special_tokens: %w", err)
	}
	for _, t := range extra {
		if !containsContent(s.Additional, t.Content) {
			s.Additional = append(s.Additional, t)
		}
	}
	return nil
}

// readOptional returns a file's bytes, or nil when it does not exist.
func readOptional(dir, name string) ([]byte, error) {
	p := filepath.Join(dir, name)
	info, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", p, err)
	}
	if info.IsDir() {
		return nil, fmt.Errorf("%s is a folder, want a file", p)
	}
	if info.Size() > maxTokenizerBytes {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d a tokenizer file may have", p, info.Size(), maxTokenizerBytes)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return b, nil
}

// decodeJSON unmarshals one file's JSON, naming the file in the error.
func decodeJSON(name string, b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("parse %s: %w", name, err)
	}
	return nil
}

// parseVocabTxt reads vocab.txt as transformers' load_vocab does: universal newlines, one token
// per line, id = line number, a later duplicate taking the token over.
func parseVocabTxt(b []byte) (map[string]int, []string, error) {
	if !utf8.Valid(b) {
		return nil, nil, errors.New("not valid UTF-8")
	}
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	text = strings.TrimSuffix(text, "\n")
	if text == "" {
		return nil, nil, errors.New("no tokens")
	}
	lines := strings.Split(text, "\n")
	vocab := make(map[string]int, len(lines))
	for i, tok := range lines {
		vocab[tok] = i
	}
	return vocab, lines, nil
}

// modelMaxLength turns tokenizer_config's model_max_length into an int; transformers writes
// 1e30 for "no limit", which becomes 0.
func modelMaxLength(v *float64) int {
	if v == nil || *v <= 0 || *v > math.MaxInt32 || *v != math.Trunc(*v) {
		return 0
	}
	return int(*v)
}

// sortedDecoder returns added_tokens_decoder's entries by id, as transformers adds them.
func sortedDecoder(m map[string]addedTokenJSON) ([]addedToken, error) {
	type entry struct {
		id  int
		tok addedToken
	}
	var es []entry
	for k, v := range m {
		id, err := strconv.Atoi(k)
		if err != nil || id < 0 {
			return nil, fmt.Errorf("added_tokens_decoder: key %q is not a token id", k)
		}
		if v.Content == "" {
			return nil, fmt.Errorf("added_tokens_decoder: token %d has no content", id)
		}
		es = append(es, entry{id, v.token()})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].id < es[j].id })
	out := make([]addedToken, len(es))
	for i, e := range es {
		out[i] = e.tok
	}
	return out, nil
}

// isNull reports whether a raw JSON value is absent or null.
func isNull(raw json.RawMessage) bool {
	return len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// pairID reads the id of a BertProcessing ["[CLS]", 101] pair.
func pairID(pair []json.RawMessage) (int, error) {
	if len(pair) != 2 {
		return 0, fmt.Errorf("want [token, id], got %d items", len(pair))
	}
	var id int
	if err := json.Unmarshal(pair[1], &id); err != nil || id < 0 {
		return 0, fmt.Errorf("id %s is not a token id", pair[1])
	}
	return id, nil
}
