package metrics

import (
	"strings"
	"unicode"
)

// The token grammar of Stanford CoreNLP 3.4.1's PTBLexer (the jar that pycocoevalcap 1.2 runs),
// written out as Go regular expressions. It follows that lexer's behaviour with its default options
// (ptb3Escaping: brackets become -LRB- and friends, quotes become `` and '', long dashes --,
// ellipses ..., no americanization, no slash escaping, non-strict Treebank 3 mode), which is what
// `PTBTokenizer -preserveLines -lowerCase` uses. The tests hold it to the jar's output on every
// caption of the shared COCO sample, on 1,591 corner-case lines and on every BMP character.
//
// The lexer is caseless: a literal letter matches both cases, but a character class does not, so
// [A]bout matches "About" but not "about". ci() spells a literal the caseless way; classes are
// written as they are.

// ci returns a pattern matching s with every ASCII letter in either case and every other
// character literally.
func ci(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 128 && unicode.IsLetter(r):
			b.WriteString("[" + string(unicode.ToLower(r)) + string(unicode.ToUpper(r)) + "]")
		case strings.ContainsRune(`\.+*?()|[]{}^$&-#'"`, r):
			b.WriteString(`\` + string(r))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// alt joins alternatives into one non-capturing group.
func alt(parts ...string) string { return "(?:" + strings.Join(parts, "|") + ")" }

// ciAlt is alt over caseless literals.
func ciAlt(words ...string) string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = ci(w)
	}
	return alt(out...)
}

// ptbPieces are the named building blocks of the grammar.
type ptbPieces struct {
	space, spaceNL, spaceNLs, newline, sentEnd, sgml                               string
	digit, date, number, subSupNum, frac, frac2, dolSign, dolSign2                 string
	letter, word, filename, thing, thingA, thing3, hthing                          string
	apos, aposEtc, redAux, sword, sredAux, apoWord, apoWord2                       string
	fullURL, likelyURL, email, twitter                                             string
	abbrev1, abbrev2, abbrev3, abbrev4, acro, acronym, acronymNext                 string
	phone, ldots, fnMarks, asts, inSentP, quotes, dblQuot, tbSpec, tbSpec2         string
	smiley, asianSmiley, miscSymbol, spMDash, spAmp, spPunc, lessThan, greaterThan string
	letterClass, digitClass                                                        string // the jar's [:letter:], [:digit:]
}

func buildPTBPieces() ptbPieces {
	var p ptbPieces
	// The Unicode classes of the jar's tables (ptbunicode.go), not Go's newer ones.
	letterClass := bmpClass(jarIsLetter)
	digitClass := bmpClass(jarIsDigit)
	p.letterClass, p.digitClass = letterClass, digitClass
	upperClass := bmpClass(jarIsUpper)
	alnum := bmpClass(func(r rune) bool { return jarIsLetter(r) || jarIsDigit(r) })
	p.space = `[ \t\x{00A0}\x{2000}-\x{200A}\x{3000}]`
	p.newline = `(?:\r|\r?\n|\x{2028}|\x{2029}|\x0B|\x0C|\x{0085})`
	p.spaceNL = alt(p.space, p.newline)
	p.spaceNLs = "(?:" + p.spaceNL + ")+"

	name := `[A-Za-z][A-Za-z0-9_:.\-]*`
	p.sgml = `<(?:[!?][A-Za-z\-][^>\r\n]*|` + name + `(?:[ ]+(?:` + name + `|` + name +
		`[ ]*=[ ]*(?:'[^']*'|"[^"]*")))*[ ]*/?|/` + name + `)[ ]*>`
	p.sentEnd = p.spaceNL + alt(p.spaceNL, upperClass, p.sgml)

	p.digit = alt(digitClass, `[\x{07C0}-\x{07C9}]`)
	d := p.digit
	p.date = d + `{1,2}[\-/]` + d + `{1,2}[\-/]` + d + `{2,4}`
	num := alt(d+`+`, d+`*(?:[.:,\x{00AD}\x{066B}\x{066C}]`+d+`+)+`)
	p.number = `[\-+]?` + num
	p.subSupNum = `[\x{207A}\x{207B}\x{208A}\x{208B}]?(?:[\x{2070}\x{00B9}\x{00B2}\x{00B3}\x{2074}-\x{2079}]+|[\x{2080}-\x{2089}]+)`
	p.frac = `(?:` + d + `{1,4}[\- \x{00A0}])?` + d + `{1,4}(?:\\?/|\x{2044})` + d + `{1,4}`
	p.frac2 = `[\x{00BC}\x{00BD}\x{00BE}\x{2153}-\x{215E}]`
	p.dolSign = `(?:[A-Z]*\$|#)`
	p.dolSign2 = `[\x{00A2}\x{00A3}\x{00A4}\x{00A5}\x{0080}\x{20A0}\x{20AC}\x{060B}\x{0E3F}\x{20A4}\x{FFE0}\x{FFE1}\x{FFE5}\x{FFE6}]`

	spLet := `&[aeiouAEIOU]` + ciAlt("acute", "grave", "uml") + `;`
	p.letter = alt(letterClass, spLet, `[\x{00AD}\x{0237}-\x{024F}\x{02C2}-\x{02C5}\x{02D2}-\x{02DF}\x{02E5}-\x{02FF}`+
		`\x{0300}-\x{036F}\x{0370}-\x{037D}\x{0384}\x{0385}\x{03CF}\x{03F6}\x{03FC}-\x{03FF}\x{0483}-\x{0487}`+
		`\x{04CF}\x{04F6}-\x{04FF}\x{0510}-\x{0525}\x{055A}-\x{055F}\x{0591}-\x{05BD}\x{05BF}\x{05C1}\x{05C2}`+
		`\x{05C4}\x{05C5}\x{05C7}\x{0615}-\x{061A}\x{063B}-\x{063F}\x{064B}-\x{065E}\x{0670}\x{06D6}-\x{06EF}`+
		`\x{06FA}-\x{06FF}\x{070F}\x{0711}\x{0730}-\x{074F}\x{0750}-\x{077F}\x{07A6}-\x{07B1}\x{07CA}-\x{07F5}`+
		`\x{07FA}\x{0900}-\x{0903}\x{093C}\x{093E}-\x{094E}\x{0951}-\x{0955}\x{0962}-\x{0963}\x{0981}-\x{0983}`+
		`\x{09BC}-\x{09C4}\x{09C7}\x{09C8}\x{09CB}-\x{09CD}\x{09D7}\x{09E2}\x{09E3}\x{0A01}-\x{0A03}\x{0A3C}`+
		`\x{0A3E}-\x{0A4F}\x{0A81}-\x{0A83}\x{0ABC}-\x{0ACF}\x{0B82}\x{0BBE}-\x{0BC2}\x{0BC6}-\x{0BC8}`+
		`\x{0BCA}-\x{0BCD}\x{0C01}-\x{0C03}\x{0C3E}-\x{0C56}\x{0D3E}-\x{0D44}\x{0D46}-\x{0D48}\x{0E30}-\x{0E3A}`+
		`\x{0E47}-\x{0E4E}\x{0EB1}-\x{0EBC}\x{0EC8}-\x{0ECD}]`)
	ld := alt(p.letter, d)
	p.word = p.letter + ld + `*(?:[.!?]` + p.letter + ld + `*)*`
	p.filename = ld + `+(?:[.]` + ld + `+)*(?:[.]` + ciAlt("bat", "bmp", "c", "class", "cgi", "cpp", "dll", "doc",
		"docx", "exe", "gif", "gz", "h", "htm", "html", "jar", "java", "jpeg", "jpg", "mov", "mp3", "pdf", "php",
		"pl", "png", "ppt", "ps", "py", "sql", "tar", "txt", "wav", "x", "xml", "zip") + `)`

	p.apos = alt(`['\x{0092}\x{2019}]`, ci("&apos;"))
	p.aposEtc = alt(p.apos, "[`\\x{0091}\\x{2018}\\x{201B}]")
	hyphen := `[\-_\x{058A}\x{2010}\x{2011}]`
	elision := `(?:[dDoOlL]` + p.aposEtc + alnum + `)?`
	p.thing = elision + alnum + `+(?:` + hyphen + elision + alnum + `+)*`
	spAmp := ci("&amp;")
	p.thingA = `[A-Z]+(?:(?:[+&]|` + spAmp + `)[A-Z]+)+`
	p.thing3 = `[A-Za-z0-9]+(?:-[A-Za-z]+){0,2}(?:\\?/[A-Za-z0-9]+(?:-[A-Za-z]+){0,2}){1,2}`

	acroTail := alt(ciAlt("Canada", "Sino", "Korean", "EU", "Japan", "non")+`-`+ci("U.S"), ci("U.S.-")+ciAlt("U.K", "U.S.S.R"))
	p.acro = alt(`[A-Za-z](?:\.[A-Za-z])*`, acroTail)
	acro2 := alt(`[A-Za-z](?:\.[A-Za-z])+`, acroTail)
	p.hthing = `[A-Za-z0-9][A-Za-z0-9.,\x{00AD}]*(?:-(?:[A-Za-z0-9\x{00AD}]+|` + acro2 + `\.))+`

	p.redAux = p.apos + alt(`[msdMSD]`, ci("re"), ci("ve"), ci("ll"))
	p.sword = `[A-Za-z\x{00AD}]*[A-MO-Za-mo-z]\x{00AD}*`
	p.sredAux = ci("n") + p.aposEtc + ci("t")
	a, ae := p.apos, p.aposEtc
	p.apoWord = alt(
		a+ci("n")+a+`?`,
		`[lLdDjJ]`+a,
		ci("Dunkin")+a,
		ci("somethin")+a,
		ci("ol")+a,
		a+ci("em"),
		`[A-HJ-XZn]`+ae+letterClass+`{2}`+letterClass+`*`,
		a+`[2-9]0`+ci("s"),
		a+ci("til")+ci("l")+`?`,
		letterClass+letterClass+`*[aeiouyAEIOUY]`+ae+`[aeiouA-Z]`+letterClass+`*`,
		a+ci("cause"),
		ci("cont'd")+`\.?`,
		ci("'twas"), ci("nor'easter"), ci("c'mon"), ci("e'er"), ci("s'mores"), ci("ev'ry"), ci("li'l"), ci("nat'l"),
		ci("O")+ae+ci("o"),
	)
	p.apoWord2 = ci("y") + a

	p.fullURL = ci("http") + ci("s") + `?://[^ \t\n\f\r"<>|(){}]+[^ \t\n\f\r"<>|.!?(){},\-]`
	// ",-_" in the second class is a range (comma to underscore), as in the original grammar.
	p.likelyURL = `(?:(?:` + ci("www.") + `(?:[^ \t\n\f\r"<>|.!?(){},]+\.)+[a-zA-Z]{2,4})|(?:(?:[^ \t\n\f\r"` + "`" +
		`'<>|.!?(){},-_$]+\.)+` + ciAlt("com", "net", "org", "edu") + `))(?:/[^ \t\n\f\r"<>|()]+[^ \t\n\f\r"<>|.!?(){},\-])?`
	p.email = `(?:` + ci("&lt;") + `|<)?[a-zA-Z0-9][^ \t\n\f\r"<>|()\x{00A0}{}]*@(?:[^ \t\n\f\r"<>|(){}.\x{00A0}]+\.)*` +
		`(?:[^ \t\n\f\r"<>|(){}.\x{00A0}]+)(?:` + ci("&gt;") + `|>)?`
	p.twitter = alt(`@[a-zA-Z_][a-zA-Z_0-9]*`, `#`+p.letter+`+`)

	// Abbreviations. A leading class such as [A] keeps the first letter upper case only.
	abMonth := ciAlt("Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec")
	abDays := ciAlt("Mon", "Tue", "Tues", "Wed", "Thu", "Thurs", "Fri")
	abState := alt(ci("Ala"), ci("Ariz"), `A`+ci("z"), `A`+ci("rk"), ci("Calif"), ci("Colo"), ci("Conn"), ci("Ct"),
		ci("Dak"), `D`+ci("el"), ci("Fla"), ci("Ga"), `I`+ci("ll"), ci("Ind"), ci("Kan")+ci("s")+`?`, ci("Ky"),
		`L`+ci("a"), `M`+ci("ass"), ci("Md"), ci("Mich"), ci("Minn"), `M`+ci("iss"), ci("Mo"), ci("Mont"), ci("Neb"),
		ci("Nev"), ci("Okla"), `O`+ci("re"), `P`+ci("a"), ci("Penn"), ci("Tenn"), `T`+ci("ex"), ci("Va"), ci("Vt"),
		`W`+ci("ash"), ci("Wis")+ci("c")+`?`, ci("Wyo"))
	abComp := alt(ci("Inc"), ci("Co")+ci("s")+`?`, ci("Corp"), ci("P")+ci("p")+`?`+ci("t")+`[ye]`+ci("s")+`?`,
		ci("Ltd"), ci("Plc"), ci("Rt"), ci("Bancorp"), ci("Bhd"), ci("Assn"), ci("Univ"), ci("Intl"), ci("Sys"))
	abNum := ciAlt("tel", "est", "ext", "sq")
	abPTit := alt(ci("Jr"), ci("Sr"), ci("Bros"), ciAlt("Ed", "Ph")+`\.`+ci("D"), ci("Blvd"), ci("Rd"), ci("Esq"))
	p.abbrev1 = alt(abMonth, abDays, abState, abComp, abNum, abPTit, ci("etc"), ci("al"), ci("seq"), ci("Bldg")) + `\.`

	abTitle := alt(ci("Mr"), ci("Mrs"), ci("Ms"), `M`+ci("iss"), ci("Dr")+ci("s")+`?`, ci("Prof")+ci("s")+`?`,
		ci("Sen")+ci("s")+`?`, ci("Rep")+ci("s")+`?`, ci("Atty")+ci("s")+`?`, ci("Lt"), ci("Col"), ci("Gen"),
		ci("Messrs"), ci("Gov")+ci("s")+`?`, ci("Adm"), ci("Rev"), ci("Maj"), ci("Sgt"), ci("Cpl"), ci("Pvt"),
		ci("Capt"), ci("St")+ci("e")+`?`, ci("Ave"), ci("Pres"), ci("Lieut"), ci("Hon"), ci("Brig"),
		ci("C")+ci("o")+`?`+ci("mdr"), ci("Pfc"), ci("Spc"), ci("Supt")+ci("s")+`?`, ci("Det"), ci("Mt"), ci("Ft"),
		ci("Adj"), ci("Adv"), ci("Asst"), ci("Assoc"), ci("Ens"), ci("Insp"), ci("Mlle"), ci("Mme"), ci("Msgr"), ci("Sfc"))
	abComp2 := alt(ci("Invt"), ci("Elec"), ci("Natl"), ci("M")+`[ft]`+ci("g"), ci("Dept"))
	p.abbrev4 = alt(abTitle, ci("vs"), ci("Alex"), ci("Wm"), ci("Jos"), ci("Cie"), ci("a.k.a"), ci("cf"), ci("TREAS"),
		ci("Ph"), p.acro, abComp2)
	p.abbrev2 = p.abbrev4 + `\.`
	p.acronym = p.acro + `\.`
	p.abbrev3 = ciAlt("ca", "fig", "figs", "prop", "no", "nos", "art", "bldg", "pp", "op") + `\.`

	// Words after which an acronym's period is taken to end the sentence. The first letter is a
	// class, so only the capitalized word counts.
	var next []string
	for _, w := range []string{"About", "According", "Additionally", "After", "An", "A", "As", "At", "But",
		"Earlier", "He", "Her", "Here", "However", "If", "In", "It", "Last", "Many", "More", "Mr.", "Ms.", "Now",
		"Once", "One", "Other", "Our", "She", "Since", "So", "Some", "Such", "That", "The", "Their", "Then", "There",
		"These", "They", "This", "We", "When", "While", "What", "Yet", "You"} {
		next = append(next, w[:1]+ci(w[1:]))
	}
	next = append(next, p.sgml)
	p.acronymNext = p.spaceNLs + alt(next...) + p.spaceNL

	p.phone = alt(
		`(?:\([0-9]{2,3}\)[ \x{00A0}]?|(?:\+\+?)?(?:[0-9]{2,4}[\- \x{00A0}])?[0-9]{2,4}[\- \x{00A0}])[0-9]{3,4}[\- \x{00A0}]?[0-9]{3,5}`,
		`(?:(?:\+\+?)?[0-9]{2,4}\.)?[0-9]{2,4}\.[0-9]{3,4}\.[0-9]{3,5}`)
	p.ldots = alt(`\.{3,5}`, `(?:\.[ \x{00A0}]){2,4}\.`, `[\x{0085}\x{2026}]`)
	p.fnMarks = alt(`@+`, `#+`, `_+`)
	p.asts = alt(`\*+`, `(?:\\\*){1,3}`)
	p.inSentP = `[,;:\x{3001}]`
	p.quotes = alt(p.apos, `''`, "[`\\x{2018}\\x{2019}\\x{201A}\\x{201B}\\x{201C}\\x{201D}\\x{0091}\\x{0092}\\x{0093}\\x{0094}\\x{201E}\\x{201F}\\x{2039}\\x{203A}\\x{00AB}\\x{00BB}]{1,2}")
	p.dblQuot = alt(`"`, ci("&quot;"))
	p.tbSpec = alt(`-`+ciAlt("RRB", "LRB", "RCB", "LCB", "RSB", "LSB")+`-`, ci("C.D.s"), ci("pro-"), ci("anti-"),
		ci("S")+alt(`&`, spAmp)+ci("P-500"), ci("S")+alt(`&`, spAmp)+ci("Ls"), ci("Cap")+a+ci("n"), ci("c")+a+ci("est"))
	p.tbSpec2 = a + `[0-9][0-9]`

	p.smiley = `[<>]?[:;=][\-o*']?[()DPdpO\\{@|\[\]]`
	// The first alternative's second half is literal text ("[^x=~<>]" with a caseless x), because the
	// original grammar escapes its opening bracket.
	p.asianSmiley = alt(`[\^x=~<>]\.\[\^`+ci("x")+`=~<>\]`, `[\-\^x=~<>']_[\-\^x=~<>']`,
		`\([\-\^x=~<>'][_.]?[\-\^x=~<>']\)`, "\\([\\^x=~<>']-[\\^x=~<>'`]\\)")
	p.miscSymbol = `[+%&~\^|\\\x{00A6}\x{00A7}\x{00A8}\x{00A9}\x{00AC}\x{00AE}\x{00AF}\x{00B0}-\x{00B3}\x{00B4}-\x{00BA}` +
		`\x{00D7}\x{00F7}\x{0387}\x{05BE}\x{05C0}\x{05C3}\x{05C6}\x{05F3}\x{05F4}\x{0600}-\x{0603}\x{0606}-\x{060A}` +
		`\x{060C}\x{0614}\x{061B}\x{061E}\x{066A}\x{066D}\x{0703}-\x{070D}\x{07F6}\x{07F7}\x{07F8}\x{0964}\x{0965}` +
		`\x{0E4F}\x{1FBD}\x{2016}\x{2017}\x{2020}-\x{2023}\x{2030}-\x{2038}\x{203B}\x{203E}-\x{2042}\x{2044}` +
		`\x{207A}-\x{207F}\x{208A}-\x{208E}\x{2100}-\x{214F}\x{2190}-\x{21FF}\x{2200}-\x{2BFF}\x{3012}\x{30FB}` +
		`\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF20}\x{FF3B}-\x{FF40}\x{FF5B}-\x{FF65}]`
	p.spMDash = alt(`&`+ciAlt("MD", "mdash", "ndash")+`;`, `[\x{0096}\x{0097}\x{2013}\x{2014}\x{2015}]`)
	p.spAmp = spAmp
	p.spPunc = `&` + alt(ciAlt("HT", "TL", "UR", "LR", "QC", "QL", "QR", "odq", "cdq"), `#[0-9]+`) + `;`
	p.lessThan = alt(`<`, ci("&lt;"))
	p.greaterThan = alt(`>`, ci("&gt;"))
	return p
}

// ptbAction says what a rule does with the text it matched.
type ptbAction int

const (
	actKeep          ptbAction = iota // the matched text is the token
	actSkip                           // whitespace and ignorable characters: no token
	actNewline                        // a line break: ends the current output line
	actUntokenizable                  // a character no rule knows: deleted, as the jar's default does
	actSplitLast3                     // cannot, 'twas: the token is all but the last 3 characters
	actSplitLast2                     // 'tis, gonna: all but the last 2
	actSoftHyphens                    // remove soft hyphens (U+00AD)
	actAmp                            // &amp; becomes &
	actSpaceToNBSP                    // spaces inside the token become U+00A0
	actPhone                          // spaces to U+00A0 and round brackets to -LRB- -RRB-
	actParens                         // round brackets to -LRB- -RRB- (smileys)
	actMDash                          // --
	actFraction                       // ¼ ½ ¾ ⅓ ⅔ spelled as 1/4 and so on
	actCurrency                       // ¢ £ and euro-like signs become cents, #, $
	actQuoteLeft                      // quotes normalized as opening quotes
	actQuoteRight                     // quotes normalized as closing quotes
	actAcronymEnd                     // sentence-final acronym: see ptbRule.apply
	actAbbrevEnd                      // sentence-final abbreviation: the token, then its period again
	actHyphens                        // 3 or 4 hyphens become --
	actEllipsis                       // ...
	actLessThan                       // <
	actGreaterThan                    // >
	actFixed                          // the rule's fixed output text
)

// ptbRule is a rule with its action.
type ptbRule struct {
	lexRule
	act   ptbAction
	fixed string // output of actFixed
}

// ptbRules returns the rules in priority order.
func ptbRules() []ptbRule {
	p := buildPTBPieces()
	r := func(name, head, trail string, act ptbAction) ptbRule {
		return ptbRule{lexRule: lexRule{name: name, head: head, trail: trail}, act: act}
	}
	fixed := func(name, head, out string) ptbRule {
		return ptbRule{lexRule: lexRule{name: name, head: head}, act: actFixed, fixed: out}
	}
	notLetter := `[^A-Za-z]`
	return []ptbRule{
		r("c++", ci("c")+`\+\+`, "", actKeep),
		r("c#", `[cCfF]#`, "", actKeep),
		r("cannot", ci("cannot"), "", actSplitLast3),
		r("'twas", ci("'twas"), "", actSplitLast3),
		r("'tis", ci("'tis"), "", actSplitLast2),
		r("gonna", ciAlt("gonna", "gotta", "lemme", "gimme", "wanna"), "", actSplitLast2),
		r("sgml", p.sgml, "", actSpaceToNBSP),
		r("spmdash", p.spMDash, "", actMDash),
		r("spamp", p.spAmp, "", actAmp),
		r("sppunc", p.spPunc, "", actKeep),
		r("word/redaux", p.word, p.redAux, actSoftHyphens),
		r("sword/sredaux", p.sword, p.sredAux, actSoftHyphens),
		r("word", p.word, "", actSoftHyphens),
		r("apoword", p.apoWord, "", actKeep),
		r("apoword2", p.apoWord2, p.letterClass, actKeep),
		r("fullurl", p.fullURL, "", actKeep),
		r("likelyurl", p.likelyURL, "", actKeep),
		r("email", p.email, "", actKeep),
		r("twitter", p.twitter, "", actKeep),
		r("redaux/", p.redAux, notLetter, actQuoteRight),
		r("sredaux/", p.sredAux, notLetter, actQuoteRight),
		r("date", p.date, "", actKeep),
		r("number", p.number, "", actSoftHyphens),
		r("subsupnum", p.subSupNum, "", actKeep),
		r("frac", p.frac, "", actSpaceToNBSP),
		r("frac2", p.frac2, "", actFraction),
		r("tbspec", p.tbSpec, "", actAmp),
		r("thing3", p.thing3, "", actKeep),
		r("dolsign", p.dolSign, "", actKeep),
		r("dolsign2", p.dolSign2, "", actCurrency),
		r("acronym/", p.acronym, p.acronymNext, actAcronymEnd),
		r("abbrev3/", p.abbrev3, p.spaceNL+`?`+p.digitClass, actKeep),
		r("pty./ltd", alt(ci("pt")+`[eyEY]`, ci("co"))+`\.`, p.space+ciAlt("ltd", "lim"), actKeep),
		r("abbrev1/sentend", p.abbrev1, p.sentEnd, actAbbrevEnd),
		r("abbrev1/..", p.abbrev1, `[\x00-\x{10FFFF}][\x00-\x{10FFFF}]`, actKeep),
		r("abbrev1", p.abbrev1, "", actAbbrevEnd),
		r("abbrev2", p.abbrev2, "", actKeep),
		r("abbrev4/", p.abbrev4, p.space, actKeep),
		r("acro/", p.acro, p.spaceNL, actKeep),
		r("tbspec2/", p.tbSpec2, p.spaceNL, actKeep),
		r("filename/", p.filename, alt(p.spaceNL, `[.?!,]`), actKeep),
		r("word./", p.word+`\.`, p.inSentP, actSoftHyphens),
		r("phone", p.phone, "", actPhone),
		r("dblquot/", p.dblQuot, `[A-Za-z0-9$]`, actQuoteLeft),
		r("dblquot", p.dblQuot, "", actQuoteRight),
		r("del", `\x7f`, "", actSkip),
		r("lessthan", p.lessThan, "", actLessThan),
		r("greaterthan", p.greaterThan, "", actGreaterThan),
		r("smiley/", p.smiley, `[^A-Za-z0-9]`, actParens),
		r("asiansmiley", p.asianSmiley, "", actParens),
		fixed("{", `\{`, "-LCB-"),
		fixed("}", `\}`, "-RCB-"),
		fixed("[", `\[`, "-LSB-"),
		fixed("]", `\]`, "-RSB-"),
		fixed("(", `\(`, "-LRB-"),
		fixed(")", `\)`, "-RRB-"),
		r("hyphens", `-+`, "", actHyphens),
		r("ldots", p.ldots, "", actEllipsis),
		r("fnmarks", p.fnMarks, "", actKeep),
		r("asts", p.asts, "", actKeep),
		r("insentp", p.inSentP, "", actKeep),
		r("?!", `[?!]+`, "", actKeep),
		r("sentence-final", `[.¡¿\x{037E}\x{0589}\x{061F}\x{06D4}\x{0700}-\x{0702}\x{07FA}\x{3002}]`, "", actKeep),
		r("=", `=`, "", actKeep),
		r("/", `/`, "", actKeep),
		r("hthing./", p.hthing+`\.`, p.inSentP, actSoftHyphens),
		r("hthing", p.hthing, "", actSoftHyphens),
		r("thing./", p.thing+`\.`, p.inSentP, actKeep),
		r("thing", p.thing, "", actKeep),
		r("thinga./", p.thingA+`\.`, p.inSentP, actAmp),
		r("thinga", p.thingA, "", actAmp),
		r("'/", `'`, `[A-Za-z][^ \t\n\r\x{00A0}]`, actQuoteLeft),
		r("redaux", p.redAux, "", actQuoteRight),
		r("sredaux", p.sredAux, "", actQuoteRight),
		r("quotes", p.quotes, "", actQuoteRight),
		r("fakeduckfeet", `<<|>>`, "", actKeep),
		r("miscsymbol", p.miscSymbol, "", actKeep),
		r("space", alt(`\x00`, p.space+`+`, `[\x{200B}\x{200E}-\x{200F}\x{FEFF}]`), "", actSkip),
		r("newline", p.newline, "", actNewline),
		r("&nbsp;", ci("&nbsp;"), "", actSkip),
		r("any", `[^\n]`, "", actUntokenizable),
	}
}
