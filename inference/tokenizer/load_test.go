package tokenizer

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// variant copies the files of src into a temporary folder, replacing those named in change
// (a nil value leaves a file out), and returns the folder.
func variant(t testing.TB, src string, change map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, changed := change[e.Name()]; changed {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, b := range change {
		if b == nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// editJSON decodes a fixture file, lets edit change it, and returns the re-encoded bytes.
func editJSON(t testing.TB, path string, edit func(m map[string]any)) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLayouts loads the same tokenizer from the other folder layouts transformers accepts and
// checks it against the same fixture.
func TestLayouts(t *testing.T) {
	c := readCases(t)
	noDecoder := func(m map[string]any) { delete(m, "added_tokens_decoder") }
	tests := []struct {
		name   string
		src    string
		change map[string][]byte
	}{
		{
			// The older layout (like Salesforce/blip-image-captioning-base's): no
			// added_tokens_decoder, so special_tokens_map.json names [DEC] and [ENC], which get
			// the next ids.
			name: "legacy config without added_tokens.json",
			src:  vocabOnlyDir,
			change: map[string][]byte{
				TokenizerConfig: editJSON(t, filepath.Join(vocabOnlyDir, TokenizerConfig), func(m map[string]any) {
					noDecoder(m)
					delete(m, "bos_token")
					delete(m, "additional_special_tokens")
				}),
			},
		},
		{
			name: "legacy config with added_tokens.json",
			src:  fullDir,
			change: map[string][]byte{
				TokenizerJSON:   nil,
				TokenizerConfig: editJSON(t, filepath.Join(fullDir, TokenizerConfig), noDecoder),
			},
		},
		{
			name:   "tokenizer.json alone",
			src:    fullDir,
			change: map[string][]byte{VocabTxt: nil, TokenizerConfig: nil, SpecialTokensMap: nil, AddedTokensJSON: nil},
		},
		{
			name: "tokenizer.json with a legacy config",
			src:  fullDir,
			change: map[string][]byte{
				TokenizerConfig: editJSON(t, filepath.Join(fullDir, TokenizerConfig), noDecoder),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := mustLoad(t, variant(t, tc.src, tc.change))
			checkSpecialIDs(t, tok, c)
			checkTextCases(t, tok, c)
		})
	}
}

// TestConfigOverridesNormalizer checks that tokenizer_config.json's do_lower_case and
// strip_accents win over tokenizer.json's normaliser, as in BertTokenizerFast: with lower-casing
// off, "RED" is no longer the word "red".
func TestConfigOverridesNormalizer(t *testing.T) {
	full := mustLoad(t, fullDir)
	cased := mustLoad(t, variant(t, fullDir, map[string][]byte{
		TokenizerConfig: editJSON(t, filepath.Join(fullDir, TokenizerConfig), func(m map[string]any) {
			m["do_lower_case"] = false
			m["strip_accents"] = false
		}),
	}))
	if got, want := cased.Encode("red", 0), full.Encode("red", 0); !equalInts(got, want) {
		t.Errorf("lower-case word: cased %v, uncased %v: want equal", got, want)
	}
	if got, same := cased.Encode("RED", 0), full.Encode("RED", 0); equalInts(got, same) {
		t.Errorf("Encode(RED) = %v with do_lower_case false, same as with lower-casing", got)
	}
	red, _ := full.TokenID("red")
	if got := cased.Encode("RED", 0); len(got) < 3 || got[1] == red {
		t.Errorf("Encode(RED) = %v with do_lower_case false, want no token %d (red)", got, red)
	}
}

func equalInts(a, b []int) bool { return diffIDs(a, b) == "" }

// TestLoadErrors checks that broken folders give an error naming the problem, never a panic.
func TestLoadErrors(t *testing.T) {
	tokJSON := filepath.Join(fullDir, TokenizerJSON)
	raw, err := os.ReadFile(tokJSON)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m map[string]any)) []byte { return editJSON(t, tokJSON, f) }
	model := func(m map[string]any) map[string]any { return m["model"].(map[string]any) }
	onlyTokJSON := func(b []byte) map[string][]byte {
		return map[string][]byte{TokenizerJSON: b}
	}
	tests := []struct {
		name string
		dir  func(t *testing.T) string
		want string // a part of the message
	}{
		{"missing folder", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") }, "no such file"},
		{"file instead of folder", func(t *testing.T) string { return tokJSON }, "not a folder"},
		{"empty folder", func(t *testing.T) string { return t.TempDir() }, "no tokenizer.json or vocab.txt"},
		{"truncated tokenizer.json", func(t *testing.T) string {
			return variant(t, fullDir, onlyTokJSON(raw[:len(raw)/2]))
		}, "parse tokenizer.json"},
		{"empty tokenizer.json", func(t *testing.T) string { return variant(t, fullDir, onlyTokJSON([]byte{})) }, "parse tokenizer.json"},
		{"tokenizer.json is a list", func(t *testing.T) string { return variant(t, fullDir, onlyTokJSON([]byte("[1,2]"))) }, "parse tokenizer.json"},
		{"model is a number", func(t *testing.T) string {
			return variant(t, fullDir, onlyTokJSON(edit(func(m map[string]any) { m["model"] = 5 })))
		}, "tokenizer.json model"},
		{"no model", func(t *testing.T) string {
			return variant(t, fullDir, onlyTokJSON(edit(func(m map[string]any) { delete(m, "model") })))
		}, "no model"},
		{"BPE model", func(t *testing.T) string {
			return variant(t, fullDir, onlyTokJSON(edit(func(m map[string]any) { model(m)["type"] = "BPE" })))
		}, `model type "BPE"`},
		{"vocab id is a string", func(t *testing.T) string {
			return variant(t, fullDir, onlyTokJSON(edit(func(m map[string]any) { model(m)["vocab"].(map[string]any)["red"] = "x" })))
		}, "tokenizer.json model"},
		{"negative vocab id", func(t *testing.T) string {
			return variant(t, fullDir, onlyTokJSON(edit(func(m map[string]any) { model(m)["vocab"].(map[string]any)["red"] = -3 })))
		}, "negative id"},
		{"no unk token in vocab", func(t *testing.T) string {
			return variant(t, fullDir, onlyTokJSON(edit(func(m map[string]any) { delete(model(m)["vocab"].(map[string]any), "[UNK]") })))
		}, "no unk token"},
		{"unknown version", func(t *testing.T) string {
			return variant(t, fullDir, onlyTokJSON(edit(func(m map[string]any) { m["version"] = "9.9" })))
		}, "unknown version"},
		{"sequence normalizer", func(t *testing.T) string {
			return variant(t, fullDir, onlyTokJSON(edit(func(m map[string]any) { m["normalizer"] = map[string]any{"type": "Sequence"} })))
		}, "normalizer type"},
		{"null normalizer", func(t *testing.T) string {
			return variant(t, fullDir, onlyTokJSON(edit(func(m map[string]any) { m["normalizer"] = nil })))
		}, "no normalizer"},
		{"metaspace pre-tokenizer", func(t *testing.T) string {
			return variant(t, fullDir, onlyTokJSON(edit(func(m map[string]any) { m["pre_tokenizer"] = map[string]any{"type": "Metaspace"} })))
		}, "pre_tokenizer type"},
		{"byte-level decoder", func(t *testing.T) string {
			return variant(t, fullDir, onlyTokJSON(edit(func(m map[string]any) { m["decoder"] = map[string]any{"type": "ByteLevel"} })))
		}, "decoder type"},
		{"template names a missing special token", func(t *testing.T) string {
			return variant(t, fullDir, onlyTokJSON(edit(func(m map[string]any) {
				delete(m["post_processor"].(map[string]any)["special_tokens"].(map[string]any), "[SEP]")
			})))
		}, "special_tokens lacks"},
		{"template id outside the vocabulary", func(t *testing.T) string {
			return variant(t, fullDir, onlyTokJSON(edit(func(m map[string]any) {
				sp := m["post_processor"].(map[string]any)["special_tokens"].(map[string]any)["[SEP]"].(map[string]any)
				sp["ids"] = []int{999999}
			})))
		}, "not in the vocabulary"},
		{"added token without content", func(t *testing.T) string {
			return variant(t, fullDir, onlyTokJSON(edit(func(m map[string]any) {
				m["added_tokens"].([]any)[0].(map[string]any)["content"] = ""
			})))
		}, "no content"},
		{"vocab.txt not UTF-8", func(t *testing.T) string {
			return variant(t, vocabOnlyDir, map[string][]byte{VocabTxt: []byte("[PAD]\n\xff\xfe\n[UNK]\n")})
		}, "vocab.txt: not valid UTF-8"},
		{"empty vocab.txt", func(t *testing.T) string {
			return variant(t, vocabOnlyDir, map[string][]byte{VocabTxt: []byte("")})
		}, "vocab.txt: no tokens"},
		{"vocab.txt without [UNK]", func(t *testing.T) string {
			return variant(t, vocabOnlyDir, map[string][]byte{VocabTxt: []byte("[PAD]\n[CLS]\n[SEP]\nred\n")})
		}, "no unk token"},
		{"corrupt tokenizer_config.json", func(t *testing.T) string {
			return variant(t, vocabOnlyDir, map[string][]byte{TokenizerConfig: []byte(`{"do_lower_case": tru`)})
		}, "parse tokenizer_config.json"},
		{"special token is a number", func(t *testing.T) string {
			return variant(t, vocabOnlyDir, map[string][]byte{TokenizerConfig: []byte(`{"bos_token": 7}`)})
		}, "bos_token"},
		{"bad truncation side", func(t *testing.T) string {
			return variant(t, vocabOnlyDir, map[string][]byte{TokenizerConfig: []byte(`{"truncation_side": "middle"}`)})
		}, "truncation_side"},
		{"bad added_tokens_decoder key", func(t *testing.T) string {
			return variant(t, vocabOnlyDir, map[string][]byte{TokenizerConfig: []byte(`{"added_tokens_decoder": {"x": {"content": "[DEC]"}}}`)})
		}, "not a token id"},
		{"corrupt special_tokens_map.json", func(t *testing.T) string {
			return variant(t, vocabOnlyDir, map[string][]byte{
				TokenizerConfig:  []byte(`{}`),
				SpecialTokensMap: []byte(`{"bos_token": {"content": 3}}`),
			})
		}, "special_tokens_map.json"},
		{"corrupt added_tokens.json", func(t *testing.T) string {
			return variant(t, vocabOnlyDir, map[string][]byte{TokenizerConfig: []byte(`{}`), AddedTokensJSON: []byte(`{"[DEC]": "x"}`)})
		}, "added_tokens.json"},
		{"tokenizer.json is a folder", func(t *testing.T) string {
			dir := variant(t, vocabOnlyDir, nil)
			if err := os.Mkdir(filepath.Join(dir, TokenizerJSON), 0o755); err != nil {
				t.Fatal(err)
			}
			return dir
		}, "is a folder"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir(t)
			tok, err := Load(dir)
			if err == nil {
				t.Fatalf("Load(%s) = %v, nil; want an error containing %q", dir, tok != nil, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load error %q does not contain %q", err, tc.want)
			}
		})
	}
}

// TestLoadErrorKinds checks the errors callers can branch on.
func TestLoadErrorKinds(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing folder: error %v is not fs.ErrNotExist", err)
	}
	if _, err := Load(t.TempDir()); !errors.Is(err, ErrNoTokenizer) {
		t.Errorf("empty folder: error %v is not ErrNoTokenizer", err)
	}
}
