package metrics

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// The expected tokens below were produced by the CoreNLP jar that pycocoevalcap runs, on the
// caption followed by "\nA " (Tokenize's context), with pycocoevalcap's punctuation removal.
func TestTokenize(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"whitespace only", "   \t ", nil},
		{"punctuation removed", "A dog, a cat; and a bird!", []string{"a", "dog", "a", "cat", "and", "a", "bird"}},
		{"lower-cased", "A RED Bus", []string{"a", "red", "bus"}},
		{"brackets kept as lower-case PTB names", "a man (in red) [x] {y}",
			[]string{"a", "man", "-lrb-", "in", "red", "-rrb-", "-lsb-", "x", "-rsb-", "-lcb-", "y", "-rcb-"}},
		{"contractions split", "it's a dog's toy, don't", []string{"it", "'s", "a", "dog", "'s", "toy", "do", "n't"}},
		{"assimilations split", "I cannot, I'm gonna", []string{"i", "can", "not", "i", "'m", "gon", "na"}},
		{"quotes removed", `a "big" 'dog'`, []string{"a", "big", "dog"}},
		{"curly quotes removed", "\u201cbig\u201d \u2018dog\u2019", []string{"big", "dog"}},
		{"ellipsis and dashes removed", "wait... a -- b", []string{"wait", "a", "b"}},
		{"repeated marks are one token, which pycocoevalcap keeps", "wow!! why?!", []string{"wow", "!!", "why", "?!"}},
		{"hyphenated words kept", "a well-known x-ray", []string{"a", "well-known", "x-ray"}},
		{"abbreviations keep their period", "on Main St. near Mr. Smith", []string{"on", "main", "st.", "near", "mr.", "smith"}},
		{"final single-letter acronym", "a nintendo wii u.", []string{"a", "nintendo", "wii", "u"}},
		{"final acronym", "the U.S.", []string{"the", "u.s."}},
		{"missing space after a period", "a sign.The end", []string{"a", "sign.the", "end"}},
		{"fraction is one token", "3 1/2 pizzas", []string{"3\u00a01/2", "pizzas"}},
		{"money and numbers", "$5 and 1,000.50", []string{"$", "5", "and", "1,000.50"}},
		{"line breaks are spaces", "a dog\r\nruns\u2028fast", []string{"a", "dog", "runs", "fast"}},
		{"java lower-casing", "\u0130STANBUL \u03a3\u0391\u03a3", []string{"i\u0307stanbul", "\u03c3\u03b1\u03c2"}},
		{"final sigma at the end of Java's words", "\u039f\u0394\u039f\u03a3-\u0391\u0398\u0397\u039d\u0391\u03a3 \u03a30\u03a3 \u039f\u0394\u039f\u03a3.",
			[]string{"\u03bf\u03b4\u03bf\u03c3-\u03b1\u03b8\u03b7\u03bd\u03b1\u03c2", "\u03c30\u03c2", "\u03bf\u03b4\u03bf\u03c2"}},
		{"characters beyond the BMP are dropped", "a \U0001F600 dog", []string{"a", "dog"}},
		{"url", "see www.example.com now", []string{"see", "www.example.com", "now"}},
		{"smiley", "happy :)", []string{"happy", ":-rrb-"}},
		{"feet and inches", "5'11\" tall", []string{"5", "11", "tall"}},
		{"upper-case company names", "AT&T and at&t", []string{"at&t", "and", "at", "&", "t"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Tokenize(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Tokenize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestTokenizeLinesSeesNextLine shows the two rules that make pycocoevalcap's result for a caption
// depend on the next caption, which Tokenize fixes to "A ..." (outputs checked with the jar).
func TestTokenizeLinesSeesNextLine(t *testing.T) {
	tests := []struct {
		lines []string
		want  [][]string
	}{
		{[]string{"The letter B.", "A dog."}, [][]string{{"the", "letter", "b"}, {"a", "dog"}}},
		{[]string{"The letter B.", "two dogs."}, [][]string{{"the", "letter", "b."}, {"two", "dogs"}}},
		{[]string{"The letter B."}, [][]string{{"the", "letter", "b."}}},
		{[]string{"a sign that says no.", "2 dogs"}, [][]string{{"a", "sign", "that", "says", "no."}, {"2", "dogs"}}},
		{[]string{"a sign that says no.", "A dog"}, [][]string{{"a", "sign", "that", "says", "no"}, {"a", "dog"}}},
	}
	for _, tt := range tests {
		if got := tokenizeLines(tt.lines); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("tokenizeLines(%q) = %q, want %q", tt.lines, got, tt.want)
		}
	}
}

// rawLines runs the lexer over text like the jar does over its input file and returns each output
// line as the jar prints it: lower-cased tokens joined by spaces, punctuation still in.
func rawLines(text string) []string {
	var out []string
	for _, l := range ptbLexer().lex(toUTF16(text)) {
		out = append(out, strings.Join(l, " "))
	}
	return out
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read fixture: %v (scripts/make_metric_fixtures.py writes it)", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
}

// TestLexerMatchesJarOnProbes compares the raw lexer output with the jar's on hand-written and
// seeded random lines full of the lexer's corner cases.
func TestLexerMatchesJarOnProbes(t *testing.T) {
	var fx struct {
		Probes   []string `json:"probes"`
		JarLines []string `json:"jar_lines"`
	}
	readJSON(t, filepath.Join("testdata", "ptb_probes.json"), &fx)
	got := rawLines(strings.Join(fx.Probes, "\n"))
	if len(got) != len(fx.JarLines) {
		t.Fatalf("%d output lines, the jar printed %d", len(got), len(fx.JarLines))
	}
	bad := 0
	for i := range got {
		if got[i] != fx.JarLines[i] {
			if bad++; bad <= 10 {
				t.Errorf("output line %d:\n got %q\njar %q", i, got[i], fx.JarLines[i])
			}
		}
	}
	t.Logf("%d probe lines, %d output lines, %d differ from the jar", len(fx.Probes), len(got), bad)
}

// isJarLineBreak reports the characters that end a line for the jar.
func isJarLineBreak(r rune) bool {
	switch r {
	case '\n', '\v', '\f', '\r', '\u0085', '\u2028', '\u2029':
		return true
	}
	return false
}

// TestLexerMatchesJarOnEveryBMPCharacter compares, block by block, the lexer's output with the
// jar's for one probe line per BMP character; this pins the Unicode tables of ptbunicode.go.
func TestLexerMatchesJarOnEveryBMPCharacter(t *testing.T) {
	var fx struct {
		Probe    string   `json:"probe"`
		BlockSHA []string `json:"block_sha"`
	}
	readJSON(t, filepath.Join("testdata", "ptb_bmp.json"), &fx)
	if len(fx.BlockSHA) != 256 {
		t.Fatalf("fixture has %d block hashes, want 256", len(fx.BlockSHA))
	}
	var chars []rune
	var lines []string
	for r := rune(0); r <= 0xffff; r++ {
		if isJarLineBreak(r) || (r >= 0xd800 && r <= 0xdfff) {
			continue
		}
		chars = append(chars, r)
		lines = append(lines, strings.ReplaceAll(fx.Probe, "{c}", string(r)))
	}
	got := rawLines(strings.Join(lines, "\n"))
	if len(got) != len(chars) {
		t.Fatalf("%d output lines for %d probe lines", len(got), len(chars))
	}
	blocks := make([][]string, 256)
	for i, r := range chars {
		blocks[r>>8] = append(blocks[r>>8], got[i])
	}
	for b := range blocks {
		if h := shortHash(strings.Join(blocks[b], "\n")); h != fx.BlockSHA[b] {
			t.Errorf("characters U+%02X00-U+%02XFF: output hash %s, the jar's %s", b, b, h, fx.BlockSHA[b])
		}
	}
}

// shortHash is the fixture script's short_hash: 8 hex digits of SHA-256.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}

// cocoSampleDir returns the folder of real COCO reference captions: $CAPTUNE_COCO_SAMPLE, else where
// the development machines keep it beside the checkout. The repository does not hold it: without
// it the test skips.
func cocoSampleDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("CAPTUNE_COCO_SAMPLE")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "data", "coco_captions_sample")
	}
	if _, err := os.Stat(filepath.Join(dir, "magic_result.json")); err != nil {
		t.Skipf("skipped: needs the real COCO captions (looked in %s; set CAPTUNE_COCO_SAMPLE to a folder holding magic_result.json): %v", dir, err)
	}
	return dir
}

