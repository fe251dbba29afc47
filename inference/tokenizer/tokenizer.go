// Package tokenizer holds BLIP's text tokenizer: BERT-uncased WordPiece with BLIP's [DEC] and
// [ENC] tokens, giving the same ids and decoded text as transformers' BertTokenizerFast.
//
// Load reads a Hugging Face tokenizer folder: tokenizer.json when present, otherwise vocab.txt
// with tokenizer_config.json and special_tokens_map.json (transformers converts those to the same
// fast tokenizer, and so does Load). Every id comes from the files. Save writes the folder back in
// the same layout, so a fine-tuned model stays loadable by transformers.
//
// The WordPiece model and its decoder are github.com/sugarme/tokenizer's. The rest of the
// pipeline is written here to match Hugging Face's Rust code where sugarme v0.3.0 does not:
//   - normalisation: HF strips accents when strip_accents is null and lowercase is true (BLIP's
//     setting; sugarme keeps them, so Café becomes [UNK]), turns every Unicode space into ' '
//     (sugarme leaves "a\u00a0dog" one unknown word), and classifies control characters,
//     non-spacing marks and punctuation with the older tables of the unicode_categories crate
//     (unicode_tables.go holds them, measured from HF);
//   - special tokens typed in the text ("a [SEP] b") are split out leftmost-longest, as HF's
//     Aho-Corasick matcher does (sugarme re-sorts its matches by pattern, and of "a [SEP] dog
//     [CLS] cat" keeps only [CLS] whole);
//   - added tokens get the ids HF gives them, and tokenizer_config.json's do_lower_case,
//     strip_accents and tokenize_chinese_chars override tokenizer.json as BertTokenizerFast does;
//   - reading never panics or exits on a malformed file (sugarme's loader uses type assertions and
//     log.Fatal).
package tokenizer

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/sugarme/tokenizer/decoder"
	"github.com/sugarme/tokenizer/model"
	"github.com/sugarme/tokenizer/model/wordpiece"
)

// Tokenizer encodes captions to BLIP token ids and decodes generated ids back to text. It is
// safe for concurrent use once loaded.
type Tokenizer struct {
	// PadID is pad_token's id ([PAD]); -1 when the files name none.
	PadID int
	// UNKID is unk_token's id ([UNK]), which words outside the vocabulary become.
	UNKID int
	// CLSID is cls_token's id ([CLS]), which Encode puts first; -1 when none.
	CLSID int
	// SEPID is sep_token's id ([SEP]), which ends every encoding and stops generation; -1 when none.
	SEPID int
	// MaskID is mask_token's id ([MASK]); -1 when none.
	MaskID int
	// BOSID is bos_token's id ([DEC]), the first decoder input in BLIP; -1 when the files name no
	// bos_token and have no [DEC] token (the model's config.json bos_token_id then decides).
	BOSID int
	// ENCID is the id of [ENC], BLIP's additional special token for the text encoder; -1 when absent.
	ENCID int
	// ModelMaxLength is tokenizer_config.json's model_max_length; 0 when absent or unlimited.
	ModelMaxLength int

	model         wordpiece.WordPiece
	vocab         map[string]int // the WordPiece vocabulary, without added tokens
	vocabByID     map[int]string
	unkToken      string
	subwordPrefix string
	maxWordChars  int

	added      map[string]int // added tokens by content
	addedByID  map[int]addedToken
	addedOrder []int // ids in the order HF builds its matchers: special tokens first
	special    map[string]bool
	raw, norm  []pattern // added tokens matched before and after normalisation

	normalizer bertNormalizer
	prefixIDs  []int // what the post-processor puts before the tokens ([CLS])
	suffixIDs  []int // and after them ([SEP])
	truncLeft  bool

	decoder        *decoder.WordPieceDecoder // nil: tokens are joined with spaces
	decoderPrefix  string                    // the decoder's settings, which sugarme's type keeps private
	decoderCleanup bool
	cleanUpSpaces  bool

	specials specialTokens
	files    map[string][]byte // the files as read, written back unchanged by Save
}

