package metrics

import (
	"fmt"
	"strings"
	"unicode"
)

// The jar's lexer tables classify characters by the Unicode version of the Java that generated
// them in 2014 (Unicode 6.x); Go's unicode package is newer. These BMP letters and digits were
// assigned or became letters later, so the jar treats them as untokenizable and deletes them.
// The list comes from running every BMP character through the jar ("x<c>y <c> A<c>. 1<c>2", one
// per line) and comparing with this tokenizer; ptb_test.go keeps that comparison as a test.
var jarNotLetter = []rangeBMP{
	{0x037F, 0x037F}, {0x0528, 0x052F}, {0x0560, 0x0560}, {0x0588, 0x0588}, {0x05EF, 0x05EF},
	{0x0860, 0x086A}, {0x0870, 0x0887}, {0x0889, 0x088E}, {0x08A1, 0x08A1}, {0x08AD, 0x08C9},
	{0x0978, 0x0978}, {0x0980, 0x0980}, {0x09FC, 0x09FC}, {0x0AF9, 0x0AF9}, {0x0C34, 0x0C34},
	{0x0C5A, 0x0C5A}, {0x0C5D, 0x0C5D}, {0x0C80, 0x0C80}, {0x0CDD, 0x0CDD}, {0x0D04, 0x0D04},
	{0x0D54, 0x0D56}, {0x0D5F, 0x0D5F}, {0x0E86, 0x0E86}, {0x0E89, 0x0E89}, {0x0E8C, 0x0E8C},
	{0x0E8E, 0x0E93}, {0x0E98, 0x0E98}, {0x0EA0, 0x0EA0}, {0x0EA8, 0x0EA9}, {0x0EAC, 0x0EAC},
	{0x13F5, 0x13F5}, {0x13F8, 0x13FD}, {0x16F1, 0x16F8}, {0x170D, 0x170D}, {0x171F, 0x171F},
	{0x1878, 0x1878}, {0x191D, 0x191E}, {0x19B0, 0x19C0}, {0x19C8, 0x19C9}, {0x1B4C, 0x1B4C},
	{0x1C80, 0x1C88}, {0x1C90, 0x1CBA}, {0x1CBD, 0x1CBF}, {0x1CF2, 0x1CF3}, {0x1CFA, 0x1CFA},
	{0x2C2F, 0x2C2F}, {0x2C5F, 0x2C5F}, {0x312E, 0x312F}, {0x31BB, 0x31BF}, {0x4DB6, 0x4DBF},
	{0x9FCD, 0x9FFF}, {0xA698, 0xA69D}, {0xA78F, 0xA78F}, {0xA794, 0xA79F}, {0xA7AB, 0xA7CA},
	{0xA7D0, 0xA7D1}, {0xA7D3, 0xA7D3}, {0xA7D5, 0xA7D9}, {0xA7F2, 0xA7F7}, {0xA8FD, 0xA8FE},
	{0xA9E0, 0xA9E4}, {0xA9E6, 0xA9EF}, {0xA9FA, 0xA9FE}, {0xAA7E, 0xAA7F}, {0xAB30, 0xAB5A},
	{0xAB5C, 0xAB69}, {0xAB70, 0xABBF},
}

// jarNotDigit are decimal digits added to Unicode after the jar's tables.
var jarNotDigit = []rangeBMP{{0x0DE6, 0x0DEF}, {0xA9F0, 0xA9F9}}

// jarExtraLetter were letters in the jar's Unicode and are combining marks now.
var jarExtraLetter = []rangeBMP{{0x1885, 0x1886}}

type rangeBMP struct{ lo, hi rune }

func inRanges(rs []rangeBMP, r rune) bool {
	for _, x := range rs {
		if r >= x.lo && r <= x.hi {
			return true
		}
	}
	return false
}

// Character tests as the jar's lexer saw them. Only the BMP matters: Java hands the lexer a
// character beyond it as two surrogates, which are neither letters nor digits.
func jarIsLetter(r rune) bool {
	return r <= 0xffff && ((unicode.IsLetter(r) && !inRanges(jarNotLetter, r)) || inRanges(jarExtraLetter, r))
}

func jarIsDigit(r rune) bool {
	return r <= 0xffff && unicode.Is(unicode.Nd, r) && !inRanges(jarNotDigit, r)
}

func jarIsUpper(r rune) bool { return unicode.IsUpper(r) && jarIsLetter(r) }

// bmpClass returns a regexp character class of the BMP characters for which in is true.
func bmpClass(in func(rune) bool) string {
	var b strings.Builder
	b.WriteByte('[')
	for r := rune(0); r <= 0xffff; r++ {
		if !in(r) {
			continue
		}
		lo := r
		for r+1 <= 0xffff && in(r+1) {
			r++
		}
		if lo == r {
			fmt.Fprintf(&b, `\x{%X}`, lo)
		} else {
			fmt.Fprintf(&b, `\x{%X}-\x{%X}`, lo, r)
		}
	}
	b.WriteByte(']')
	return b.String()
}