// cocoSample is the shared folder's content.
type cocoSample struct {
	ids     []int            // magic_result.json order
	refs    map[int][]string // reference captions
	preds   map[int]string   // MAGIC predictions
	fakeIDs []int            // captions_val2014_fakecap_results.json order
	fake    map[int]string   // fakecap candidates
	sha     map[string]string
}

func loadCOCOSample(t testing.TB) *cocoSample {
	t.Helper()
	dir := cocoSampleDir(t)
	s := &cocoSample{refs: map[int][]string{}, preds: map[int]string{}, fake: map[int]string{}, sha: map[string]string{}}
	var magic []struct {
		ImageName  string   `json:"image_name"`
		Captions   []string `json:"captions"`
		Prediction string   `json:"prediction"`
	}
	var fake []struct {
		ImageID int    `json:"image_id"`
		Caption string `json:"caption"`
	}
	for name, v := range map[string]any{"magic_result.json": &magic, "captions_val2014_fakecap_results.json": &fake} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		s.sha[name] = hex.EncodeToString(sum[:])
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
	}
	for _, m := range magic {
		stem := strings.TrimSuffix(m.ImageName[strings.LastIndexByte(m.ImageName, '_')+1:], filepath.Ext(m.ImageName))
		id, err := strconv.Atoi(stem)
		if err != nil {
			t.Fatalf("image name %q: %v", m.ImageName, err)
		}
		s.ids = append(s.ids, id)
		s.refs[id] = m.Captions
		s.preds[id] = m.Prediction
	}
	for _, f := range fake {
		s.fakeIDs = append(s.fakeIDs, f.ImageID)
		s.fake[f.ImageID] = f.Caption
	}
	return s
}

