package annotate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
)

// ProjectDir is the folder, inside the dataset root, where Captune keeps what plain caption files
// cannot hold (origins, review states, splits) and its lock file. Sidecar-only tools ignore it.
const ProjectDir = ".captune"

// projectRel is the project file, relative to the root.
const projectRel = ProjectDir + "/project.json"

// projectVersion is written into project.json; a newer version is read as far as it goes.
const projectVersion = 1

// projectFile is .captune/project.json. Captions are matched to the caption files by text, so an
// edit made by another tool simply makes that caption "imported, unreviewed" again.
type projectFile struct {
	Version        int                    `json:"version"`
	Format         Format                 `json:"format,omitempty"`
	SidecarExt     string                 `json:"sidecar_ext,omitempty"`
	TextColumn     string                 `json:"text_column,omitempty"`
	SplitsAssigned bool                   `json:"splits_assigned,omitempty"` // splits below override folders and files
	Items          map[string]projectItem `json:"items,omitempty"`
}

// projectItem holds what differs from the defaults for one image.
type projectItem struct {
	Split    Split     `json:"split,omitempty"`
	Captions []Caption `json:"captions,omitempty"`
}

func parseProject(data []byte) (*projectFile, error) {
	text, _ := decodeText(data)
	var p projectFile
	if err := json.Unmarshal(text, &p); err != nil {
		return nil, err
	}
	if p.Version < 1 {
		return nil, fmt.Errorf("version %d: want 1 or later", p.Version)
	}
	return &p, nil
}

// newProject records the metadata of items. Items with only default metadata are left out, so
// a dataset where nothing was reviewed has a tiny project file.
func newProject(format Format, sidecarExt, column string, splitsAssigned bool, items []*Item) *projectFile {
	p := &projectFile{Version: projectVersion, Format: format, SidecarExt: sidecarExt, TextColumn: column,
		SplitsAssigned: splitsAssigned, Items: map[string]projectItem{}}
	for _, it := range items {
		var pi projectItem
		if splitsAssigned {
			pi.Split = it.Split
		}
		for _, c := range it.Captions {
			if c.Origin != OriginImported || c.State != StateUnreviewed {
				pi.Captions = it.Captions
				break
			}
		}
		if pi.Split != SplitNone || pi.Captions != nil {
			p.Items[it.Path] = pi
		}
	}
	return p
}

// render writes the project file by hand, one image per line: with 50,000 reviewed images it is
// rewritten on every autosave, and encoding/json's indenting encoder took most of a save's time.
// Default origins (imported) and states (unreviewed) are left out to keep it small.
func (p *projectFile) render() []byte {
	var b bytes.Buffer
	b.WriteString(`{"version":`)
	b.WriteString(strconv.Itoa(p.Version))
	for _, kv := range [][2]string{{"format", string(p.Format)}, {"sidecar_ext", p.SidecarExt}, {"text_column", p.TextColumn}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, `,"%s":`, kv[0])
			b.Write(jsonString(kv[1]))
		}
	}
	if p.SplitsAssigned {
		b.WriteString(`,"splits_assigned":true`)
	}
	b.WriteString(`,"items":{`)
	paths := make([]string, 0, len(p.Items))
	for path := range p.Items {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	for k, path := range paths {
		if k > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n")
		b.Write(jsonString(path))
		b.WriteString(`:{`)
		pi := p.Items[path]
		if pi.Split != SplitNone {
			b.WriteString(`"split":`)
			b.Write(jsonString(string(pi.Split)))
			if len(pi.Captions) > 0 {
				b.WriteByte(',')
			}
		}
		if len(pi.Captions) > 0 {
			b.WriteString(`"captions":[`)
			for j, c := range pi.Captions {
				if j > 0 {
					b.WriteByte(',')
				}
				b.WriteString(`{"text":`)
				b.Write(jsonString(c.Text))
				if c.Origin != OriginImported {
					b.WriteString(`,"origin":`)
					b.Write(jsonString(string(c.Origin)))
				}
				if c.State != StateUnreviewed {
					b.WriteString(`,"state":`)
					b.Write(jsonString(string(c.State)))
				}
				b.WriteByte('}')
			}
			b.WriteByte(']')
		}
		b.WriteByte('}')
	}
	b.WriteString("\n}}\n")
	return b.Bytes()
}

// apply sets the origin, state and split that p records for it. Captions are matched by text,
// each project caption used at most once.
func (p *projectFile) apply(it *Item) {
	if p == nil {
		return
	}
	pi, ok := p.Items[it.Path]
	if p.SplitsAssigned {
		it.Split = pi.Split
		if !validSplit(it.Split) {
			it.Split = SplitNone
		}
	}
	if !ok {
		return
	}
	used := make([]bool, len(pi.Captions))
	for i := range it.Captions {
		for j, pc := range pi.Captions {
			if used[j] || pc.Text != it.Captions[i].Text {
				continue
			}
			used[j] = true
			// Left out means the default, whatever the caption file says.
			it.Captions[i].Origin, it.Captions[i].State = OriginImported, StateUnreviewed
			if pc.Origin.valid() {
				it.Captions[i].Origin = pc.Origin
			}
			if pc.State.valid() {
				it.Captions[i].State = pc.State
			}
			break
		}
	}
}

func validSplit(s Split) bool {
	return s == SplitNone || s == SplitTrain || s == SplitVal || s == SplitTest
}
