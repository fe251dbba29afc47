package metrics

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// ptbPunctuation are the tokens pycocoevalcap's tokenizer/ptbtokenizer.py drops after PTB
// tokenization. The comparison is with the lower-cased tokens, so "-LRB-" and the other upper-case
// entries never match: a bracket survives as "-lrb-", exactly as in pycocoevalcap.
var ptbPunctuation = map[string]bool{
	"''": true, "'": true, "``": true, "`": true, "-LRB-": true, "-RRB-": true, "-LCB-": true, "-RCB-": true,
	".": true, "?": true, "!": true, ",": true, ":": true, "-": true, "--": true, "...": true, ";": true,
}

// Tokenize splits a caption into the tokens that pycocoevalcap's PTBTokenizer gives it: Stanford
// CoreNLP 3.4.1's PTB tokenization (`PTBTokenizer -preserveLines -lowerCase`), then removal of the
// punctuation tokens listed in tokenizer/ptbtokenizer.py. Brackets come out as "-lrb-", "-rrb-",
// "-lsb-"…, contractions split ("don't" → "do", "n't"), and a few multi-word units stay one token
// with a non-breaking space inside ("2 1/2" → "2\u00a01/2"); the scorers split such a token where
// pycocoevalcap's do.
//
// pycocoevalcap tokenizes all captions as the lines of one file, and two rules of the lexer look
// past the end of a line, so its tokens for a caption can depend on the next caption: a single
// letter with a period at the end ("a nintendo wii u.") loses the period ("u") when the next
// caption starts with one of about fifty capitalized words such as "A" or "The", and keeps it
// ("u.") otherwise; and "no.", "art.", "fig." and a few other abbreviations of numbered things keep
// their period at the end only when the next caption starts with a digit. Tokenize reads the
// caption as if the next one started with "A ", the first word of most COCO captions, so that it
// needs no other caption and agrees with pycocoevalcap in the common case (on all 30,902 captions
// of the shared COCO sample). Line breaks inside the caption are treated as spaces
// (pycocoevalcap would split such a caption in two and shift every caption after it by one line).
func Tokenize(s string) []string {
	lines := ptbLexer().lex(toUTF16(s + nextCaption))
	var toks []string
	for _, line := range lines[:len(lines)-1] { // the last line is nextCaption's
		toks = append(toks, dropPunctuation(line)...)
	}
	return toks
}

// nextCaption is the text Tokenize puts after a caption: a line break and the start of a typical
// COCO caption.
const nextCaption = "\nA "

// tokenizeLines tokenizes lines the way pycocoevalcap does in one call: joined by "\n" into one
// text, tokenized as a whole, split back into lines, punctuation removed. Unlike Tokenize, a line
// can see the start of the next one. The result has one entry per line break the tokenizer saw,
// which is len(lines) unless a line holds a line break of its own.
func tokenizeLines(lines []string) [][]string {
	flat := make([]string, len(lines))
	for i, l := range lines {
		flat[i] = strings.ReplaceAll(l, "\n", " ")
	}
	out := ptbLexer().lex(toUTF16(strings.Join(flat, "\n")))
	for i, line := range out {
		out[i] = dropPunctuation(line)
	}
	return out
}

// dropPunctuation mirrors ptbtokenizer.py on one output line: join with spaces, rstrip, split on
// single spaces, drop the punctuation tokens. An empty line gives no tokens (pycocoevalcap's
// [""] joins to the same empty caption).
func dropPunctuation(line []string) []string {
	joined := strings.TrimRightFunc(strings.Join(line, " "), pyIsSpace)
	if joined == "" {
		return nil
	}
	var out []string
	for _, w := range strings.Split(joined, " ") {
		if !ptbPunctuation[w] {
			out = append(out, w)
		}
	}
	return out
}

// pyIsSpace reports whether Python's str.split() and str.strip() treat r as whitespace.
func pyIsSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// ptbTokens is the compiled rule table with its actions.
type ptbTokens struct {
	sc    *scanner
	rules []ptbRule
}

// ptbLexer compiles the rule table on first use. A failure is a bug in ptbrules.go, caught by
// every test of this package, so it panics like regexp.MustCompile on a constant pattern.
var ptbLexer = sync.OnceValue(func() *ptbTokens {
	rules := ptbRules()
	lex := make([]lexRule, len(rules))
	for i, r := range rules {
		lex[i] = r.lexRule
	}
	sc, err := newScanner(lex)
	if err != nil {
		panic("metrics: PTB rule table: " + err.Error())
	}
	return &ptbTokens{sc: sc, rules: rules}
})