// checkSource fails when the shared captions are not the ones the fixture was made from.
func (s *cocoSample) checkSource(t testing.TB, fixture map[string]string) {
	t.Helper()
	for name, want := range fixture {
		if s.sha[name] != want {
			t.Fatalf("%s has sha256 %s, the fixture was made from %s: rerun scripts/make_metric_fixtures.py", name, s.sha[name], want)
		}
	}
}

// TestTokenizeCOCOCaptions compares the tokenization of every caption of the shared COCO sample
// (24,920 references, 4,982 MAGIC predictions, 1,000 fakecap captions) with pycocoevalcap's, both
// in pycocoevalcap's own context (all references in one run) and caption by caption (Tokenize).
func TestTokenizeCOCOCaptions(t *testing.T) {
	s := loadCOCOSample(t)
	var fx struct {
		Source           map[string]string `json:"source"`
		MagicImageIDs    []int             `json:"magic_image_ids"`
		MagicRefs        []string          `json:"magic_refs"`
		MagicPredictions []string          `json:"magic_predictions"`
		FakecapImageIDs  []int             `json:"fakecap_image_ids"`
		Fakecap          []string          `json:"fakecap"`
	}
	readJSON(t, filepath.Join("testdata", "ptb_tokens.json"), &fx)
	s.checkSource(t, fx.Source)
	if !reflect.DeepEqual(fx.MagicImageIDs, s.ids) || !reflect.DeepEqual(fx.FakecapImageIDs, s.fakeIDs) {
		t.Fatal("fixture image ids differ from the shared folder's order")
	}

	// The three runs of pycocoevalcap's tokenizer, each caption with its pycocoevalcap hash.
	type run struct {
		name   string
		lines  []string
		hashes []string
	}
	var refs, preds, fake run
	refs.name, preds.name, fake.name = "references", "MAGIC predictions", "fakecap captions"
	for i, id := range s.ids {
		if len(fx.MagicRefs[i]) != 8*len(s.refs[id]) {
			t.Fatalf("image %d: fixture has %d reference hashes, the folder %d captions", id, len(fx.MagicRefs[i])/8, len(s.refs[id]))
		}
		for j, c := range s.refs[id] {
			refs.lines = append(refs.lines, c)
			refs.hashes = append(refs.hashes, fx.MagicRefs[i][8*j:8*j+8])
		}
		preds.lines = append(preds.lines, s.preds[id])
		preds.hashes = append(preds.hashes, fx.MagicPredictions[i])
	}
	for i, id := range s.fakeIDs {
		fake.lines = append(fake.lines, s.fake[id])
		fake.hashes = append(fake.hashes, fx.Fakecap[i])
	}

	total, sameInContext, sameAlone := 0, 0, 0
	for _, r := range []run{refs, preds, fake} {
		inContext := tokenizeLines(r.lines)
		if len(inContext) != len(r.lines) {
			t.Fatalf("%s: %d lines in, %d out", r.name, len(r.lines), len(inContext))
		}
		bad := 0
		for i, line := range r.lines {
			total++
			if shortHash(strings.Join(inContext[i], " ")) == r.hashes[i] {
				sameInContext++
			} else if bad++; bad <= 5 {
				t.Errorf("%s %d: %q tokenizes to %q in pycocoevalcap's context, which differs from pycocoevalcap", r.name, i, line, inContext[i])
			}
			alone := Tokenize(line)
			if shortHash(strings.Join(alone, " ")) == r.hashes[i] {
				sameAlone++
			} else if bad++; bad <= 5 {
				t.Errorf("%s %d: Tokenize(%q) = %q differs from pycocoevalcap", r.name, i, line, alone)
			}
		}
	}
	t.Logf("%d captions: %d tokenized exactly as pycocoevalcap in its context, %d by Tokenize alone", total, sameInContext, sameAlone)
}

