package annotate

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// sidecarExts are the sidecar extensions Open looks for, in order of preference on a tie.
var sidecarExts = []string{".txt", ".caption", ".cap"}

// parseSidecar reads a sidecar caption file (NAME.txt beside NAME.jpg): one caption per non-empty
// line, the convention of kohya_ss and taggui (one line) and of OneTrainer (one caption per line,
// several lines for several captions).
func parseSidecar(data []byte) ([]string, []Warning) {
	var warns []Warning
	text, problem := decodeText(data)
	if problem != "" {
		warns = append(warns, Warning{Kind: WarnEncoding, Msg: problem})
	}
	var texts []string
	for i, line := range splitLines(text) {
		t := cleanCaption(string(line))
		if t == "" {
			continue
		}
		if len(t) > LongCaptionBytes {
			warns = append(warns, Warning{Kind: WarnLongCaption, Line: i + 1, Msg: fmt.Sprintf("caption of %d bytes", len(t))})
		}
		texts = append(texts, t)
	}
	return texts, warns
}

// renderSidecar writes captions one per line, flattening line breaks inside a caption.
func renderSidecar(texts []string) []byte {
	lines := make([]string, len(texts))
	for i, t := range texts {
		lines[i] = oneLine(t)
	}
	return []byte(strings.Join(lines, "\n"))
}

// sidecarNames maps each image (slash path relative to the root) to its sidecar path for ext.
// The sidecar of a.jpg is a.txt; when a.jpg and a.png share a folder, the first in name order
// keeps a.txt and the others use their full name (a.png.txt), so that no two images ever write
// the same file. Reading and writing use the same rule.
func sidecarNames(images []string, ext string) []string {
	names := sidecarStems(images)
	for i := range names {
		names[i] += ext
	}
	return names
}

// sidecarStems is sidecarNames without the extension.
func sidecarStems(images []string) []string {
	type key struct{ dir, stem string }
	taken := make(map[key]bool, len(images))
	sorted := sort.StringsAreSorted(images)
	order := make([]int, len(images))
	for i := range order {
		order[i] = i
	}
	if !sorted {
		sort.Slice(order, func(a, b int) bool { return images[order[a]] < images[order[b]] })
	}
	out := make([]string, len(images))
	for _, i := range order {
		img := images[i]
		slash := strings.LastIndexByte(img, '/') + 1
		dir, file := img[:slash], img[slash:]
		k := key{dir, strings.TrimSuffix(file, path.Ext(file))}
		if !taken[k] {
			taken[k] = true
			out[i] = dir + k.stem
		} else {
			out[i] = img
		}
	}
	return out
}
