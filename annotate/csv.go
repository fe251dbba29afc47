package annotate

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// errNotCaptionCSV means a .csv file has no file-name and caption columns; Open ignores it.
var errNotCaptionCSV = errors.New("not a captions CSV (want file_name and text columns)")

// fileColumns are the headers accepted for the image column, file_name (Hugging Face) first.
var fileColumns = []string{"file_name", "filename", "file", "image", "image_path", "path"}

// csvFile is a parsed captions CSV: a header with file_name and text columns, then one row per
// caption (an image with several captions has several rows). Other columns are kept.
type csvFile struct {
	header    []string
	fileCol   int
	textCol   int
	splitCol  int // -1 when absent; Captune's exports add split, origin and state columns
	originCol int
	stateCol  int
	rows      []csvRow
}

// csvRow is one record after the header.
type csvRow struct {
	line   int      // 1-based line where the record starts
	fields []string // as read; written back as they are for rows that are not entries
	ok     bool     // the row names an image
	name   string
	text   string // cleaned caption; "" when the row has none
}

// parseCSV reads a captions CSV. column names the caption header ("" tries defaultTextColumns).
func parseCSV(data []byte, column string) (*csvFile, []Warning, error) {
	var warns []Warning
	text, problem := decodeText(data)
	if problem != "" {
		warns = append(warns, Warning{Kind: WarnEncoding, Msg: problem})
	}
	r := csv.NewReader(bytes.NewReader(text))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	header, err := r.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: header: %v", errNotCaptionCSV, err)
	}
	normalizeBreaks(header)
	f := &csvFile{header: header, fileCol: -1, textCol: -1, splitCol: -1, originCol: -1, stateCol: -1}
	f.fileCol = findColumn(header, fileColumns)
	cols := defaultTextColumns
	if column != "" {
		cols = []string{column}
	}
	f.textCol = findColumn(header, cols)
	if f.fileCol < 0 || f.textCol < 0 || f.fileCol == f.textCol {
		return nil, nil, errNotCaptionCSV
	}
	f.splitCol = findColumn(header, []string{"split"})
	f.originCol = findColumn(header, []string{"origin"})
	f.stateCol = findColumn(header, []string{"state"})
	for {
		before := r.InputOffset()
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.StartLine
			}
			warns = append(warns, Warning{Kind: WarnMalformed, Line: line, Msg: err.Error()})
			if r.InputOffset() == before {
				break // the reader cannot move on; what follows is lost to it anyway
			}
			continue
		}
		normalizeBreaks(rec)
		if len(rec) == 1 && rec[0] == "" {
			continue // a lone "" : nothing in it, and CSV writers cannot write it back
		}
		row := csvRow{line: line, fields: rec}
		if f.fileCol < len(rec) && f.textCol < len(rec) && strings.TrimSpace(rec[f.fileCol]) != "" {
			row.ok, row.name = true, rec[f.fileCol]
			row.text = cleanCaption(rec[f.textCol])
			if len(row.text) > LongCaptionBytes {
				warns = append(warns, Warning{Kind: WarnLongCaption, Line: line, Msg: fmt.Sprintf("caption of %d bytes", len(row.text))})
			}
		} else if len(rec) > 1 || (len(rec) == 1 && strings.TrimSpace(rec[0]) != "") {
			warns = append(warns, Warning{Kind: WarnMalformed, Line: line, Msg: fmt.Sprintf("want %s and %s columns", header[f.fileCol], header[f.textCol])})
		}
		f.rows = append(f.rows, row)
	}
	return f, warns, nil
}

// lineBreaks turns every line break in a quoted field into \n. encoding/csv already turns \r\n
// into \n, but not a lone \r, which would then read differently once written back.
var lineBreaks = strings.NewReplacer("\r\n", "\n", "\r", "\n")

func normalizeBreaks(fields []string) {
	for i, f := range fields {
		if strings.IndexByte(f, '\r') >= 0 {
			fields[i] = lineBreaks.Replace(f)
		}
	}
}

func findColumn(header []string, names []string) int {
	for _, n := range names {
		for i, h := range header {
			if strings.EqualFold(strings.TrimSpace(h), n) {
				return i
			}
		}
	}
	return -1
}

// field returns column col of row, or "" when the row is shorter or col is -1.
func (r csvRow) field(col int) string {
	if col < 0 || col >= len(r.fields) {
		return ""
	}
	return r.fields[col]
}

// entryRow makes a row of f's width with the given image, caption and extra columns copied from
// like (the image's first row when it had one), so that other columns survive a save.
func (f *csvFile) entryRow(like []string, name, text string) csvRow {
	fields := make([]string, len(f.header))
	copy(fields, like)
	fields[f.fileCol], fields[f.textCol] = name, text
	return csvRow{fields: fields, ok: true, name: name, text: text}
}

// render writes the header and the rows, quoting where needed, with \n line ends.
func (f *csvFile) render() []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(f.header) // a bytes.Buffer does not fail
	for _, r := range f.rows {
		_ = w.Write(r.fields)
	}
	w.Flush()
	return buf.Bytes()
}
