package tokenizer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The fixtures are written by scripts/make_tokenizer.py with transformers' BertTokenizerFast.
const (
	fullDir      = "../testdata/tokenizer"            // tokenizer.json and the config files
	vocabOnlyDir = "../testdata/tokenizer_vocab_only" // vocab.txt + tokenizer_config.json + special_tokens_map.json
	casesFile    = "../testdata/tokenizer_cases.json"
	sweepFile    = "../testdata/tokenizer_normalizer_sweep.json"
)

// sharedCOCO is the folder of real COCO reference captions (magic_result.json) the parity test
// reads in place: $CAPTUNE_COCO_SAMPLE, else where the development machines keep it beside the
// checkout. The repository does not hold it; without it the test skips.
var sharedCOCO = cocoSample(filepath.Join("..", "..", "..", "shared", "data", "coco_captions_sample"))

func cocoSample(fallback string) string {
	if d := os.Getenv("CAPTUNE_COCO_SAMPLE"); d != "" {
		return d
	}
	return fallback
}

type textCase struct {
	Name               string           `json:"name"`
	Text               string           `json:"text"`
	IDs                []int            `json:"ids"`
	Truncated          map[string][]int `json:"truncated"`
	Decoded            string           `json:"decoded"`
	DecodedWithSpecial string           `json:"decoded_with_special"`
}

type decodeCase struct {
	IDs                []int  `json:"ids"`
	Decoded            string `json:"decoded"`
	DecodedWithSpecial string `json:"decoded_with_special"`
}

type cocoCase struct {
	ImageName         string `json:"image_name"`
	CaptionIndex      int    `json:"caption_index"`
	TextSHA256        string `json:"text_sha256"`
	NIDs              int    `json:"n_ids"`
	IDsSHA256         string `json:"ids_sha256"`
	Truncated40SHA256 string `json:"truncated_40_sha256"`
	DecodedSHA256     string `json:"decoded_sha256"`
}

type caseFile struct {
	VocabSize   int            `json:"vocab_size"`
	SpecialIDs  map[string]int `json:"special_ids"`
	Truncations []int          `json:"truncations"`
	Cases       []textCase     `json:"cases"`
	DecodeCases []decodeCase   `json:"decode_cases"`
	CocoCases   []cocoCase     `json:"coco_cases"`
}

func readCases(t testing.TB) caseFile {
	t.Helper()
	b, err := os.ReadFile(casesFile)
	if err != nil {
		t.Fatal(err)
	}
	var c caseFile
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("parse %s: %v", casesFile, err)
	}
	if len(c.Cases) < 60 || len(c.DecodeCases) == 0 || len(c.CocoCases) == 0 {
		t.Fatalf("%s: %d text cases, %d decode cases, %d coco cases; regenerate with scripts/make_tokenizer.py",
			casesFile, len(c.Cases), len(c.DecodeCases), len(c.CocoCases))
	}
	return c
}

