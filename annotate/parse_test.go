package annotate

import (
	"encoding/json"
	"errors"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestDecodeText(t *testing.T) {
	tests := []struct {
		name, in, want string
		problem        bool
	}{
		{"plain", "a cat", "a cat", false},
		{"utf8 bom", "\xEF\xBB\xBFa cat", "a cat", false},
		{"utf16le bom", "\xFF\xFEa\x00 \x00\xE9\x00", "a é", true},
		{"utf16be bom", "\xFE\xFF\x00a\x00 \x00\xE9", "a é", true},
		{"invalid utf8", "caf\xE9 au lait", "caf\uFFFD au lait", true},
		{"empty", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, problem := decodeText([]byte(tt.in))
			if string(got) != tt.want || (problem != "") != tt.problem {
				t.Errorf("decodeText(%q) = %q, %q; want %q, problem %v", tt.in, got, problem, tt.want, tt.problem)
			}
		})
	}
}

func TestCleanEntryName(t *testing.T) {
	tests := []struct {
		dir, name, want string
		unsafe          bool // refused as leaving the root; other errors have want == ""
	}{
		{"", "a.jpg", "a.jpg", false},
		{"", "./sub/a.jpg", "sub/a.jpg", false},
		{"train", "a.jpg", "train/a.jpg", false},
		{"", `sub\a.jpg`, "sub/a.jpg", false},
		{"", "sub//a.jpg", "sub/a.jpg", false},
		{"", "../../etc/passwd", "", true},
		{"train", "../a.jpg", "", true},
		{"", "sub/../../x.jpg", "", true},
		{"", "/etc/passwd", "", true},
		{"", `C:\Users\x.jpg`, "", true},
		{"", `..\..\x.jpg`, "", true},
		{"", "a\x00.jpg", "", true},
		{"", "  ", "", false},
		{"", ".", "", true},
	}
	for _, tt := range tests {
		got, err := cleanEntryName(tt.dir, tt.name)
		if got != tt.want || errors.Is(err, errUnsafePath) != tt.unsafe || (tt.want == "") != (err != nil) {
			t.Errorf("cleanEntryName(%q, %q) = %q, %v; want %q (unsafe %v)", tt.dir, tt.name, got, err, tt.want, tt.unsafe)
		}
	}
}

type jsonlEntry struct {
	Line  int
	Name  string
	Texts []string
}

func jsonlEntries(f *jsonlFile) []jsonlEntry {
	var out []jsonlEntry
	for _, l := range f.lines {
		if l.obj != nil {
			out = append(out, jsonlEntry{l.num, l.name, l.texts})
		}
	}
	return out
}

func warnKinds(ws []Warning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, string(w.Kind)+"@"+strconv.Itoa(w.Line))
	}
	return out
}

func TestParseJSONL(t *testing.T) {
	long := strings.Repeat("a long caption ", 70000) // about 1 MB on one line
	tests := []struct {
		name   string
		in     string
		column string
		want   []jsonlEntry
		warns  []string
	}{
		{
			name: "string and list",
			in:   `{"file_name": "a.jpg", "text": "a cat"}` + "\n" + `{"file_name": "b.jpg", "text": ["one", " two ", ""]}` + "\n",
			want: []jsonlEntry{{1, "a.jpg", []string{"a cat"}}, {2, "b.jpg", []string{"one", "two"}}},
		},
		{
			name:  "bom crlf blank and malformed lines",
			in:    "\xEF\xBB\xBF{\"file_name\":\"a.jpg\",\"text\":\"x\"}\r\n\r\n{oops\r\n{\"text\":\"no name\"}\r\n{\"file_name\":\"c.jpg\",\"text\":5}\r\n{\"file_name\":\"d.jpg\"}",
			want:  []jsonlEntry{{1, "a.jpg", []string{"x"}}, {6, "d.jpg", nil}},
			warns: []string{"malformed@3", "malformed@4", "malformed@5"},
		},
		{
			name: "fallback column caption",
			in:   `{"file_name":"a.jpg","caption":"from caption"}`,
			want: []jsonlEntry{{1, "a.jpg", []string{"from caption"}}},
		},
		{
			name:   "chosen column",
			in:     `{"file_name":"a.jpg","text":"no","prompt":"yes"}`,
			column: "prompt",
			want:   []jsonlEntry{{1, "a.jpg", []string{"yes"}}},
		},
		{
			name:  "invalid utf8 and a 1 MB caption",
			in:    "{\"file_name\":\"a.jpg\",\"text\":\"caf\xE9\"}\n{\"file_name\":\"b.jpg\",\"text\":\"" + long + "\"}\n",
			want:  []jsonlEntry{{1, "a.jpg", []string{"caf\uFFFD"}}, {2, "b.jpg", []string{strings.TrimSpace(long)}}},
			warns: []string{"encoding@0", "long-caption@2"},
		},
		{
			name:  "trailing text after object",
			in:    `{"file_name":"a.jpg","text":"x"} {"more":1}`,
			warns: []string{"malformed@1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, warns := parseJSONL([]byte(tt.in), tt.column)
			if d := diff(tt.want, jsonlEntries(f)); d != "" {
				t.Errorf("entries %s", d)
			}
			if d := diff(tt.warns, warnKinds(warns)); d != "" {
				t.Errorf("warnings %s\n%v", d, warns)
			}
		})
	}
}

