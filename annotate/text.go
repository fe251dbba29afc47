package annotate

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// LongCaptionBytes is the caption length above which Open warns: such captions are usually a
// paste gone wrong, and the model truncates them to a few dozen tokens anyway.
const LongCaptionBytes = 4096

// decodeText turns the bytes of a text file into UTF-8: it strips a UTF-8 byte order mark,
// decodes UTF-16 files that start with a BOM (Windows Notepad's "Unicode"), and replaces invalid
// UTF-8 with U+FFFD. problem is empty when the bytes were clean UTF-8 (with or without BOM).
func decodeText(data []byte) (text []byte, problem string) {
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}), bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		data, problem = decodeUTF16(data[2:], data[0] == 0xFE), "UTF-16 text converted to UTF-8"
	case !utf8.Valid(data):
		data, problem = bytes.ToValidUTF8(data, []byte("\uFFFD")), "invalid UTF-8 replaced by U+FFFD"
	}
	// Every byte order mark at the start goes: a file saved twice by a careless tool can have two,
	// and a U+FEFF left in front would be read as a BOM the next time anyway.
	for bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}) {
		data = data[3:]
	}
	return data, problem
}

func decodeUTF16(b []byte, bigEndian bool) []byte {
	u := make([]uint16, len(b)/2)
	for i := range u {
		if bigEndian {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		} else {
			u[i] = uint16(b[2*i+1])<<8 | uint16(b[2*i])
		}
	}
	return []byte(string(utf16.Decode(u)))
}

// cleanCaption is how every reader normalises a caption: surrounding white space goes (editors
// add trailing newlines, CSV exports pad) and invalid UTF-8 becomes U+FFFD. Inner line breaks are
// kept; the sidecar writer, which has one caption per line, turns them into spaces.
func cleanCaption(s string) string {
	// U+FEFF too: at the start of a file it would be read back as a byte order mark.
	s = strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == '\uFEFF' })
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}

// oneLine replaces line breaks by spaces, for formats that hold one caption per line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", " ")
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

// splitLines splits text at \n, \r\n or \r, keeping empty lines so line numbers stay right.
func splitLines(text []byte) [][]byte {
	var lines [][]byte
	for len(text) > 0 {
		i := bytes.IndexAny(text, "\r\n")
		if i < 0 {
			lines = append(lines, text)
			break
		}
		lines = append(lines, text[:i])
		if text[i] == '\r' && i+1 < len(text) && text[i+1] == '\n' {
			i++
		}
		text = text[i+1:]
	}
	return lines
}