// addedToken is a token added on top of the WordPiece vocabulary, with HF's matching options.
type addedToken struct {
	Content    string
	SingleWord bool
	LStrip     bool
	RStrip     bool
	Normalized bool
	Special    bool
}

// pattern is one added token to find in text.
type pattern struct {
	text string
	id   int
	tok  addedToken
}

// ErrNoTokenizer is returned by Load for a folder with neither tokenizer.json nor vocab.txt.
var ErrNoTokenizer = errors.New("no tokenizer.json or vocab.txt")

// Load reads the tokenizer in dir: tokenizer.json if present, else vocab.txt, with
// tokenizer_config.json, special_tokens_map.json and added_tokens.json when present, following
// transformers' BertTokenizerFast.from_pretrained.
func Load(dir string) (*Tokenizer, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("open tokenizer: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("open tokenizer %s: not a folder", dir)
	}
	files := map[string][]byte{}
	for _, name := range []string{TokenizerJSON, VocabTxt, TokenizerConfig, SpecialTokensMap, AddedTokensJSON} {
		b, err := readOptional(dir, name)
		if err != nil {
			return nil, fmt.Errorf("load tokenizer: %w", err)
		}
		if b != nil {
			files[name] = b
		}
	}
	t, err := build(files)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %s: %w", dir, err)
	}
	return t, nil
}

// build makes a Tokenizer from the bytes of a tokenizer folder's files.
func build(files map[string][]byte) (*Tokenizer, error) {
	if files[TokenizerJSON] == nil && files[VocabTxt] == nil {
		return nil, ErrNoTokenizer
	}
	var cfg tokenizerConfig
	if b := files[TokenizerConfig]; b != nil {
		if err := decodeJSON(TokenizerConfig, b, &cfg); err != nil {
			return nil, err
		}
	}
	specials, err := readSpecials(cfg, files)
	if err != nil {
		return nil, err
	}
	t := &Tokenizer{
		added: map[string]int{}, addedByID: map[int]addedToken{}, special: map[string]bool{},
		specials: specials, files: files,
	}
	if b := files[TokenizerJSON]; b != nil {
		err = t.fromTokenizerJSON(b)
	} else {
		err = t.fromVocabTxt(files[VocabTxt])
	}
	if err != nil {
		return nil, err
	}
	if err := t.applyConfig(cfg, files); err != nil {
		return nil, err
	}
	return t, t.finish()
}

// readSpecials collects the special-token names as transformers does: tokenizer_config.json, and
// only for folders written before added_tokens_decoder existed, special_tokens_map.json over it.
func readSpecials(cfg tokenizerConfig, files map[string][]byte) (specialTokens, error) {
	var s specialTokens
	if err := s.merge(cfg.specialTokenFields, false); err != nil {
		return s, fmt.Errorf("%s: %w", TokenizerConfig, err)
	}
	if b := files[SpecialTokensMap]; b != nil && cfg.AddedTokensDecoder == nil {
		var m specialTokenFields
		if err := decodeJSON(SpecialTokensMap, b, &m); err != nil {
			return s, err
		}
		if err := s.merge(m, true); err != nil {
			return s, fmt.Errorf("%s: %w", SpecialTokensMap, err)
		}
	}
	// BertTokenizerFast's defaults.
	for _, d := range []struct {
		dst  **addedToken
		name string
	}{{&s.UNK, "[UNK]"}, {&s.SEP, "[SEP]"}, {&s.PAD, "[PAD]"}, {&s.CLS, "[CLS]"}, {&s.Mask, "[MASK]"}} {
		if *d.dst == nil {
			*d.dst = &addedToken{Content: d.name, Special: true}
		}
	}
	return s, nil
}

