package annotate

import (
	"fmt"
	"strings"
)

// Format is where a dataset's captions live on disk, and so the format Save writes.
type Format string

// The formats Open reads, in the order of precedence it uses when the user does not pick one.
const (
	FormatJSONL   Format = "jsonl"   // metadata.jsonl (Hugging Face imagefolder), also in split folders
	FormatCOCO    Format = "coco"    // a COCO captions JSON anywhere in the folder
	FormatSidecar Format = "sidecar" // NAME.txt (or .caption, .cap) beside NAME.jpg
	FormatCSV     Format = "csv"     // a CSV with file_name and text columns
)

// ParseFormat reads a format name as typed by a user ("txt" and "caption" mean sidecar).
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "jsonl", "metadata.jsonl":
		return FormatJSONL, nil
	case "coco", "json":
		return FormatCOCO, nil
	case "sidecar", "txt", "caption", "cap":
		return FormatSidecar, nil
	case "csv":
		return FormatCSV, nil
	}
	return "", fmt.Errorf("unknown caption format %q (want jsonl, coco, sidecar or csv)", s)
}

func (f Format) valid() bool {
	return f == FormatJSONL || f == FormatCOCO || f == FormatSidecar || f == FormatCSV
}

func (f Format) describe(sidecarExt string) string {
	switch f {
	case FormatSidecar:
		return "sidecar " + sidecarExt + " files"
	case FormatJSONL:
		return "metadata.jsonl"
	case FormatCOCO:
		return "COCO captions JSON"
	case FormatCSV:
		return "CSV"
	}
	return string(f)
}

// normalizeExt turns "txt" or ".txt" into ".txt".
func normalizeExt(ext string) string {
	ext = strings.TrimSpace(ext)
	if ext != "" && !strings.HasPrefix(ext, ".") {
		ext = "." + ext
	}
	return ext
}
