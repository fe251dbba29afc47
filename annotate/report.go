package annotate

import (
	"fmt"
	"strings"
)

// WarningKind classifies what Open found wrong, so the UI can group warnings and the CLI can count
// them.
type WarningKind string

// The kinds of warnings.
const (
	WarnMalformed   WarningKind = "malformed"    // a line or entry that could not be read; skipped
	WarnUnsafePath  WarningKind = "unsafe-path"  // a file name or symlink leaving the dataset folder; refused
	WarnOrphan      WarningKind = "orphan"       // a caption whose image is not in the folder
	WarnDuplicate   WarningKind = "duplicate"    // an image listed twice, or two images sharing a caption file
	WarnEncoding    WarningKind = "encoding"     // BOM-less UTF-16, invalid UTF-8 and the like, repaired
	WarnLongCaption WarningKind = "long-caption" // a caption over LongCaptionBytes
	WarnIgnored     WarningKind = "ignored"      // captions in another format that were not used
	WarnUnreadable  WarningKind = "unreadable"   // a file that could not be read
	WarnLeftover    WarningKind = "leftover"     // a temporary file from a save that was interrupted
)

// Warning is one problem found while opening a dataset, named by file and line so the user can fix
// it in the file.
type Warning struct {
	Kind WarningKind `json:"kind"`
	File string      `json:"file,omitempty"` // relative to the dataset root
	Line int         `json:"line,omitempty"` // 1-based; 0 when the warning is about the whole file
	Msg  string      `json:"message"`
}

// String is "file:line: message", the form editors and terminals link to.
func (w Warning) String() string {
	var b strings.Builder
	if w.File != "" {
		b.WriteString(w.File)
		if w.Line > 0 {
			fmt.Fprintf(&b, ":%d", w.Line)
		}
		b.WriteString(": ")
	}
	b.WriteString(w.Msg)
	return b.String()
}

// Report is what Open found: how many images and captions, from which files, and what was wrong.
type Report struct {
	Source      Format   `json:"source"`                 // where captions were read from; the format Save writes
	SidecarExt  string   `json:"sidecar_ext,omitempty"`  // with FormatSidecar: ".txt", ".caption" or ".cap"
	SourceFiles []string `json:"source_files,omitempty"` // the caption files read, for single-file formats
	Images      int      `json:"images"`
	Captioned   int      `json:"captioned"`
	Uncaptioned int      `json:"uncaptioned"`
	Captions    int      `json:"captions"`
	Orphans     int      `json:"orphans"`    // caption entries or files whose image is missing
	Duplicates  int      `json:"duplicates"` // repeated entries for one image, or images sharing a sidecar name
	// InSubfolders counts the images in sub-folders that an open without Recursive left out, so
	// that a program can say they exist instead of skipping them without a word.
	InSubfolders int `json:"in_subfolders,omitempty"`
	// RemovedTemps counts the temporary files of killed Captunes that Open removed.
	RemovedTemps int       `json:"removed_temps,omitempty"`
	Warnings     []Warning `json:"warnings,omitempty"`
}

// Summary is a one-line description for a status bar.
func (r Report) Summary() string {
	s := fmt.Sprintf("%d images, %d captioned, %d uncaptioned, %d captions", r.Images, r.Captioned, r.Uncaptioned, r.Captions)
	if r.Source != "" {
		s += " from " + r.Source.describe(r.SidecarExt)
	}
	if r.Orphans > 0 {
		s += fmt.Sprintf(", %d orphan captions", r.Orphans)
	}
	if r.Duplicates > 0 {
		s += fmt.Sprintf(", %d duplicates", r.Duplicates)
	}
	if n := len(r.Warnings) - r.Orphans - r.Duplicates; n > 0 {
		s += fmt.Sprintf(", %d other warnings", n)
	}
	if r.RemovedTemps > 0 {
		s += "; " + RemovedTempsNote(r.RemovedTemps)
	}
	return s
}

func (r *Report) warn(kind WarningKind, file string, line int, format string, args ...any) {
	r.Warnings = append(r.Warnings, Warning{Kind: kind, File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
	switch kind {
	case WarnOrphan:
		r.Orphans++
	case WarnDuplicate:
		r.Duplicates++
	}
}

// addFileWarnings adds warnings a parser made about file (parsers do not know the file name).
func (r *Report) addFileWarnings(file string, ws []Warning) {
	for _, w := range ws {
		w.File = file
		r.Warnings = append(r.Warnings, w)
		switch w.Kind {
		case WarnOrphan:
			r.Orphans++
		case WarnDuplicate:
			r.Duplicates++
		}
	}
}

// RemovedTempsNote says that n leftover temporary files were removed, for the CLI and the window.
func RemovedTempsNote(n int) string {
	if n == 1 {
		return "removed 1 leftover temporary file"
	}
	return fmt.Sprintf("removed %d leftover temporary files", n)
}