func (t *Tokenizer) setModel(vocab map[string]int, unk, prefix string, maxChars int) error {
	if len(vocab) == 0 {
		return errors.New("empty vocabulary")
	}
	byID := make(map[int]string, len(vocab))
	for tok, id := range vocab {
		if id < 0 {
			return fmt.Errorf("vocabulary: token %q has negative id %d", tok, id)
		}
		byID[id] = tok
	}
	if _, ok := vocab[unk]; !ok {
		return fmt.Errorf("vocabulary has no unk token %q", unk)
	}
	if maxChars <= 0 {
		return fmt.Errorf("max_input_chars_per_word %d is not positive", maxChars)
	}
	t.vocab, t.vocabByID = vocab, byID
	t.unkToken, t.subwordPrefix, t.maxWordChars = unk, prefix, maxChars
	mv := model.Vocab(vocab)
	t.model = wordpiece.NewWordPieceBuilder().Vocab(&mv).UnkToken(unk).
		ContinuingSubwordPrefix(prefix).MaxInputCharsPerWord(maxChars).Build()
	return nil
}

// fromTokenizerJSON sets the model, normaliser, post-processor, decoder and added tokens from
// tokenizer.json. Only the parts a BERT WordPiece tokenizer uses are accepted.
func (t *Tokenizer) fromTokenizerJSON(b []byte) error {
	var f tokenizerFile
	if err := decodeJSON(TokenizerJSON, b, &f); err != nil {
		return err
	}
	if f.Version != "" && f.Version != "1.0" {
		return fmt.Errorf("%s: unknown version %q", TokenizerJSON, f.Version)
	}
	if err := t.modelFromJSON(f.Model); err != nil {
		return err
	}
	if err := t.normalizerFromJSON(f.Normalizer); err != nil {
		return err
	}
	if err := checkPreTokenizerJSON(f.PreTokenizer); err != nil {
		return err
	}
	if err := t.decoderFromJSON(f.Decoder); err != nil {
		return err
	}
	// Added tokens go in in file order, each getting the id HF's add_tokens gives it.
	for i, a := range f.AddedTokens {
		if a.Content == "" {
			return fmt.Errorf("%s: added token %d has no content", TokenizerJSON, i)
		}
		t.addToken(a.token())
	}
	return t.postProcessorFromJSON(f.PostProcessor)
}

// modelFromJSON sets the WordPiece model from tokenizer.json's "model", with the tokenizers
// library's defaults for what it leaves out.
func (t *Tokenizer) modelFromJSON(raw []byte) error {
	if isNull(raw) {
		return fmt.Errorf("%s: no model", TokenizerJSON)
	}
	var m modelJSON
	if err := decodeJSON(TokenizerJSON+" model", raw, &m); err != nil {
		return err
	}
	if m.Type != "WordPiece" {
		return fmt.Errorf("%s: model type %q, want WordPiece (BERT)", TokenizerJSON, m.Type)
	}
	unk, prefix, maxChars := "[UNK]", "##", 100
	if m.UnkToken != nil {
		unk = *m.UnkToken
	}
	if m.ContinuingSubwordPrefix != nil {
		prefix = *m.ContinuingSubwordPrefix
	}
	if m.MaxInputCharsPerWord != nil {
		maxChars = *m.MaxInputCharsPerWord
	}
	if err := t.setModel(m.Vocab, unk, prefix, maxChars); err != nil {
		return fmt.Errorf("%s: %w", TokenizerJSON, err)
	}
	return nil
}

// normalizerFromJSON sets the BERT normaliser from tokenizer.json's "normalizer".
func (t *Tokenizer) normalizerFromJSON(raw []byte) error {
	if isNull(raw) {
		// BertTokenizerFast reads the normaliser's state and fails without one.
		return fmt.Errorf("%s: no normalizer, want BertNormalizer", TokenizerJSON)
	}
	var n normalizerJSON
	if err := decodeJSON(TokenizerJSON+" normalizer", raw, &n); err != nil {
		return err
	}
	if n.Type != "BertNormalizer" {
		return fmt.Errorf("%s: normalizer type %q, want BertNormalizer", TokenizerJSON, n.Type)
	}
	t.normalizer = bertNormalizer{cleanText: orTrue(n.CleanText), chineseChars: orTrue(n.HandleChineseChars),
		stripAccents: n.StripAccents, lowercase: orTrue(n.Lowercase)}
	return nil
}

