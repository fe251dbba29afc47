package annotate

import (
	"bytes"
	"fmt"
)

// defaultTextColumns are the keys (jsonl) or headers (CSV) tried for captions when the user did
// not name one: "text" is Hugging Face's convention, the others are common in the wild.
var defaultTextColumns = []string{"text", "caption", "captions"}

// jsonlFile is a parsed metadata.jsonl (Hugging Face imagefolder): one JSON object per line with
// file_name, relative to the file's folder, and the captions.
type jsonlFile struct {
	lines []jsonlLine
}

// jsonlLine is one line of a metadata.jsonl. Lines that are not usable entries keep their bytes
// and are written back unchanged, so saving never drops what Captune could not read.
type jsonlLine struct {
	num    int       // 1-based line number
	raw    []byte    // the line as read; written back when obj is nil
	obj    rawObject // the entry; nil when the line is blank, malformed or has no file_name
	name   string    // file_name as written
	column string    // key of the captions; "" when the entry has none
	texts  []string  // cleaned captions, empty ones dropped
	list   bool      // the captions were a JSON list
}

// parseJSONL reads a metadata.jsonl. column names the caption key ("" tries defaultTextColumns).
// Bad lines are reported with their number and skipped; the rest loads.
func parseJSONL(data []byte, column string) (*jsonlFile, []Warning) {
	var warns []Warning
	text, problem := decodeText(data)
	if problem != "" {
		warns = append(warns, Warning{Kind: WarnEncoding, Msg: problem})
	}
	f := &jsonlFile{}
	for i, line := range splitLines(text) {
		l := jsonlLine{num: i + 1, raw: line}
		if len(bytes.TrimSpace(line)) == 0 {
			f.lines = append(f.lines, l)
			continue
		}
		obj, err := parseRawObject(line)
		if err != nil {
			warns = append(warns, Warning{Kind: WarnMalformed, Line: l.num, Msg: fmt.Sprintf("invalid JSON: %v", err)})
			f.lines = append(f.lines, l)
			continue
		}
		name, ok := obj.getString("file_name")
		if !ok {
			warns = append(warns, Warning{Kind: WarnMalformed, Line: l.num, Msg: "no file_name string"})
			f.lines = append(f.lines, l)
			continue
		}
		l.obj, l.name = obj, name
		cols := defaultTextColumns
		if column != "" {
			cols = []string{column}
		}
		for _, c := range cols {
			v, ok := obj.get(c)
			if !ok {
				continue
			}
			texts, list, err := textValue(v)
			if err != nil {
				warns = append(warns, Warning{Kind: WarnMalformed, Line: l.num, Msg: fmt.Sprintf("%s %v; captions skipped", c, err)})
				l.obj = nil // keep the line as written: rewriting it would drop the value we could not read
				break
			}
			l.column, l.list = c, list
			l.texts = cleanTexts(texts, l.num, &warns)
			break
		}
		f.lines = append(f.lines, l)
	}
	return f, warns
}

// cleanTexts cleans captions, drops empty ones and warns about very long ones.
func cleanTexts(texts []string, line int, warns *[]Warning) []string {
	var out []string
	for _, t := range texts {
		t = cleanCaption(t)
		if t == "" {
			continue
		}
		if len(t) > LongCaptionBytes {
			*warns = append(*warns, Warning{Kind: WarnLongCaption, Line: line, Msg: fmt.Sprintf("caption of %d bytes", len(t))})
		}
		out = append(out, t)
	}
	return out
}

// withTexts returns the line with its captions replaced. A single caption stays a string unless
// the line held a list; several captions always make a list.
func (l jsonlLine) withTexts(texts []string, column string) jsonlLine {
	l.texts = texts
	if l.column == "" {
		l.column = column
	}
	if len(texts) > 1 {
		l.list = true
	}
	return l
}

// render writes the file back: entries with their current captions, other lines as read.
func (f *jsonlFile) render() []byte {
	var buf bytes.Buffer
	for _, l := range f.lines {
		if l.obj == nil {
			if len(bytes.TrimSpace(l.raw)) > 0 {
				buf.Write(l.raw)
				buf.WriteByte('\n')
			}
			continue
		}
		obj := l.obj.clone()
		if l.column != "" {
			obj.set(l.column, textsJSON(l.texts, l.list || len(l.texts) > 1))
		}
		obj.appendJSON(&buf)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// textsJSON is the value of a caption column.
func textsJSON(texts []string, list bool) []byte {
	if list {
		if texts == nil {
			texts = []string{}
		}
		return jsonValue(texts)
	}
	if len(texts) == 0 {
		return jsonString("")
	}
	return jsonString(texts[0])
}

// newJSONLLine makes the entry for an image that was not in the file yet.
func newJSONLLine(name, column string, texts []string, list bool) jsonlLine {
	obj := rawObject{{Key: "file_name", Value: jsonString(name)}}
	return jsonlLine{obj: obj, name: name, column: column, texts: texts, list: list || len(texts) > 1}
}