func TestJSONLRenderKeepsOtherColumnsAndBadLines(t *testing.T) {
	in := `{"file_name":"a.jpg","width":640,"text":"old","tags":["x","y"]}` + "\n" + `not json` + "\n" + `{"file_name":"b.jpg","text":["p","q"]}` + "\n"
	f, _ := parseJSONL([]byte(in), "")
	f.lines[0] = f.lines[0].withTexts([]string{"new & <improved>"}, "text")
	f.lines[2] = f.lines[2].withTexts([]string{"only"}, "text")
	got := string(f.render())
	want := `{"file_name":"a.jpg","width":640,"text":"new & <improved>","tags":["x","y"]}` + "\n" + `not json` + "\n" + `{"file_name":"b.jpg","text":["only"]}` + "\n"
	if got != want {
		t.Errorf("render:\n%s\nwant:\n%s", got, want)
	}
}

type cocoView struct {
	Images []string // id=name
	Anns   []string // imageID:caption
}

func viewCOCO(f *cocoFile) cocoView {
	var v cocoView
	for _, im := range f.images {
		if im.obj != nil {
			v.Images = append(v.Images, im.id+"="+im.name)
		}
	}
	for _, a := range f.anns {
		if a.obj != nil {
			v.Anns = append(v.Anns, a.imageID+":"+a.caption)
		}
	}
	return v
}