// checkPreTokenizerJSON accepts only BERT's pre-tokenizer, the one Tokenizer implements.
func checkPreTokenizerJSON(raw []byte) error {
	if isNull(raw) {
		return fmt.Errorf("%s: no pre_tokenizer, want BertPreTokenizer", TokenizerJSON)
	}
	var pre typed
	if err := decodeJSON(TokenizerJSON+" pre_tokenizer", raw, &pre); err != nil {
		return err
	}
	if pre.Type != "BertPreTokenizer" {
		return fmt.Errorf("%s: pre_tokenizer type %q, want BertPreTokenizer", TokenizerJSON, pre.Type)
	}
	return nil
}

// decoderFromJSON sets the WordPiece decoder from tokenizer.json's "decoder", if there is one.
func (t *Tokenizer) decoderFromJSON(raw []byte) error {
	if isNull(raw) {
		return nil
	}
	var d decoderJSON
	if err := decodeJSON(TokenizerJSON+" decoder", raw, &d); err != nil {
		return err
	}
	if d.Type != "WordPiece" {
		return fmt.Errorf("%s: decoder type %q, want WordPiece", TokenizerJSON, d.Type)
	}
	prefix := "##"
	if d.Prefix != nil {
		prefix = *d.Prefix
	}
	t.setDecoder(prefix, orTrue(d.Cleanup))
	return nil
}

// postProcessorFromJSON reads which special tokens surround a single sequence.
func (t *Tokenizer) postProcessorFromJSON(raw []byte) error {
	t.prefixIDs, t.suffixIDs = nil, nil
	if isNull(raw) {
		return nil
	}
	var p postProcessorJSON
	if err := decodeJSON(TokenizerJSON+" post_processor", raw, &p); err != nil {
		return err
	}
	switch p.Type {
	case "TemplateProcessing":
		seen := false
		for i, piece := range p.Single {
			switch {
			case piece.Sequence != nil:
				if seen {
					return fmt.Errorf("%s: post_processor single template has two sequences", TokenizerJSON)
				}
				seen = true
			case piece.SpecialToken != nil:
				st, ok := p.SpecialTokens[piece.SpecialToken.ID]
				if !ok {
					return fmt.Errorf("%s: post_processor template names %q, which special_tokens lacks", TokenizerJSON, piece.SpecialToken.ID)
				}
				if seen {
					t.suffixIDs = append(t.suffixIDs, st.IDs...)
				} else {
					t.prefixIDs = append(t.prefixIDs, st.IDs...)
				}
			default:
				return fmt.Errorf("%s: post_processor single template item %d is neither SpecialToken nor Sequence", TokenizerJSON, i)
			}
		}
		if !seen {
			return fmt.Errorf("%s: post_processor single template has no sequence", TokenizerJSON)
		}
	case "BertProcessing":
		cls, err := pairID(p.Cls)
		if err != nil {
			return fmt.Errorf("%s: post_processor cls: %w", TokenizerJSON, err)
		}
		sep, err := pairID(p.Sep)
		if err != nil {
			return fmt.Errorf("%s: post_processor sep: %w", TokenizerJSON, err)
		}
		t.prefixIDs, t.suffixIDs = []int{cls}, []int{sep}
	default:
		return fmt.Errorf("%s: post_processor type %q, want TemplateProcessing or BertProcessing", TokenizerJSON, p.Type)
	}
	for _, id := range append(append([]int(nil), t.prefixIDs...), t.suffixIDs...) {
		if _, ok := t.Token(id); !ok {
			return fmt.Errorf("%s: post_processor uses id %d, which is not in the vocabulary", TokenizerJSON, id)
		}
	}
	return nil
}