// lex runs the lexer over text (UTF-16 code units) and returns the lower-cased tokens of each
// line, before punctuation removal.
func (t *ptbTokens) lex(text []rune) [][]string {
	t.sc.mu.Lock()
	defer t.sc.mu.Unlock()
	lines := [][]string{nil}
	for pos := 0; pos < len(text); {
		rule, n := t.sc.longest(text, pos)
		if rule < 0 {
			// Only "\n" is outside the catch-all rule, and the newline rule takes it.
			pos++
			continue
		}
		r := &t.rules[rule]
		if r.trail != "" {
			n = t.sc.headLength(rule, text[pos:pos+n])
		}
		match := text[pos : pos+n]
		tok, consumed, emit := r.apply(match)
		if r.act == actNewline {
			lines = append(lines, nil)
		}
		if emit {
			last := len(lines) - 1
			lines[last] = append(lines[last], javaLowerEnglish(tok))
		}
		pos += consumed
	}
	return lines
}

// apply runs a rule's action on its match and returns the token text, how many code units the
// rule consumes (the rest is scanned again, JFlex's yypushback), and whether there is a token.
func (r *ptbRule) apply(m []rune) (tok string, consumed int, emit bool) {
	n := len(m)
	switch r.act {
	case actSkip, actNewline, actUntokenizable:
		return "", n, false
	case actSplitLast3:
		return fromUTF16(m[:n-3]), n - 3, true
	case actSplitLast2:
		return fromUTF16(m[:n-2]), n - 2, true
	case actSoftHyphens:
		return removeSoftHyphens(fromUTF16(m)), n, true
	case actAmp:
		return replaceAmp(fromUTF16(m)), n, true
	case actSpaceToNBSP:
		return strings.ReplaceAll(fromUTF16(m), " ", "\u00a0"), n, true
	case actPhone:
		return parensToPTB(strings.ReplaceAll(fromUTF16(m), " ", "\u00a0")), n, true
	case actParens:
		return parensToPTB(fromUTF16(m)), n, true
	case actMDash:
		return "--", n, true
	case actFraction:
		return fraction(fromUTF16(m)), n, true
	case actCurrency:
		return currency(fromUTF16(m)), n, true
	case actQuoteLeft:
		return latexQuotes(fromUTF16(m), true), n, true
	case actQuoteRight:
		return latexQuotes(fromUTF16(m), false), n, true
	case actAcronymEnd:
		// "I." before "The": the letter now, the period next. A longer acronym ("U.S.") keeps its
		// period and the period is returned once more as the sentence end.
		if n == 2 {
			return fromUTF16(m[:1]), 1, true
		}
		return fromUTF16(m), n - 1, true
	case actAbbrevEnd:
		return fromUTF16(m), n - 1, true
	case actHyphens:
		if n >= 3 && n <= 4 {
			return "--", n, true
		}
		return fromUTF16(m), n, true
	case actEllipsis:
		return "...", n, true
	case actLessThan:
		return "<", n, true
	case actGreaterThan:
		return ">", n, true
	case actFixed:
		return r.fixed, n, true
	default:
		return fromUTF16(m), n, true
	}
}

func removeSoftHyphens(s string) string {
	if !strings.ContainsRune(s, '\u00ad') {
		return s
	}
	out := strings.ReplaceAll(s, "\u00ad", "")
	if out == "" {
		return "-"
	}
	return out
}

