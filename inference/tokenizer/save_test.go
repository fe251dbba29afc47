package tokenizer

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func readJSONFile(t *testing.T, path string) any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return v
}

// TestSaveCopiesLoadedFiles checks that a loaded folder is written back byte for byte.
func TestSaveCopiesLoadedFiles(t *testing.T) {
	for _, src := range []string{fullDir, vocabOnlyDir} {
		t.Run(filepath.Base(src), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "nested", "tokenizer")
			if err := mustLoad(t, src).Save(out); err != nil {
				t.Fatal(err)
			}
			entries, err := os.ReadDir(src)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				want, _ := os.ReadFile(filepath.Join(src, e.Name()))
				got, err := os.ReadFile(filepath.Join(out, e.Name()))
				if err != nil {
					t.Errorf("Save did not write %s: %v", e.Name(), err)
					continue
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from the loaded file", e.Name())
				}
			}
		})
	}
}

// TestSaveGeneratesTokenizerJSON checks the files Save writes for a folder that lacked them: the
// tokenizer.json generated from vocab.txt must say what transformers' own tokenizer.json says.
func TestSaveGeneratesTokenizerJSON(t *testing.T) {
	c := readCases(t)
	out := t.TempDir()
	if err := mustLoad(t, vocabOnlyDir).Save(out); err != nil {
		t.Fatal(err)
	}
	want := readJSONFile(t, filepath.Join(fullDir, TokenizerJSON))
	got := readJSONFile(t, filepath.Join(out, TokenizerJSON))
	if !reflect.DeepEqual(want, got) {
		wb, _ := json.MarshalIndent(want, "", " ")
		gb, _ := json.MarshalIndent(got, "", " ")
		t.Errorf("generated tokenizer.json differs from transformers' (-want +got)\n-%.2000s\n+%.2000s", wb, gb)
	}
	reloaded := mustLoad(t, out)
	checkSpecialIDs(t, reloaded, c)
	checkTextCases(t, reloaded, c)
}

// TestSaveGeneratesConfigs saves a tokenizer loaded from tokenizer.json alone: the vocab.txt and
// config files Save generates must load back to the same tokenizer, on both loading paths.
func TestSaveGeneratesConfigs(t *testing.T) {
	c := readCases(t)
	src := variant(t, fullDir, map[string][]byte{VocabTxt: nil, TokenizerConfig: nil, SpecialTokensMap: nil, AddedTokensJSON: nil})
	out := t.TempDir()
	if err := mustLoad(t, src).Save(out); err != nil {
		t.Fatal(err)
	}
	wantVocab, _ := os.ReadFile(filepath.Join(fullDir, VocabTxt))
	gotVocab, err := os.ReadFile(filepath.Join(out, VocabTxt))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gotVocab, wantVocab) {
		t.Errorf("generated vocab.txt differs from transformers'")
	}
	for _, dir := range []string{out, variant(t, out, map[string][]byte{TokenizerJSON: nil})} {
		tok := mustLoad(t, dir)
		checkSpecialIDs(t, tok, c)
		checkTextCases(t, tok, c)
	}
}

func TestSaveErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := mustLoad(t, fullDir).Save(filepath.Join(file, "sub")); err == nil {
		t.Error("Save under a regular file succeeded, want an error")
	}
}