// fromVocabTxt builds what transformers' BertConverter makes of a slow BERT tokenizer.
func (t *Tokenizer) fromVocabTxt(b []byte) error {
	vocab, _, err := parseVocabTxt(b)
	if err != nil {
		return fmt.Errorf("%s: %w", VocabTxt, err)
	}
	if err := t.setModel(vocab, t.specials.UNK.Content, "##", 100); err != nil {
		return fmt.Errorf("%s: %w", VocabTxt, err)
	}
	t.normalizer = bertNormalizer{cleanText: true, chineseChars: true, lowercase: true}
	t.setDecoder("##", true)
	// The [CLS] ... [SEP] template is resolved in finish, once added tokens have ids.
	return nil
}

// applyConfig applies tokenizer_config.json and adds the tokens it and added_tokens.json
// declare, as BertTokenizerFast.__init__ does after loading the backend tokenizer.
func (t *Tokenizer) applyConfig(cfg tokenizerConfig, files map[string][]byte) error {
	// BertTokenizerFast rebuilds the normaliser whenever these differ from its init arguments,
	// whose defaults are true, null and true; clean_text is kept.
	t.normalizer.lowercase = orTrue(cfg.DoLowerCase)
	t.normalizer.stripAccents = cfg.StripAccents
	t.normalizer.chineseChars = orTrue(cfg.TokenizeChineseChars)
	t.ModelMaxLength = modelMaxLength(cfg.ModelMaxLength)
	switch cfg.TruncationSide {
	case "", "right":
	case "left":
		t.truncLeft = true
	default:
		return fmt.Errorf("%s: truncation_side %q, want right or left", TokenizerConfig, cfg.TruncationSide)
	}
	t.cleanUpSpaces = orTrue(cfg.CleanUpSpaces)

	var declared []addedToken
	if cfg.AddedTokensDecoder != nil {
		var err error
		if declared, err = sortedDecoder(cfg.AddedTokensDecoder); err != nil {
			return fmt.Errorf("%s: %w", TokenizerConfig, err)
		}
	} else if b := files[AddedTokensJSON]; b != nil {
		var err error
		if declared, err = t.legacyAddedTokens(b); err != nil {
			return err
		}
	}
	specialNames := map[string]bool{}
	for _, s := range t.specials.ordered() {
		specialNames[s.Content] = true
	}
	known := map[string]bool{}
	for c := range t.added {
		known[c] = true
	}
	for _, tok := range declared {
		known[tok.Content] = true
		if t.hasIdentical(tok) {
			continue
		}
		tok.Special = tok.Special || specialNames[tok.Content]
		t.addToken(tok)
	}
	for _, s := range t.specials.ordered() {
		if !known[s.Content] {
			s.Special = true
			t.addToken(s)
		}
	}
	return nil
}

// legacyAddedTokens reads added_tokens.json ({"token": id}), used only by folders without
// added_tokens_decoder; its tokens come back ordered by id.
func (t *Tokenizer) legacyAddedTokens(b []byte) ([]addedToken, error) {
	var m map[string]int
	if err := decodeJSON(AddedTokensJSON, b, &m); err != nil {
		return nil, err
	}
	specialNames := map[string]bool{}
	for _, s := range t.specials.ordered() {
		specialNames[s.Content] = true
	}
	dec := map[string]addedTokenJSON{}
	for content, id := range m {
		if content == "" {
			return nil, fmt.Errorf("%s: empty token", AddedTokensJSON)
		}
		sp := specialNames[content]
		norm := !sp
		dec[fmt.Sprint(id)] = addedTokenJSON{Content: content, Special: sp, Normalized: &norm}
	}
	toks, err := sortedDecoder(dec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", AddedTokensJSON, err)
	}
	return toks, nil
}

// hasIdentical reports whether an added token equal in every option is already there.
func (t *Tokenizer) hasIdentical(tok addedToken) bool {
	for _, a := range t.addedByID {
		if a == tok {
			return true
		}
	}
	return false
}