// FuzzTokenize checks properties that hold for any input: tokens are non-empty, hold no space and
// no line break, are valid UTF-8, are not punctuation pycocoevalcap drops, and a caption without
// line breaks tokenizes the same through Tokenize and through the multi-line path.
func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"", "A man (in red) rides a bike.", "it's a \"big\" dog's toy; don't", "The letter B.",
		"3 1/2 pizzas", "e.g. U.S. St. etc.", "www.example.com a@b.com", ":) ^_^", "\u0130 \u03a3\u0391\u03a3", "a\x00b\x7f",
		"\U0001F600 \xff\xfe", "&amp; &quot; &lt;b&gt;", "--- ... . . .", "cannot 'twas gonna", "<a href='x'>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		toks := Tokenize(s)
		for _, tok := range toks {
			if tok == "" || strings.ContainsAny(tok, " \n") || !utf8.ValidString(tok) || ptbPunctuation[tok] {
				t.Fatalf("Tokenize(%q) = %q: bad token %q", s, toks, tok)
			}
		}
		if strings.ContainsFunc(s, isJarLineBreak) {
			return
		}
		lines := tokenizeLines([]string{s, "A "})
		if len(lines) != 2 {
			t.Fatalf("tokenizeLines(%q, \"A \") gave %d lines", s, len(lines))
		}
		if fmt.Sprint(lines[0]) != fmt.Sprint(toks) {
			t.Fatalf("Tokenize(%q) = %q but the multi-line path gives %q", s, toks, lines[0])
		}
	})
}