func TestParseCOCO(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   cocoView
		warns  []string
		notCOC bool
	}{
		{
			name: "captions",
			in: `{"info":{"year":2014},"images":[{"id":1,"file_name":"a.jpg","width":640},{"id":"x2","file_name":"b.jpg"}],
			      "annotations":[{"id":10,"image_id":1,"caption":" A cat. "},{"id":11,"image_id":"x2","caption":"b"},{"id":12,"image_id":1,"caption":"second"}]}`,
			want: cocoView{Images: []string{`1=a.jpg`, `"x2"=b.jpg`}, Anns: []string{`1:A cat.`, `"x2":b`, `1:second`}},
		},
		{
			name:  "bad entries are skipped",
			in:    `{"images":[{"id":1,"file_name":"a.jpg"},{"file_name":"noid.jpg"},7],"annotations":[{"image_id":1,"caption":"ok"},{"image_id":1,"caption":3},"x"]}`,
			want:  cocoView{Images: []string{`1=a.jpg`}, Anns: []string{`1:ok`}},
			warns: []string{"malformed@0", "malformed@0", "malformed@0", "malformed@0"},
		},
		{name: "instances file", in: `{"images":[{"id":1,"file_name":"a.jpg"}],"annotations":[{"id":1,"image_id":1,"bbox":[0,0,1,1]}]}`, notCOC: true},
		{name: "results list", in: `[{"image_id":1,"caption":"x"}]`, notCOC: true},
		{name: "config", in: `{"name":"x"}`, notCOC: true},
		{name: "broken", in: `{"images":[`, notCOC: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, warns, err := parseCOCO([]byte(tt.in))
			if tt.notCOC {
				if !errors.Is(err, errNotCOCO) {
					t.Fatalf("err = %v, want errNotCOCO", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := diff(tt.want, viewCOCO(f)); d != "" {
				t.Errorf("parse %s", d)
			}
			if d := diff(tt.warns, warnKinds(warns)); d != "" {
				t.Errorf("warnings %s\n%v", d, warns)
			}
			// Rendering keeps unknown fields and reads back the same.
			out := string(f.render())
			if tt.name == "captions" && (!strings.Contains(out, `"width":640`) || !strings.Contains(out, `"info": {"year":2014}`)) {
				t.Errorf("render dropped fields:\n%s", out)
			}
			f2, _, err := parseCOCO([]byte(out))
			if err != nil {
				t.Fatalf("re-parse: %v\n%s", err, out)
			}
			if d := diff(viewCOCO(f), viewCOCO(f2)); d != "" {
				t.Errorf("render round trip %s", d)
			}
		})
	}
}

type csvView struct {
	Line int
	Name string
	Text string
}

func viewCSV(f *csvFile) []csvView {
	var out []csvView
	for _, r := range f.rows {
		if r.ok {
			out = append(out, csvView{r.line, r.name, r.text})
		}
	}
	return out
}

func TestParseCSV(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		column string
		want   []csvView
		warns  []string
		notCSV bool
	}{
		{
			name: "bom crlf quotes and several rows per image",
			in:   "\xEF\xBB\xBFfile_name,text,extra\r\na.jpg,\"a cat, sitting\",1\r\na.jpg,\"she said \"\"hi\"\"\",2\r\nb.jpg,\"two\nlines\",3\r\n",
			want: []csvView{{2, "a.jpg", "a cat, sitting"}, {3, "a.jpg", `she said "hi"`}, {4, "b.jpg", "two\nlines"}},
		},
		{
			name:  "short rows and empty captions",
			in:    "File_Name,Caption\na.jpg\n\nb.jpg,\n",
			want:  []csvView{{4, "b.jpg", ""}},
			warns: []string{"malformed@2"},
		},
		{name: "no caption column", in: "file_name,label\na.jpg,1\n", notCSV: true},
		{name: "empty", in: "", notCSV: true},
		{
			name:   "chosen column",
			in:     "image,prompt\na.jpg,hello\n",
			column: "prompt",
			want:   []csvView{{2, "a.jpg", "hello"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, warns, err := parseCSV([]byte(tt.in), tt.column)
			if tt.notCSV {
				if !errors.Is(err, errNotCaptionCSV) {
					t.Fatalf("err = %v, want errNotCaptionCSV", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := diff(tt.want, viewCSV(f)); d != "" {
				t.Errorf("rows %s", d)
			}
			if d := diff(tt.warns, warnKinds(warns)); d != "" {
				t.Errorf("warnings %s\n%v", d, warns)
			}
		})
	}
}

func TestParseSidecar(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"one line", "a cat", []string{"a cat"}},
		{"trailing newline and spaces", "  a cat \n", []string{"a cat"}},
		{"crlf and blank lines", "one\r\n\r\ntwo\r\n", []string{"one", "two"}},
		{"old mac line ends", "one\rtwo", []string{"one", "two"}},
		{"bom", "\xEF\xBB\xBFtags, more tags", []string{"tags, more tags"}},
		{"empty", "", nil},
		{"only space", " \n\t\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := parseSidecar([]byte(tt.in))
			if d := diff(tt.want, got); d != "" {
				t.Errorf("parseSidecar(%q) %s", tt.in, d)
			}
			back, _ := parseSidecar(renderSidecar(got))
			if d := diff(got, back); d != "" {
				t.Errorf("render round trip %s", d)
			}
		})
	}
}

func TestSidecarNames(t *testing.T) {
	got := sidecarNames([]string{"a.png", "a.jpg", "b.jpg", "sub/a.jpg", "c.tar.gif"}, ".txt")
	want := []string{"a.png.txt", "a.txt", "b.txt", "sub/a.txt", "c.tar.txt"}
	if d := diff(want, got); d != "" {
		t.Errorf("sidecarNames %s", d)
	}
}

func TestJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " and \ backslash`, "a & b <c>", "tab\tnew\nline\rret", "\x00\x01\x1f\x7f",
		"ünïcödé ✓ 🐈", "bad \xff utf8", "line\u2028sep\u2029", strings.Repeat("long ", 1000)} {
		var want string
		if err := json.Unmarshal(jsonString(s), &want); err != nil {
			t.Fatalf("jsonString(%q) = %s: %v", s, jsonString(s), err)
		}
		if back := strings.ToValidUTF8(s, "\uFFFD"); want != back {
			t.Errorf("jsonString(%q) decodes to %q", s, want)
		}
	}
}

// TestReadSidecarMatchesReadStamped checks the Linux fast path against the portable one: same
// bytes, and a stamp that Save's conflict check (which uses os.Stat) accepts as unchanged.
func TestReadSidecarMatchesReadStamped(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.txt": "a caption\nand another", "empty.txt": ""})
	for _, name := range []string{"a.txt", "empty.txt"} {
		p := filepath.Join(dir, name)
		fast, fst, err := readSidecar(p, maxSidecarBytes)
		if err != nil {
			t.Fatal(err)
		}
		slow, sst, err := readStamped(p, maxSidecarBytes)
		if err != nil {
			t.Fatal(err)
		}
		if string(fast) != string(slow) || fst != sst {
			t.Errorf("%s: readSidecar %q %+v, readStamped %q %+v", name, fast, fst, slow, sst)
		}
		if changed, kind, err := changedSince(p, fst); changed || err != nil {
			t.Errorf("%s: changedSince right after reading: %v %s %v", name, changed, kind, err)
		}
	}
	if _, _, err := readSidecar(filepath.Join(dir, "missing.txt"), maxSidecarBytes); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, _, err := readSidecar(dir, maxSidecarBytes); err == nil {
		t.Error("read a folder")
	}
	if _, _, err := readSidecar(filepath.Join(dir, "a.txt"), 4); err == nil {
		t.Error("read past the size limit")
	}
}
