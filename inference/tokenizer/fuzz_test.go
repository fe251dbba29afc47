package tokenizer

import (
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// FuzzEncode feeds arbitrary text (invalid UTF-8 included) to Encode and Decode. Neither may
// panic; every id must be a known token, the special tokens must frame the text, truncation must
// hold, and decoding must give valid UTF-8 of what was encoded.
//
//	go test ./inference/tokenizer -run '^$' -fuzz FuzzEncode -fuzztime 60s
func FuzzEncode(f *testing.F) {
	c := readCases(f)
	for _, tc := range c.Cases {
		f.Add(tc.Text, 16)
	}
	f.Add("a [SEP]b[DEC] [ENC][CLS]", 3)
	f.Add("\xff\xfe[\xc3", 0)
	tok := mustLoad(f, fullDir)
	f.Fuzz(func(t *testing.T, text string, maxLen int) {
		maxLen %= 64
		ids := tok.Encode(text, maxLen)
		if len(ids) < 2 || ids[0] != tok.CLSID || ids[len(ids)-1] != tok.SEPID {
			t.Fatalf("Encode(%q, %d) = %v, want [CLS] ... [SEP]", text, maxLen, ids)
		}
		if maxLen >= 2 && len(ids) > maxLen {
			t.Fatalf("Encode(%q, %d) gave %d ids", text, maxLen, len(ids))
		}
		for _, id := range ids {
			if _, ok := tok.Token(id); !ok {
				t.Fatalf("Encode(%q) gave id %d, which is not a token", text, id)
			}
		}
		full := tok.Encode(text, 0)
		if maxLen >= 2 && len(full) > maxLen && !equalInts(ids[:len(ids)-1], full[:len(ids)-1]) {
			t.Fatalf("Encode(%q, %d) = %v is not a prefix of %v", text, maxLen, ids, full)
		}
		dec := tok.EncodeForDecoder(text, maxLen)
		if dec[0] != tok.BOSID || !equalInts(dec[1:], ids[1:]) {
			t.Fatalf("EncodeForDecoder(%q) = %v, want %v with [DEC] first", text, dec, ids)
		}
		for _, skip := range []bool{true, false} {
			s := tok.Decode(full, skip)
			if !utf8.ValidString(s) {
				t.Fatalf("Decode(%v, %v) = %q, not valid UTF-8", full, skip, s)
			}
		}
		// Decoding arbitrary ids, out-of-range ones included, must not panic either.
		tok.Decode(append(full, -1, 1<<40, tok.VocabSize()), true)
	})
}

// FuzzLoadFiles feeds arbitrary bytes as tokenizer.json, tokenizer_config.json and vocab.txt to
// the loader: it must return an error or a working tokenizer, never panic.
//
//	go test ./inference/tokenizer -run '^$' -fuzz FuzzLoadFiles -fuzztime 60s -fuzzminimizetime 5s
//
// (The seeds are whole tokenizer files: with the default 60 s per minimisation the fuzzer spends
// most of its time shrinking them.)
func FuzzLoadFiles(f *testing.F) {
	read := func(dir, name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	tokJSON, cfg, vocab := read(fullDir, TokenizerJSON), read(fullDir, TokenizerConfig), read(fullDir, VocabTxt)
	f.Add(tokJSON, cfg, []byte(nil))
	f.Add([]byte(nil), cfg, vocab)
	f.Add(tokJSON[:len(tokJSON)/3], []byte(`{"bos_token": {"content": "[DEC]"}}`), vocab[:40])
	f.Add([]byte(`{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0}}, "normalizer": {"type": "BertNormalizer"}, "pre_tokenizer": {"type": "BertPreTokenizer"}, "added_tokens": [{"id": 5, "content": "x", "lstrip": true, "rstrip": true, "single_word": true}]}`), []byte(nil), []byte(nil))
	f.Fuzz(func(t *testing.T, tokenizerJSON, config, vocabTxt []byte) {
		files := map[string][]byte{}
		for name, b := range map[string][]byte{TokenizerJSON: tokenizerJSON, TokenizerConfig: config, VocabTxt: vocabTxt} {
			if b != nil {
				files[name] = b
			}
		}
		tok, err := build(files)
		if err != nil {
			return
		}
		ids := tok.Encode("a Red  circle [DEC] x [SEP]é\u00a0猫 ##", 8)
		tok.Decode(ids, true)
		tok.Decode(ids, false)
		if err := tok.Save(t.TempDir()); err != nil {
			t.Logf("Save: %v", err)
		}
	})
}
