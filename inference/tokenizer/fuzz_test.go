package tokenizer

import (
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