// replaceAmp replaces "&amp;" in any letter case by "&".
func replaceAmp(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if i+5 <= len(s) && strings.EqualFold(s[i:i+5], "&amp;") {
			b.WriteByte('&')
			i += 5
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

func parensToPTB(s string) string {
	s = strings.ReplaceAll(s, "(", "-LRB-")
	return strings.ReplaceAll(s, ")", "-RRB-")
}

func fraction(s string) string {
	switch s {
	case "\u00bc":
		return "1/4"
	case "\u00bd":
		return "1/2"
	case "\u00be":
		return "3/4"
	case "\u2153":
		return "1/3"
	case "\u2154":
		return "2/3"
	}
	return s
}

func currency(s string) string {
	switch s {
	case "\u00a2":
		return "cents"
	case "\u00a3":
		return "#"
	case "\u0080", "\u00a4", "\u20a0", "\u20ac":
		return "$"
	}
	return s
}

// latexQuotes normalizes quote characters as PTB3 does: ASCII quotes by the side they are guessed
// to be on, curly and angle quotes by their shape. The entity names are matched case-sensitively.
func latexQuotes(s string, left bool) string {
	single, double := "'", "''"
	if left {
		single, double = "`", "``"
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "&apos;"):
			b.WriteString(single)
			i += len("&apos;")
			continue
		case strings.HasPrefix(s[i:], "&quot;"):
			b.WriteString(double)
			i += len("&quot;")
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch r {
		case '\'':
			b.WriteString(single)
		case '"':
			b.WriteString(double)
		case '\u0091', '\u2018', '\u201b', '\u2039':
			b.WriteString("`")
		case '\u0092', '\u2019', '\u203a':
			b.WriteString("'")
		case '\u0093', '\u201c', '\u00ab':
			b.WriteString("``")
		case '\u0094', '\u201d', '\u00bb':
			b.WriteString("''")
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// toUTF16 returns s as UTF-16 code units, the characters Java's lexer sees.
func toUTF16(s string) []rune {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			out = append(out, r1, r2)
			continue
		}
		out = append(out, r)
	}
	return out
}

// fromUTF16 turns code units back into a string. A surrogate without its partner becomes "?", as
// Java's UTF-8 encoder writes it.
func fromUTF16(units []rune) string {
	surrogates := false
	for _, r := range units {
		if utf16.IsSurrogate(r) {
			surrogates = true
			break
		}
	}
	if !surrogates {
		return string(units)
	}
	var b strings.Builder
	for i := 0; i < len(units); i++ {
		r := units[i]
		switch {
		case utf16.IsSurrogate(r) && r < 0xdc00 && i+1 < len(units) && units[i+1] >= 0xdc00 && units[i+1] <= 0xdfff:
			b.WriteRune(utf16.DecodeRune(r, units[i+1]))
			i++
		case utf16.IsSurrogate(r):
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// javaLowerEnglish is Java's String.toLowerCase(Locale.ENGLISH): the simple lower-case mapping,
// except that İ becomes "i̇" and a capital sigma at the end of a word becomes ς.
func javaLowerEnglish(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	rs := []rune(s)
	var ends []bool // Java's word boundaries, found when a sigma needs them
	var b strings.Builder
	for i, r := range rs {
		switch {
		case r == '\u0130':
			b.WriteString("i\u0307")
		case r == '\u03a3':
			if ends == nil {
				ends = javaWordEnds(rs)
			}
			if finalSigma(rs, i, ends) {
				b.WriteRune('\u03c2')
			} else {
				b.WriteRune('\u03c3')
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// finalSigma is Java's test for the sigma at rs[i] (ConditionalSpecialCasing.isFinalCased):
// within the word around it, a cased letter comes before it and none after it. Words are those of
// Java's word BreakIterator (javaWordEnds), not Unicode's Final_Sigma context: "Σ0Σ" is one word,
// and lower-cases to "σ0ς".
func finalSigma(rs []rune, i int, ends []bool) bool {
	for j := i; j > 0 && !ends[j]; j-- {
		if isCased(rs[j-1]) {
			for k := i + 1; k < len(rs) && !ends[k]; k++ {
				if isCased(rs[k]) {
					return false
				}
			}
			return true
		}
	}
	return false
}

// isCased is Java's ConditionalSpecialCasing.isCased: a cased letter or one of the Other_Lowercase
// and Other_Uppercase characters.
func isCased(r rune) bool {
	return unicode.In(r, unicode.Lu, unicode.Ll, unicode.Lt, unicode.Other_Lowercase, unicode.Other_Uppercase)
}

// Character categories of the JDK's word BreakIterator rules, one letter each so that the rules
// can run as a Go regular expression over a string of categories.
const (
	wcLetter   = 'L' // letters and spacing marks, except kana and kanji
	wcDigit    = 'G' // numbers
	wcMidWord  = 'W' // dashes, connectors, soft hyphen, U+2027: inside words
	wcMidNum   = 'Q' // comma, Arabic decimal separator: inside numbers
	wcMidBoth  = 'B' // ' and ": inside words and numbers
	wcPeriod   = 'D' // .: inside words and numbers, and before numbers
	wcPreNum   = 'S' // currency signs except ¢, and #: before numbers
	wcPostNum  = 'P' // % & ¢ ٪ ‰ ‱: after numbers
	wcDanda    = 'A' // Devanagari danda: ends a word
	wcSpace    = 'Z'
	wcLineSep  = 'N'
	wcCR       = 'R'
	wcKatakana = 'K'
	wcHiragana = 'H'
	wcKanji    = 'J'
	wcIgnore   = 'I' // non-spacing and enclosing marks
	wcFormat   = 'F' // format characters: invisible to the rules
	wcOther    = 'O'
)

func javaWordCategory(r rune) byte {
	switch {
	case r == '.':
		return wcPeriod
	case r == '\'' || r == '"':
		return wcMidBoth
	case r == ',' || r == '\u066b':
		return wcMidNum
	case r == '\u00ad' || r == '\u2027' || unicode.In(r, unicode.Pd, unicode.Pc):
		return wcMidWord
	case r == '%' || r == '&' || r == '\u00a2' || r == '\u066a' || r == '\u2030' || r == '\u2031':
		return wcPostNum
	case r == '#' || unicode.Is(unicode.Sc, r):
		return wcPreNum
	case r == '\u0964' || r == '\u0965':
		return wcDanda
	case r == '\r':
		return wcCR
	case r == '\n' || r == '\f' || r == '\u2028' || r == '\u2029':
		return wcLineSep
	case r == '\t' || unicode.Is(unicode.Zs, r):
		return wcSpace
	case (r >= '\u3099' && r <= '\u309c') || (r >= '\u30a1' && r <= '\u30fe'):
		return wcKatakana
	case (r >= '\u3041' && r <= '\u309e') || r == '\u30fc':
		return wcHiragana
	case r == '\u3005' || (r >= '\u4e00' && r <= '\u9fa5') || (r >= '\uf900' && r <= '\ufa2d'):
		return wcKanji
	case unicode.Is(unicode.Cf, r):
		return wcFormat
	case unicode.In(r, unicode.Mn, unicode.Me):
		return wcIgnore
	case unicode.In(r, unicode.L, unicode.Mc):
		return wcLetter
	case unicode.Is(unicode.N, r):
		return wcDigit
	}
	return wcOther
}

// javaWordRule is the JDK's word rules over category letters: any single character; words and
// numbers glued together; a number with a leading sign; whitespace runs; kana and kanji runs.
var javaWordRule = sync.OnceValue(func() *scanner {
	word := `L+(?:[WBD]L+)*A?`
	number := `G+(?:[QBD]G+)*`
	glued := `(?:` + number + word + `)*(?:` + number + `P?)?`
	sc, err := newScanner([]lexRule{{name: "java word", head: `(?s:.)|(?:` + word + `)?` + glued + `|[SD]` + glued + `|Z*R?N?|K*|H*|J*`}})
	if err != nil {
		panic("metrics: java word rule: " + err.Error())
	}
	return sc
})

// javaWordEnds marks the word boundaries of rs as Java's word BreakIterator finds them going
// forward: from each boundary, the longest text the rule matches ends the next word. Format
// characters are invisible. Combining marks join the word before them only where that word is
// complete; a mark at the start of a word, or after a dangling joiner ("a." before a combining
// accent), ends it. Checked against Java 17 on random strings of Greek capitals, digits,
// punctuation and marks, all but 1 of 11,364 lower-case alike (the one: a mark after a Devanagari
// danda).
func javaWordEnds(rs []rune) []bool {
	ends := make([]bool, len(rs)+1)
	ends[0], ends[len(rs)] = true, true
	cats := make([]rune, len(rs))
	for i, r := range rs {
		cats[i] = rune(javaWordCategory(r))
	}
	sc := javaWordRule()
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for p := 0; p < len(rs); {
		end := p + 1 // a single character, always
		if cats[p] != wcIgnore {
			d := sc.start
			for q := p; q < len(rs); q++ {
				if cats[q] == wcFormat {
					if q+1 > end && d.accept >= 0 {
						end = q + 1
					}
					continue
				}
				if cats[q] == wcIgnore {
					if d.accept < 0 {
						break // a mark after an incomplete word: the word stops before it
					}
					continue
				}
				if d = sc.step(d, cats[q]); d == dead {
					break
				}
				if d.accept >= 0 {
					end = q + 1
				}
			}
			for end < len(rs) && (cats[end] == wcIgnore || cats[end] == wcFormat) {
				end++
			}
		}
		ends[end] = true
		p = end
	}
	return ends
}