func mustLoad(t testing.TB, dir string) *Tokenizer {
	t.Helper()
	tok, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// diffIDs describes how two id lists differ, (-want +got).
func diffIDs(want, got []int) string {
	if slices.Equal(want, got) {
		return ""
	}
	return fmt.Sprintf("(-want +got)\n-%v\n+%v", want, got)
}

// checkTextCases compares Encode, truncation, EncodeForDecoder and Decode with every case and
// returns how many comparisons were made.
func checkTextCases(t *testing.T, tok *Tokenizer, c caseFile) int {
	t.Helper()
	n := 0
	for _, tc := range c.Cases {
		if d := diffIDs(tc.IDs, tok.Encode(tc.Text, 0)); d != "" {
			t.Errorf("%s: Encode(%q): %s", tc.Name, tc.Text, d)
		}
		for _, maxLen := range c.Truncations {
			want, ok := tc.Truncated[strconv.Itoa(maxLen)]
			if !ok {
				t.Fatalf("%s: no truncation %d in the fixture", tc.Name, maxLen)
			}
			if d := diffIDs(want, tok.Encode(tc.Text, maxLen)); d != "" {
				t.Errorf("%s: Encode(%q, %d): %s", tc.Name, tc.Text, maxLen, d)
			}
			n++
		}
		dec := tok.EncodeForDecoder(tc.Text, 0)
		if len(dec) != len(tc.IDs) || dec[0] != c.SpecialIDs["[DEC]"] || !slices.Equal(dec[1:], tc.IDs[1:]) {
			t.Errorf("%s: EncodeForDecoder = %v, want %v with [DEC] first", tc.Name, dec, tc.IDs)
		}
		if got := tok.Decode(tc.IDs, true); got != tc.Decoded {
			t.Errorf("%s: Decode(%v, true) (-want +got)\n-%q\n+%q", tc.Name, tc.IDs, tc.Decoded, got)
		}
		if got := tok.Decode(tc.IDs, false); got != tc.DecodedWithSpecial {
			t.Errorf("%s: Decode(%v, false) (-want +got)\n-%q\n+%q", tc.Name, tc.IDs, tc.DecodedWithSpecial, got)
		}
		n += 4
	}
	for i, dc := range c.DecodeCases {
		if got := tok.Decode(dc.IDs, true); got != dc.Decoded {
			t.Errorf("decode case %d: Decode(%v, true) (-want +got)\n-%q\n+%q", i, dc.IDs, dc.Decoded, got)
		}
		if got := tok.Decode(dc.IDs, false); got != dc.DecodedWithSpecial {
			t.Errorf("decode case %d: Decode(%v, false) (-want +got)\n-%q\n+%q", i, dc.IDs, dc.DecodedWithSpecial, got)
		}
		n += 2
	}
	return n
}

// checkSpecialIDs compares the named ids and the vocabulary size with the fixture's.
func checkSpecialIDs(t *testing.T, tok *Tokenizer, c caseFile) {
	t.Helper()
	got := map[string]int{"[PAD]": tok.PadID, "[UNK]": tok.UNKID, "[CLS]": tok.CLSID, "[SEP]": tok.SEPID,
		"[MASK]": tok.MaskID, "[DEC]": tok.BOSID, "[ENC]": tok.ENCID}
	for name, want := range c.SpecialIDs {
		if got[name] != want {
			t.Errorf("id of %s = %d, want %d", name, got[name], want)
		}
		if id, ok := tok.TokenID(name); !ok || id != want {
			t.Errorf("TokenID(%s) = %d, %v, want %d", name, id, ok, want)
		}
		if !tok.IsSpecial(want) {
			t.Errorf("IsSpecial(%d) (%s) = false", want, name)
		}
	}
	if tok.VocabSize() != c.VocabSize {
		t.Errorf("VocabSize() = %d, want %d", tok.VocabSize(), c.VocabSize)
	}
}

// TestParity checks both loading paths against every case BertTokenizerFast produced.
func TestParity(t *testing.T) {
	c := readCases(t)
	for _, dir := range []string{fullDir, vocabOnlyDir} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			tok := mustLoad(t, dir)
			checkSpecialIDs(t, tok, c)
			n := checkTextCases(t, tok, c)
			t.Logf("%s: %d comparisons over %d texts and %d id lists", dir, n, len(c.Cases), len(c.DecodeCases))
		})
	}
}

// TestPathsAgree encodes every case with both loading paths; they must agree with each other,
// not only with the fixture (a guard for cases added to the fixture later).
func TestPathsAgree(t *testing.T) {
	c := readCases(t)
	a, b := mustLoad(t, fullDir), mustLoad(t, vocabOnlyDir)
	for _, tc := range c.Cases {
		for _, maxLen := range append([]int{0}, c.Truncations...) {
			if d := diffIDs(a.Encode(tc.Text, maxLen), b.Encode(tc.Text, maxLen)); d != "" {
				t.Errorf("%s, maxLen %d: tokenizer.json vs vocab.txt %s", tc.Name, maxLen, d)
			}
		}
	}
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func idsKey(ids []int) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.Itoa(id)
	}
	return strings.Join(parts, ",")
}