// addToken is tokenizers' AddedVocabulary::add_tokens for one token: a token already in the
// vocabulary keeps its id, a new one gets the next id after the vocabulary and the added tokens.
func (t *Tokenizer) addToken(tok addedToken) {
	if tok.Content == "" {
		return
	}
	if tok.Special && !t.special[tok.Content] {
		t.special[tok.Content] = true
	}
	if t.hasIdentical(tok) {
		return
	}
	id, ok := t.added[tok.Content]
	if !ok {
		id, ok = t.vocab[tok.Content]
	}
	if !ok {
		n, maxAdded := len(t.vocab), -1
		for _, v := range t.added {
			maxAdded = max(maxAdded, v)
		}
		switch {
		case maxAdded < 0:
			id = n
		case maxAdded >= n || n == 0:
			id = maxAdded + 1
		default:
			id = n
		}
	}
	if _, seen := t.addedByID[id]; !seen {
		t.addedOrder = append(t.addedOrder, id)
	}
	t.added[tok.Content] = id
	t.addedByID[id] = tok
}

// finish resolves the named ids and builds the added-token matchers.
func (t *Tokenizer) finish() error {
	if t.files[TokenizerJSON] == nil {
		cls, ok := t.TokenID(t.specials.CLS.Content)
		if !ok {
			return fmt.Errorf("cls_token %q is not in the vocabulary", t.specials.CLS.Content)
		}
		sep, ok := t.TokenID(t.specials.SEP.Content)
		if !ok {
			return fmt.Errorf("sep_token %q is not in the vocabulary", t.specials.SEP.Content)
		}
		t.prefixIDs, t.suffixIDs = []int{cls}, []int{sep}
	}
	lookup := func(tok *addedToken) int {
		if tok == nil {
			return -1
		}
		if id, ok := t.TokenID(tok.Content); ok {
			return id
		}
		return -1
	}
	t.PadID, t.CLSID, t.SEPID, t.MaskID = lookup(t.specials.PAD), lookup(t.specials.CLS), lookup(t.specials.SEP), lookup(t.specials.Mask)
	t.UNKID = t.vocab[t.unkToken]
	t.BOSID = lookup(t.specials.BOS)
	if t.BOSID < 0 {
		t.BOSID = lookup(&addedToken{Content: "[DEC]"})
	}
	t.ENCID = lookup(&addedToken{Content: "[ENC]"})

	// HF's matchers list special tokens first, then the others, each in the order added.
	t.raw, t.norm = nil, nil
	for _, wantSpecial := range []bool{true, false} {
		for _, id := range t.addedOrder {
			tok := t.addedByID[id]
			if t.special[tok.Content] != wantSpecial {
				continue
			}
			if !tok.Normalized {
				t.raw = append(t.raw, pattern{text: tok.Content, id: id, tok: tok})
				continue
			}
			if p := t.normalizer.normalize(tok.Content); p != "" {
				t.norm = append(t.norm, pattern{text: p, id: id, tok: tok})
			}
		}
	}
	return nil
}

func (t *Tokenizer) setDecoder(prefix string, cleanup bool) {
	t.decoder = decoder.NewWordPieceDecoder(prefix, cleanup)
	t.decoderPrefix, t.decoderCleanup = prefix, cleanup
}

func orTrue(b *bool) bool { return b == nil || *b }

// VocabSize is the number of distinct tokens, added ones included: len(tokenizer) in
// transformers, and the text model's vocab_size for BLIP (30524 for the released checkpoints).
func (t *Tokenizer) VocabSize() int {
	n := len(t.vocab)
	for c := range t.added {
		if _, ok := t.vocab[c]; !ok {
			n++
		}
	}
	return n
}

// TokenID returns the id of a token string, added tokens first as in HF.
func (t *Tokenizer) TokenID(token string) (int, bool) {
	if id, ok := t.added[token]; ok {
		return id, true
	}
	id, ok := t.vocab[token]
	return id, ok
}

// Token returns the token string of an id, added tokens first as in HF.
func (t *Tokenizer) Token(id int) (string, bool) {
	if a, ok := t.addedByID[id]; ok {
		return a.Content, true
	}
	s, ok := t.vocabByID[id]
	return s, ok
}

