package annotate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// errNotCOCO means a .json file is not a COCO captions file; Open then ignores it quietly.
var errNotCOCO = errors.New("not a COCO captions file")

// cocoFile is a parsed COCO captions JSON ({"images": [...], "annotations": [...]} with a
// "caption" per annotation). Everything else in the file (info, licenses, image sizes, URLs) is
// kept and written back.
type cocoFile struct {
	top    rawObject // all top-level keys in order; images and annotations are re-rendered
	images []cocoImage
	anns   []cocoAnn
}

// cocoImage is one entry of "images".
type cocoImage struct {
	obj   rawObject       // nil when the entry is unusable; raw is written back then
	raw   json.RawMessage // the entry as read
	id    string          // the id as compact JSON, so 7 and "7" stay different ids
	name  string          // file_name as written
	split string          // Karpathy-style "split" field, if any
}

// cocoAnn is one entry of "annotations".
type cocoAnn struct {
	obj     rawObject
	raw     json.RawMessage
	id      string
	imageID string
	caption string // cleaned
	origin  string // Captune's own fields, written by Export; empty in other files
	state   string
}

// parseCOCO reads a COCO captions file. It returns errNotCOCO when data is JSON of another kind
// (a config, an instances file without captions, a results list).
func parseCOCO(data []byte) (*cocoFile, []Warning, error) {
	var warns []Warning
	text, problem := decodeText(data)
	if problem != "" {
		warns = append(warns, Warning{Kind: WarnEncoding, Msg: problem})
	}
	top, err := parseRawObject(text)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errNotCOCO, err)
	}
	rawImages, ok1 := top.get("images")
	rawAnns, ok2 := top.get("annotations")
	if !ok1 || !ok2 {
		return nil, nil, fmt.Errorf("%w: no images and annotations", errNotCOCO)
	}
	var imgs, anns []json.RawMessage
	if json.Unmarshal(rawImages, &imgs) != nil || json.Unmarshal(rawAnns, &anns) != nil {
		return nil, nil, fmt.Errorf("%w: images and annotations must be lists", errNotCOCO)
	}
	f := &cocoFile{top: top}
	hasCaption := len(anns) == 0
	for i, raw := range anns {
		a := cocoAnn{raw: raw}
		obj, err := parseRawObject(raw)
		if err != nil {
			warns = append(warns, Warning{Kind: WarnMalformed, Msg: fmt.Sprintf("annotations[%d]: %v", i, err)})
			f.anns = append(f.anns, a)
			continue
		}
		capRaw, hasCap := obj.get("caption")
		if hasCap {
			hasCaption = true
		}
		imgID, hasImg := obj.get("image_id")
		var c string
		if !hasCap || !hasImg || json.Unmarshal(capRaw, &c) != nil {
			warns = append(warns, Warning{Kind: WarnMalformed, Msg: fmt.Sprintf("annotations[%d]: want image_id and a caption string", i)})
			f.anns = append(f.anns, a)
			continue
		}
		a.obj, a.imageID, a.caption = obj, compactJSON(imgID), cleanCaption(c)
		if id, ok := obj.get("id"); ok {
			a.id = compactJSON(id)
		}
		a.origin, _ = obj.getString("origin")
		a.state, _ = obj.getString("state")
		if len(a.caption) > LongCaptionBytes {
			warns = append(warns, Warning{Kind: WarnLongCaption, Msg: fmt.Sprintf("annotations[%d]: caption of %d bytes", i, len(a.caption))})
		}
		f.anns = append(f.anns, a)
	}
	if !hasCaption {
		return nil, nil, fmt.Errorf("%w: annotations have no captions", errNotCOCO)
	}
	for i, raw := range imgs {
		im := cocoImage{raw: raw}
		obj, err := parseRawObject(raw)
		if err != nil {
			warns = append(warns, Warning{Kind: WarnMalformed, Msg: fmt.Sprintf("images[%d]: %v", i, err)})
			f.images = append(f.images, im)
			continue
		}
		id, hasID := obj.get("id")
		name, hasName := obj.getString("file_name")
		if !hasID || !hasName {
			warns = append(warns, Warning{Kind: WarnMalformed, Msg: fmt.Sprintf("images[%d]: want id and a file_name string", i)})
			f.images = append(f.images, im)
			continue
		}
		im.obj, im.id, im.name = obj, compactJSON(id), name
		im.split, _ = obj.getString("split")
		f.images = append(f.images, im)
	}
	return f, warns, nil
}

func compactJSON(v json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, v) != nil {
		return string(v)
	}
	return b.String()
}

// render writes the file with one image or annotation per line, which keeps diffs readable.
func (f *cocoFile) render() []byte {
	var buf bytes.Buffer
	buf.WriteString("{\n")
	for i, fld := range f.top {
		if i > 0 {
			buf.WriteString(",\n")
		}
		buf.Write(jsonString(fld.Key))
		buf.WriteString(": ")
		switch fld.Key {
		case "images":
			writeEntries(&buf, len(f.images), func(i int) (rawObject, json.RawMessage) { return f.images[i].obj, f.images[i].raw })
		case "annotations":
			writeEntries(&buf, len(f.anns), func(i int) (rawObject, json.RawMessage) {
				a := f.anns[i]
				if a.obj == nil {
					return nil, a.raw
				}
				obj := a.obj.clone()
				obj.set("caption", jsonString(a.caption))
				if a.origin != "" {
					obj.set("origin", jsonString(a.origin))
				}
				if a.state != "" {
					obj.set("state", jsonString(a.state))
				}
				return obj, nil
			})
		default:
			if json.Compact(&buf, fld.Value) != nil {
				buf.WriteString("null")
			}
		}
	}
	buf.WriteString("\n}\n")
	return buf.Bytes()
}

func writeEntries(buf *bytes.Buffer, n int, entry func(int) (rawObject, json.RawMessage)) {
	if n == 0 {
		buf.WriteString("[]")
		return
	}
	buf.WriteString("[\n")
	for i := 0; i < n; i++ {
		if i > 0 {
			buf.WriteString(",\n")
		}
		obj, raw := entry(i)
		if obj != nil {
			obj.appendJSON(buf)
		} else if json.Compact(buf, raw) != nil {
			buf.WriteString("null")
		}
	}
	buf.WriteString("\n]")
}

// nextCOCOID returns one more than the largest integer id among ids (JSON texts), so that ids
// Captune adds never collide with ids already in the file.
func nextCOCOID(ids []string) int64 {
	var max int64
	for _, s := range ids {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > max {
			max = n
		}
	}
	return max + 1
}
