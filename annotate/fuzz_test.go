package annotate

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// Fuzz targets for the readers of files users hand to Captune. Each checks that the reader does
// not panic, that what it returns is clean (valid UTF-8, trimmed, non-empty captions), and that
// writing what it read and reading that again gives the same entries, and the same bytes when
// written once more. Seeds: the fixture files plus testdata/fuzz/<target>/; crashers found by
// `go test -fuzz` land there too and then run as regression cases in every `go test`.

// addFixtureSeeds adds every fixture file whose name ends in one of exts.
func addFixtureSeeds(f *testing.F, exts ...string) {
	filepath.WalkDir(filepath.Join("testdata", "datasets"), func(p string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return nil
		}
		for _, e := range exts {
			if strings.HasSuffix(p, e) {
				if b, err := os.ReadFile(p); err == nil {
					f.Add(b)
				}
			}
		}
		return nil
	})
}

func checkCaptions(t *testing.T, texts []string) {
	t.Helper()
	for _, s := range texts {
		if s == "" || s != strings.TrimSpace(s) || strings.HasPrefix(s, "\uFEFF") || !utf8.ValidString(s) {
			t.Fatalf("unclean caption %q", s)
		}
	}
}

func FuzzJSONL(f *testing.F) {
	addFixtureSeeds(f, ".jsonl")
	f.Add([]byte(`{"file_name":"a.jpg","text":["x","",null]}` + "\r\n" + `{"file_name":"b.jpg","text":"\u00e9\ud800"}`))
	f.Add([]byte("\xEF\xBB\xBF{\"file_name\":\"a.jpg\",\"text\":\"caf\xE9\"}\r{oops"))
	f.Add([]byte(`{"file_name":"a.jpg","text":"x","text":["y"],"file_name":"b.jpg"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, _ := parseJSONL(data, "")
		entries := jsonlEntries(file)
		for _, e := range entries {
			checkCaptions(t, e.Texts)
		}
		out := file.render()
		if !utf8.Valid(out) {
			t.Fatalf("render wrote invalid UTF-8")
		}
		again, _ := parseJSONL(out, "")
		if d := diff(stripLines(entries), stripLines(jsonlEntries(again))); d != "" {
			t.Fatalf("render then parse changed the entries %s\ninput %q\noutput %q", d, data, out)
		}
		if out2 := again.render(); !bytes.Equal(out, out2) {
			t.Fatalf("render is not stable:\n%q\n%q", out, out2)
		}
	})
}

// stripLines drops line numbers, which blank lines removed by render shift.
func stripLines(es []jsonlEntry) []jsonlEntry {
	out := append([]jsonlEntry(nil), es...)
	for k := range out {
		out[k].Line = 0
	}
	return out
}

func FuzzCOCO(f *testing.F) {
	addFixtureSeeds(f, ".json")
	f.Add([]byte(`{"images":[{"id":1,"file_name":"a.jpg","split":"train"},{"id":1.0,"file_name":"b.jpg"}],"annotations":[{"id":1,"image_id":1,"caption":" x "},{"image_id":1.0,"caption":"y","origin":"human"}]}`))
	f.Add([]byte(`{"images":[],"annotations":[],"info":{"a":[1,{"b":null}]}}`))
	f.Add([]byte("\xFF\xFE{\x00}\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, _, err := parseCOCO(data)
		if err != nil {
			return
		}
		v := viewCOCO(file)
		for _, a := range file.anns {
			if a.obj != nil && a.caption != "" {
				checkCaptions(t, []string{a.caption})
			}
		}
		out := file.render()
		again, _, err := parseCOCO(out)
		if err != nil {
			t.Fatalf("rendered file does not parse: %v\ninput %q\noutput %q", err, data, out)
		}
		if d := diff(v, viewCOCO(again)); d != "" {
			t.Fatalf("render then parse changed the entries %s\ninput %q\noutput %q", d, data, out)
		}
		if out2 := again.render(); !bytes.Equal(out, out2) {
			t.Fatalf("render is not stable:\n%q\n%q", out, out2)
		}
	})
}

func FuzzCSV(f *testing.F) {
	addFixtureSeeds(f, ".csv")
	f.Add([]byte("file_name,text\na.jpg,\"multi\r\nline\"\nb.jpg,\"bare \" quote\"\n\"c.jpg\",x\r"))
	f.Add([]byte("image;caption\na;b\n"))
	f.Add([]byte("path,caption,split,origin,state\na.png,\" padded \",val,model:x,approved\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, _, err := parseCSV(data, "")
		if err != nil {
			return
		}
		rows := viewCSV(file)
		for k := range rows {
			if rows[k].Text != "" {
				checkCaptions(t, []string{rows[k].Text})
			}
			rows[k].Line = 0
		}
		out := file.render()
		again, _, err := parseCSV(out, "")
		if err != nil {
			t.Fatalf("rendered file does not parse: %v\ninput %q\noutput %q", err, data, out)
		}
		rows2 := viewCSV(again)
		for k := range rows2 {
			rows2[k].Line = 0
		}
		if d := diff(rows, rows2); d != "" {
			t.Fatalf("render then parse changed the rows %s\ninput %q\noutput %q", d, data, out)
		}
		if out2 := again.render(); !bytes.Equal(out, out2) {
			t.Fatalf("render is not stable:\n%q\n%q", out, out2)
		}
	})
}

func FuzzSidecar(f *testing.F) {
	addFixtureSeeds(f, ".txt", ".caption")
	f.Add([]byte("one\r\ntwo\rthree\n\n"))
	f.Add([]byte("\xFE\xFF\x00a\x00\n\x00b"))
	f.Add([]byte("\xEF\xBB\xBF  \t tags, more tags \u3000"))
	f.Fuzz(func(t *testing.T, data []byte) {
		texts, _ := parseSidecar(data)
		checkCaptions(t, texts)
		out := renderSidecar(texts)
		again, _ := parseSidecar(out)
		if d := diff(texts, again); d != "" {
			t.Fatalf("render then parse changed the captions %s\ninput %q", d, data)
		}
	})
}
