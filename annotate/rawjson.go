package annotate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// rawField is one key of a JSON object with its value kept as written.
type rawField struct {
	Key   string
	Value json.RawMessage
}

// rawObject is a JSON object that remembers its key order and the values Captune does not
// understand, so that saving a metadata.jsonl line or a COCO entry changes only the caption and
// leaves every other column as the user's tool wrote it.
type rawObject []rawField

// parseRawObject reads exactly one JSON object from data. A repeated key keeps its last value,
// as encoding/json does.
func parseRawObject(data []byte) (rawObject, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("want a JSON object, found %v", tokenName(tok))
	}
	var o rawObject
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("want an object key, found %v", tokenName(tok))
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("value of %q: %w", key, err)
		}
		o.set(key, v)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("text after the object")
		}
		return nil, err
	}
	return o, nil
}

func tokenName(t json.Token) string {
	switch v := t.(type) {
	case json.Delim:
		return string(v)
	case string:
		return "a string"
	case nil:
		return "null"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// get returns the value of key.
func (o rawObject) get(key string) (json.RawMessage, bool) {
	for _, f := range o {
		if f.Key == key {
			return f.Value, true
		}
	}
	return nil, false
}

// getString returns the value of key when it is a JSON string.
func (o rawObject) getString(key string) (string, bool) {
	v, ok := o.get(key)
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return "", false
	}
	return s, true
}

// set replaces the value of key, or appends the key.
func (o *rawObject) set(key string, v json.RawMessage) {
	for i := range *o {
		if (*o)[i].Key == key {
			(*o)[i].Value = v
			return
		}
	}
	*o = append(*o, rawField{key, v})
}

// clone copies the field list so that set on the copy leaves o alone.
func (o rawObject) clone() rawObject { return append(rawObject(nil), o...) }

// appendJSON writes o on one line: values are compacted so a pretty-printed nested value cannot
// break a JSON Lines file.
func (o rawObject) appendJSON(buf *bytes.Buffer) {
	buf.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(jsonString(f.Key))
		buf.WriteByte(':')
		if err := json.Compact(buf, f.Value); err != nil {
			buf.WriteString("null") // unreachable: values were validated when parsed or marshalled
		}
	}
	buf.WriteByte('}')
}

// jsonString encodes s as a JSON string without HTML escaping, so "a cat & a dog" stays
// readable in the file. It is written by hand because project.json and metadata.jsonl encode
// tens of thousands of strings per save; invalid UTF-8 becomes U+FFFD as with encoding/json.
func jsonString(s string) []byte {
	const hex = "0123456789abcdef"
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' { // valid JSON, but they break JavaScript readers
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// jsonValue marshals v without HTML escaping and without a trailing newline.
func jsonValue(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte("null") // only strings, string slices and numbers are marshalled here
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// textValue decodes a caption value: a string or a list of strings (HF lets "text" be either).
// null reads as no caption.
func textValue(v json.RawMessage) (texts []string, isList bool, err error) {
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return []string{s}, false, nil
	}
	var list []string
	if err := json.Unmarshal(v, &list); err == nil {
		return list, true, nil
	}
	return nil, false, errors.New("must be a string or a list of strings")
}