// IsSpecial reports whether an id is a special token, one that Decode skips when asked to.
func (t *Tokenizer) IsSpecial(id int) bool {
	s, ok := t.Token(id)
	return ok && t.special[s]
}

// Encode returns the ids of text with the special tokens around it ([CLS] ... [SEP] for BLIP),
// exactly as BertTokenizerFast's encode(text). With maxLen > 0 the result is cut to maxLen ids,
// special tokens included (encode(text, truncation=True, max_length=maxLen)); like HF, a maxLen
// smaller than the number of special tokens leaves the text uncut.
func (t *Tokenizer) Encode(text string, maxLen int) []int {
	body := t.tokenize(text)
	nSpecial := len(t.prefixIDs) + len(t.suffixIDs)
	if maxLen > 0 && maxLen >= nSpecial && len(body) > maxLen-nSpecial {
		keep := maxLen - nSpecial
		if t.truncLeft {
			body = body[len(body)-keep:]
		} else {
			body = body[:keep]
		}
	}
	ids := make([]int, 0, len(body)+nSpecial)
	ids = append(ids, t.prefixIDs...)
	ids = append(ids, body...)
	return append(ids, t.suffixIDs...)
}

// EncodeForDecoder is Encode with the first id replaced by the bos id ([DEC]), the input BLIP's
// text decoder is trained and run on. The caller drops the trailing [SEP] to use it as a prompt.
func (t *Tokenizer) EncodeForDecoder(text string, maxLen int) []int {
	ids := t.Encode(text, maxLen)
	if len(ids) > 0 && t.BOSID >= 0 {
		ids[0] = t.BOSID
	}
	return ids
}

// tokenize runs HF's pipeline without the post-processor: split out added tokens written in the
// text, normalise the rest, split out normalised added tokens, pre-tokenise, WordPiece.
func (t *Tokenizer) tokenize(text string) []int {
	var ids []int
	for _, seg := range splitAdded(text, t.raw) {
		if seg.id >= 0 {
			ids = append(ids, seg.id)
			continue
		}
		for _, nseg := range splitAdded(t.normalizer.normalize(seg.text), t.norm) {
			if nseg.id >= 0 {
				ids = append(ids, nseg.id)
				continue
			}
			for _, word := range preTokenize(nseg.text) {
				ids = t.appendWordPieces(ids, word)
			}
		}
	}
	return ids
}

func (t *Tokenizer) appendWordPieces(ids []int, word string) []int {
	toks, err := t.model.Tokenize(word)
	if err != nil {
		// Only a missing unk token makes WordPiece fail, and Load checks for it.
		return append(ids, t.UNKID)
	}
	for _, tok := range toks {
		ids = append(ids, tok.Id)
	}
	return ids
}

// Decode turns ids back into text as BertTokenizerFast.decode does: WordPiece pieces are joined
// ("##" glued to the previous piece), skipSpecial drops special tokens ([CLS], [SEP], [PAD],
// [DEC], [UNK], ...), ids outside the vocabulary are dropped, and with
// clean_up_tokenization_spaces the spaces before punctuation and contractions go.
func (t *Tokenizer) Decode(ids []int, skipSpecial bool) string {
	tokens := make([]string, 0, len(ids))
	for _, id := range ids {
		tok, ok := t.Token(id)
		if !ok || (skipSpecial && t.special[tok]) {
			continue
		}
		tokens = append(tokens, tok)
	}
	var s string
	if t.decoder != nil {
		s = strings.Join(t.decoder.DecodeChain(tokens), "")
	} else {
		s = strings.Join(tokens, " ")
	}
	if t.cleanUpSpaces {
		s = cleanUpTokenization(s)
	}
	return s
}

// cleanUpTokenization is transformers' clean_up_tokenization, applied in the same order.
func cleanUpTokenization(s string) string {
	for _, r := range [][2]string{{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
		{" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}} {
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	return s
}
