package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// bertNormalizer is Hugging Face's BertNormalizer (tokenizers/src/normalizers/bert.rs), written
// out here rather than taken from sugarme because sugarme's differs where BLIP's settings matter:
// it keeps accents when strip_accents is null (HF strips them whenever lowercase is on), maps
// only \t \n \r to spaces, and uses Go's Unicode 15 categories where HF uses the older tables of
// the unicode_categories crate (see unicode_tables.go).
type bertNormalizer struct {
	cleanText    bool
	chineseChars bool
	// stripAccents is the tri-state of the files: nil means "as lowercase", as in HF.
	stripAccents *bool
	lowercase    bool
}

// strips reports whether accents are stripped: HF resolves a null strip_accents to lowercase.
func (n bertNormalizer) strips() bool {
	if n.stripAccents != nil {
		return *n.stripAccents
	}
	return n.lowercase
}

// normalize runs the four steps in HF's order: clean, pad Chinese characters, strip accents
// (NFD, then drop non-spacing marks), lowercase. Invalid UTF-8 reads as U+FFFD, which the clean
// step removes like any U+FFFD.
func (n bertNormalizer) normalize(s string) string {
	if n.cleanText {
		s = cleanText(s)
	} else if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if n.chineseChars {
		s = padChinese(s)
	}
	if n.strips() {
		s = stripAccents(s)
	}
	if n.lowercase {
		s = lowercase(s)
	}
	return s
}

// cleanText drops NUL, U+FFFD and control characters and turns every kind of whitespace
// into a plain space.
func cleanText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == 0 || r == utf8.RuneError:
			// A literal U+FFFD and an invalid byte both land here.
		case r != '\t' && r != '\n' && r != '\r' && unicode.Is(hfControl, r):
		case isWhitespace(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isWhitespace is Rust's char::is_whitespace (the White_Space property), which is what
// unicode.IsSpace implements too.
func isWhitespace(r rune) bool {
	return unicode.IsSpace(r)
}

// isChinese is HF's is_chinese_char: the CJK Unified Ideographs blocks, not Japanese or Korean
// scripts. The ranges are HF's own, including its 0x2B920 start (sugarme has 0x2B820).
func isChinese(r rune) bool {
	switch {
	case r >= 0x4E00 && r <= 0x9FFF,
		r >= 0x3400 && r <= 0x4DBF,
		r >= 0x20000 && r <= 0x2A6DF,
		r >= 0x2A700 && r <= 0x2B73F,
		r >= 0x2B740 && r <= 0x2B81F,
		r >= 0x2B920 && r <= 0x2CEAF,
		r >= 0xF900 && r <= 0xFAFF,
		r >= 0x2F800 && r <= 0x2FA1F:
		return true
	}
	return false
}

// padChinese puts a space on each side of every Chinese character, so that each becomes a word.
func padChinese(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if isChinese(r) {
			b.WriteByte(' ')
			b.WriteRune(r)
			b.WriteByte(' ')
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// stripAccents decomposes (NFD, which HF keeps: Hangul stays as jamo) and drops what HF counts
// as non-spacing marks.
func stripAccents(s string) string {
	d := nfd(s)
	var b strings.Builder
	b.Grow(len(d))
	for _, r := range d {
		if !unicode.Is(hfNonspacingMark, r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// nfd is NFD as HF's older tables do it: the few characters they cannot decompose
// (hfNoDecomposition) stay whole.
func nfd(s string) string {
	var b strings.Builder
	last := 0
	for i, r := range s {
		if unicode.Is(hfNoDecomposition, r) {
			if b.Len() == 0 {
				b.Grow(len(s) + len(s)/2)
			}
			b.WriteString(norm.NFD.String(s[last:i]))
			b.WriteRune(r)
			last = i + utf8.RuneLen(r)
		}
	}
	if last == 0 {
		return norm.NFD.String(s)
	}
	b.WriteString(norm.NFD.String(s[last:]))
	return b.String()
}

// lowercase maps each character as Rust's char::to_lowercase does. That is Go's simple mapping
// except for U+0130 (capital I with dot), whose full lowercase is two characters.
func lowercase(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r == 'İ' {
			b.WriteString("i\u0307")
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// preTokenize is HF's BertPreTokenizer: split on whitespace (dropped), and make every
// punctuation character a word of its own.
func preTokenize(s string) []string {
	var words []string
	start := -1
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		space, punct := isWhitespace(r), unicode.Is(hfPunctuation, r)
		if !space && !punct {
			if start < 0 {
				start = i
			}
			i += size
			continue
		}
		if start >= 0 {
			words = append(words, s[start:i])
			start = -1
		}
		if punct {
			words = append(words, s[i:i+size])
		}
		i += size
	}
	if start >= 0 {
		words = append(words, s[start:])
	}
	return words
}
