package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// segment is a piece of text, or an added token found in it (id >= 0).
type segment struct {
	text string
	id   int
}

// splitAdded cuts s around the added tokens it contains, as tokenizers' AddedVocabulary::
// find_matches does: Aho-Corasick leftmost-longest matches, scanning on after each match even
// when single_word discards it, lstrip/rstrip taking the neighbouring whitespace into the token.
// An empty s gives one empty segment, as in HF.
func splitAdded(s string, pats []pattern) []segment {
	if len(pats) == 0 || s == "" {
		return []segment{{text: s, id: -1}}
	}
	var out []segment
	startOffset := 0
	for i := 0; i < len(s); {
		best := -1
		for k, p := range pats {
			if (best < 0 || len(p.text) > len(pats[best].text)) && strings.HasPrefix(s[i:], p.text) {
				best = k
			}
		}
		if best < 0 {
			i++
			continue
		}
		p := pats[best]
		start, stop := i, i+len(p.text)
		i = stop
		if p.tok.SingleWord {
			startSpace := start == 0 || !endsWithWord(s[:start])
			stopSpace := stop == len(s) || !startsWithWord(s[stop:])
			if !startSpace || !stopSpace {
				continue
			}
		}
		if p.tok.LStrip {
			start = max(len(strings.TrimRightFunc(s[:start], unicode.IsSpace)), startOffset)
		}
		if p.tok.RStrip {
			stop = len(s) - len(strings.TrimLeftFunc(s[stop:], unicode.IsSpace))
			i = stop
		}
		if startOffset < start {
			out = append(out, segment{text: s[startOffset:start], id: -1})
		}
		out = append(out, segment{text: s[start:stop], id: p.id})
		startOffset = stop
	}
	if startOffset != len(s) {
		out = append(out, segment{text: s[startOffset:], id: -1})
	}
	return out
}

// isWordChar approximates the regex class \w of Rust's regex crate (Unicode word characters).
func isWordChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || unicode.Is(unicode.Pc, r) ||
		unicode.Is(unicode.Nl, r) || r == 0x200C || r == 0x200D
}

func endsWithWord(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return s != "" && isWordChar(r)
}

func startsWithWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return s != "" && isWordChar(r)
}