// TestCOCOParity checks 200 real captions. The fixture holds hashes, not the captions (the shared
// data may not be copied into the project), so the captions are read from the shared folder.
func TestCOCOParity(t *testing.T) {
	c := readCases(t)
	path := filepath.Join(sharedCOCO, "magic_result.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("the real COCO captions are not at %s: set CAPTUNE_COCO_SAMPLE to a folder holding magic_result.json", sharedCOCO)
	}
	if err != nil {
		t.Fatal(err)
	}
	var items []struct {
		ImageName string   `json:"image_name"`
		Captions  []string `json:"captions"`
	}
	if err := json.Unmarshal(b, &items); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	byName := map[string][]string{}
	for _, it := range items {
		byName[it.ImageName] = it.Captions
	}
	for _, dir := range []string{fullDir, vocabOnlyDir} {
		tok := mustLoad(t, dir)
		passed := 0
		for _, cc := range c.CocoCases {
			caps := byName[cc.ImageName]
			if cc.CaptionIndex >= len(caps) || sha(caps[cc.CaptionIndex]) != cc.TextSHA256 {
				t.Fatalf("%s caption %d is not the one the fixture was made from", cc.ImageName, cc.CaptionIndex)
			}
			text := caps[cc.CaptionIndex]
			ids := tok.Encode(text, 0)
			ok := len(ids) == cc.NIDs && sha(idsKey(ids)) == cc.IDsSHA256 &&
				sha(idsKey(tok.Encode(text, 40))) == cc.Truncated40SHA256 &&
				sha(tok.Decode(ids, true)) == cc.DecodedSHA256
			if !ok {
				t.Errorf("%s: %s caption %d %q: ids %v (want %d ids) or its truncation/decoding differ from HF's",
					dir, cc.ImageName, cc.CaptionIndex, text, ids, cc.NIDs)
				continue
			}
			passed++
		}
		t.Logf("%s: %d/%d COCO captions identical (ids, max_length 40, decode)", dir, passed, len(c.CocoCases))
	}
}

// hangulJamo is the algorithmic canonical decomposition of a Hangul syllable (Unicode 3.12),
// written out here so the sweep does not check NFD against itself.
func hangulJamo(r rune) string {
	s := r - 0xAC00
	lead, vowel, trail := 0x1100+s/588, 0x1161+(s%588)/28, 0x11A7+s%28
	out := string([]rune{lead, vowel})
	if trail != 0x11A7 {
		out += string(trail)
	}
	return out
}

// TestNormalizerSweep runs the BLIP normaliser on every code point and compares it with what
// HF's BertNormalizer made of each (only changed code points are listed in the fixture).
func TestNormalizerSweep(t *testing.T) {
	b, err := os.ReadFile(sweepFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Runs [][3]json.RawMessage `json:"runs"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("parse %s: %v", sweepFile, err)
	}
	want := map[rune]string{}
	for _, run := range f.Runs {
		var lo, hi rune
		var kind string
		if json.Unmarshal(run[0], &lo) != nil || json.Unmarshal(run[1], &hi) != nil || json.Unmarshal(run[2], &kind) != nil {
			t.Fatalf("%s: bad run %s", sweepFile, run)
		}
		for r := lo; r <= hi; r++ {
			switch kind {
			case "pad":
				want[r] = " " + string(r) + " "
			case "hangul":
				want[r] = hangulJamo(r)
			default:
				want[r] = kind
			}
		}
	}
	n := bertNormalizer{cleanText: true, chineseChars: true, lowercase: true}
	bad := 0
	for r := rune(0); r <= 0x10FFFF; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		w, ok := want[r]
		if !ok {
			w = string(r)
		}
		if got := n.normalize(string(r)); got != w {
			if bad++; bad <= 20 {
				t.Errorf("normalize(U+%04X %q) = %q, HF gives %q", r, string(r), got, w)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d code points normalise differently from HF", bad)
	}
}

// TestInvalidUTF8 checks that invalid bytes behave like U+FFFD, which HF removes.
func TestInvalidUTF8(t *testing.T) {
	tok := mustLoad(t, fullDir)
	for _, tc := range []struct{ bad, replaced string }{
		{"a\xffred\xfe circle", "a\ufffdred\ufffd circle"},
		{"\xc3", "\ufffd"},
		{"star\xe2\x82", "star\ufffd"},
	} {
		if d := diffIDs(tok.Encode(tc.replaced, 0), tok.Encode(tc.bad, 0)); d != "" {
			t.Errorf("Encode(%q) vs Encode(%q): %s", tc.bad, tc.replaced, d)
		}
	}
}
