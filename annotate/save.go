package annotate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/captune/captune/internal/atomicfile"
)

// ErrConflict is matched (errors.Is) by a *ConflictError.
var ErrConflict = errors.New("caption files changed on disk since they were loaded")

// ConflictKind says how a file changed behind Captune's back.
type ConflictKind string

// The kinds of conflicts.
const (
	ConflictModified ConflictKind = "modified" // its content is not what Captune read or wrote
	ConflictDeleted  ConflictKind = "deleted"  // it was there and is gone
	ConflictCreated  ConflictKind = "created"  // it was not there and now is
)

// Conflict is one caption file another program changed since Captune last read or wrote it.
type Conflict struct {
	Path string       // relative to the dataset root
	Kind ConflictKind // modified, deleted or created
}

// ConflictError is returned by Save when files it was about to write changed on disk. Those
// files were left alone (everything else was saved); the edits stay pending until the user picks,
// per file, Resolve(..., KeepMine) or Resolve(..., TakeTheirs).
type ConflictError struct {
	Conflicts []Conflict
}

// Error lists the first few files, for a one-line message.
func (e *ConflictError) Error() string {
	names := make([]string, 0, 3)
	for i, c := range e.Conflicts {
		if i == 3 {
			names = append(names, fmt.Sprintf("and %d more", len(e.Conflicts)-3))
			break
		}
		names = append(names, c.Path+" ("+string(c.Kind)+")")
	}
	return fmt.Sprintf("%d caption files changed on disk since they were loaded: %s", len(e.Conflicts), strings.Join(names, ", "))
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// fileWrite is one file a save writes (or removes).
type fileWrite struct {
	rel     string
	data    []byte
	remove  bool
	items   []int // items whose caption texts this file holds
	src     *source
	srcIdx  int
	project bool
}

// savePlan is everything one Save writes, rendered from a snapshot of the items.
type savePlan struct {
	snap   []*Item
	writes []fileWrite
	texts  []bool // per item: its caption texts changed and need a caption file written
}

// Save writes every pending edit: caption files in the dataset's format and .captune/project.json.
// Each file is written to a temporary file in the same folder, fsynced and renamed over the old
// one, so a crash leaves the old or the new file, never a mix. A file another program changed
// since it was loaded is not written: Save then returns a *ConflictError after saving the rest.
// If another Captune holds the lock file, Save writes nothing and returns a *LockError.
func (d *Dataset) Save() error {
	d.saveMu.Lock()
	defer d.saveMu.Unlock()
	if err := d.checkLock(); err != nil {
		return err
	}
	d.mu.Lock()
	plan := d.planSave()
	d.mu.Unlock()
	if plan == nil {
		return nil
	}
	var conflicts []Conflict
	var errs []error
	done := make([]bool, len(plan.writes))
	dirs := map[string]bool{}
	for k, w := range plan.writes {
		if err := d.checkWritable(w.rel); err != nil {
			errs = append(errs, err)
			continue
		}
		abs := d.abs(w.rel)
		d.mu.Lock()
		st := d.stamps[w.rel]
		d.mu.Unlock()
		changed, kind, err := changedSince(abs, st)
		if err != nil {
			errs = append(errs, fmt.Errorf("check %s: %w", w.rel, err))
			continue
		}
		if changed {
			conflicts = append(conflicts, Conflict{Path: w.rel, Kind: kind})
			continue
		}
		var nst stamp
		if w.project {
			if err := d.backupBadProject(); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if w.remove {
			err = removeFile(abs)
		} else {
			nst, err = writeAtomic(abs, w.data)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("save %s: %w", w.rel, err))
			continue
		}
		done[k] = true
		dirs[filepath.Dir(abs)] = true
		d.mu.Lock()
		d.stamps[w.rel] = nst
		if w.src != nil {
			d.sources[w.srcIdx] = w.src
		}
		if w.project {
			d.projectBytes, d.projectBad = w.data, false
		}
		d.mu.Unlock()
	}
	for dir := range dirs {
		if err := syncDir(dir); err != nil {
			errs = append(errs, fmt.Errorf("sync %s: %w", dir, err))
		}
	}
	d.cleanSavedDirs(dirs)
	d.settle(plan, done)
	d.notify(Change{Saved: true})
	if len(conflicts) > 0 {
		ce := &ConflictError{Conflicts: conflicts}
		if len(errs) > 0 {
			return errors.Join(append([]error{ce}, errs...)...)
		}
		return ce
	}
	return errors.Join(errs...)
}

// cleanSavedDirs removes the temporary files killed writers left in the folders a save wrote
// to, once per folder and Dataset: Open cleared the folders it walked, but a save can be the
// first to touch a folder (.captune, a sidecar folder an open without Recursive left out), and a
// Captune killed since the open may have left some. The count adds to RemovedTemps.
func (d *Dataset) cleanSavedDirs(dirs map[string]bool) {
	n := 0
	for dir := range dirs {
		d.mu.Lock()
		done := d.cleanedDirs[dir]
		if d.cleanedDirs == nil {
			d.cleanedDirs = map[string]bool{}
		}
		d.cleanedDirs[dir] = true
		d.mu.Unlock()
		if !done {
			m, _ := atomicfile.CleanStale(dir) // a folder we cannot list only keeps its leftovers
			n += m
		}
	}
	d.mu.Lock()
	d.removedTemps += n
	d.mu.Unlock()
}

// RemovedTemps counts the temporary files of killed Captunes that Open and Save removed from the
// dataset's folders (Report.RemovedTemps is Open's share).
func (d *Dataset) RemovedTemps() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.removedTemps
}

// planSave renders what must be written, or returns nil when nothing is pending. d.mu held.
func (d *Dataset) planSave() *savePlan {
	pending := false
	for i := range d.items {
		if d.items[i] != d.saved[i] {
			pending = true
			break
		}
	}
	if !pending {
		return nil
	}
	p := &savePlan{snap: append([]*Item(nil), d.items...), texts: make([]bool, len(d.items))}
	for i := range d.items {
		p.texts[i] = !sameTexts(d.items[i], d.saved[i])
	}
	switch d.format {
	case FormatSidecar:
		for i, it := range p.snap {
			if !p.texts[i] {
				continue
			}
			w := fileWrite{rel: d.sidecar[i], items: []int{i}}
			if it.HasCaption() {
				w.data = renderSidecar(texts(it))
			} else {
				w.remove = true
			}
			p.writes = append(p.writes, w)
		}
	default:
		dirty := map[int][]int{}
		for i, it := range p.snap {
			if !p.texts[i] {
				continue
			}
			if d.owner[i] < 0 {
				if !it.HasCaption() {
					continue // listed nowhere and still uncaptioned: nothing to write
				}
				d.owner[i] = d.ownerFor(it.Path)
			}
			dirty[d.owner[i]] = append(dirty[d.owner[i]], i)
		}
		sis := make([]int, 0, len(dirty))
		for si := range dirty {
			sis = append(sis, si)
		}
		sort.Ints(sis)
		for _, si := range sis {
			ns, data := d.renderSource(si)
			p.writes = append(p.writes, fileWrite{rel: ns.rel, data: data, items: dirty[si], src: ns, srcIdx: si})
		}
	}
	proj := newProject(d.format, d.sidecarExt, d.column, d.splitsAssigned, p.snap)
	for path, pi := range d.projectExtra {
		proj.Items[path] = pi
	}
	if data := proj.render(); !bytes.Equal(data, d.projectBytes) {
		p.writes = append(p.writes, fileWrite{rel: projectRel, data: data, project: true})
	}
	return p
}

// settle marks as saved the items whose files were all written.
func (d *Dataset) settle(p *savePlan, done []bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	textOK := make([]bool, len(p.snap))
	projectOK := true
	for i := range textOK {
		textOK[i] = !p.texts[i]
	}
	for k, w := range p.writes {
		if w.project {
			projectOK = done[k]
			continue
		}
		for _, i := range w.items {
			textOK[i] = done[k]
		}
	}
	for i, snap := range p.snap {
		if p.texts[i] && d.format != FormatSidecar && d.owner[i] < 0 {
			textOK[i] = true // uncaptioned and listed nowhere: nothing had to be written
		}
		if textOK[i] && projectOK {
			d.saved[i] = snap
		}
	}
}

// backupBadProject keeps a project.json that did not parse as project.json.bad before the first
// save replaces it, so the user's data is never silently dropped.
func (d *Dataset) backupBadProject() error {
	d.mu.Lock()
	bad := d.projectBad
	d.mu.Unlock()
	if !bad {
		return nil
	}
	abs := d.abs(projectRel)
	if _, err := os.Stat(abs); err != nil {
		return nil
	}
	if err := os.Rename(abs, abs+".bad"); err != nil {
		return fmt.Errorf("keep unreadable %s: %w", projectRel, err)
	}
	d.mu.Lock()
	d.stamps[projectRel] = stamp{}
	d.projectBad = false
	d.mu.Unlock()
	return nil
}

// renderSource renders source si with the current items. It returns a new source (with the
// entries Captune added) that replaces the old one once the file is written. d.mu held.
func (d *Dataset) renderSource(si int) (*source, []byte) {
	switch d.sources[si].format {
	case FormatJSONL:
		return d.renderJSONL(si)
	case FormatCSV:
		return d.renderCSV(si)
	default: // FormatCOCO
		return d.renderCOCO(si)
	}
}

// newSourceFrom returns an empty source for rendering s again.
func newSourceFrom(s *source) *source {
	return &source{rel: s.rel, dir: s.dir, format: s.format, meta: s.meta}
}

// captionColumn is the metadata.jsonl key or CSV header the captions are written under.
func (d *Dataset) captionColumn() string {
	if d.column == "" {
		return "text"
	}
	return d.column
}

// owned yields, in order, the items whose captions source si holds.
func (d *Dataset) owned(si int) func(yield func(int) bool) {
	return func(yield func(int) bool) {
		for i, o := range d.owner {
			if o == si && !yield(i) {
				return
			}
		}
	}
}

// renderJSONL renders a metadata.jsonl source: each listed image's first line gets its current
// captions (later duplicates are merged into it), other lines are kept, and captioned images the
// file did not list are appended.
func (d *Dataset) renderJSONL(si int) (*source, []byte) {
	s := d.sources[si]
	ns := newSourceFrom(s)
	col := d.captionColumn()
	nf := &jsonlFile{}
	seen := map[int]bool{}
	for li, l := range s.jsonl.lines {
		i := s.recItem[li]
		if i < 0 {
			nf.lines, ns.recItem = append(nf.lines, l), append(ns.recItem, -1)
			continue
		}
		if seen[i] {
			continue // a duplicate entry, merged into the first
		}
		seen[i] = true
		nf.lines, ns.recItem = append(nf.lines, l.withTexts(texts(d.items[i]), col)), append(ns.recItem, i)
	}
	for i := range d.owned(si) {
		if !seen[i] && d.items[i].HasCaption() {
			l := newJSONLLine(nameIn(s.dir, d.items[i].Path), col, texts(d.items[i]), false)
			nf.lines, ns.recItem = append(nf.lines, l), append(ns.recItem, i)
		}
	}
	ns.jsonl = nf
	return ns, nf.render()
}

// renderCSV renders a CSV source: a listed image's rows are replaced, where its first row was,
// by one row per current caption (each copying the other fields of the old row in its place, or
// of the last), other rows are kept, and captioned images the file did not list are appended.
func (d *Dataset) renderCSV(si int) (*source, []byte) {
	s := d.sources[si]
	ns := newSourceFrom(s)
	f := s.csv
	nf := *f
	nf.rows = nil
	rowsOf := map[int][]int{}
	for ri, i := range s.recItem {
		if i >= 0 {
			rowsOf[i] = append(rowsOf[i], ri)
		}
	}
	emit := func(i int, name string, like func(k int) []string) {
		caps := d.items[i].Captions
		if len(caps) == 0 {
			nf.rows, ns.recItem = append(nf.rows, nf.entryRow(like(0), name, "")), append(ns.recItem, i)
			return
		}
		for k, c := range caps {
			r := nf.entryRow(like(k), name, c.Text)
			if ns.meta {
				setField(r.fields, f.originCol, string(c.Origin))
				setField(r.fields, f.stateCol, string(c.State))
			}
			nf.rows, ns.recItem = append(nf.rows, r), append(ns.recItem, i)
		}
	}
	seen := map[int]bool{}
	for ri, r := range f.rows {
		i := s.recItem[ri]
		if i < 0 {
			nf.rows, ns.recItem = append(nf.rows, r), append(ns.recItem, -1)
			continue
		}
		if seen[i] {
			continue
		}
		seen[i] = true
		orig := rowsOf[i]
		emit(i, r.name, func(k int) []string { return f.rows[orig[min(k, len(orig)-1)]].fields })
	}
	for i := range d.owned(si) {
		if !seen[i] && d.items[i].HasCaption() {
			emit(i, nameIn(s.dir, d.items[i].Path), func(int) []string { return nil })
		}
	}
	ns.csv = &nf
	return ns, nf.render()
}

func setField(fields []string, col int, v string) {
	if col >= 0 && col < len(fields) {
		fields[col] = v
	}
}

// cocoIndex links the entries of a COCO file to the dataset's items.
type cocoIndex struct {
	itemEntry map[int]int   // item -> its first entry in images
	annItem   []int         // annotation -> its item, or -1
	annsOf    map[int][]int // item -> its annotations, in file order
	// nextAnn and nextImg are the first free numeric annotation and image ids.
	nextAnn, nextImg int64
}

// indexCOCO indexes the COCO file of source s.
func indexCOCO(s *source) cocoIndex {
	f := s.coco
	x := cocoIndex{itemEntry: map[int]int{}, annItem: make([]int, len(f.anns)), annsOf: map[int][]int{}}
	idEntry := map[string]int{}
	var imgIDs, annIDs []string
	for ei, im := range f.images {
		if im.obj != nil {
			if _, dup := idEntry[im.id]; !dup {
				idEntry[im.id] = ei
			}
			imgIDs = append(imgIDs, im.id)
		}
	}
	for ei, i := range s.recItem {
		if _, ok := x.itemEntry[i]; i >= 0 && !ok {
			x.itemEntry[i] = ei
		}
	}
	for ai, a := range f.anns {
		x.annItem[ai] = -1
		if a.obj == nil {
			continue
		}
		annIDs = append(annIDs, a.id)
		if ei, ok := idEntry[a.imageID]; ok && s.recItem[ei] >= 0 {
			x.annItem[ai] = s.recItem[ei]
			x.annsOf[x.annItem[ai]] = append(x.annsOf[x.annItem[ai]], ai)
		}
	}
	x.nextAnn, x.nextImg = nextCOCOID(annIDs), nextCOCOID(imgIDs)
	return x
}

// renderCOCO renders a COCO source: annotations of listed images are replaced by their current
// captions (reusing the old annotation entries and ids in order), everything else is kept.
func (d *Dataset) renderCOCO(si int) (*source, []byte) {
	s := d.sources[si]
	f := s.coco
	ns := &source{rel: s.rel, dir: s.dir, format: s.format, meta: s.meta, recItem: append([]int(nil), s.recItem...)}
	nf := &cocoFile{top: f.top, images: append([]cocoImage(nil), f.images...)}
	x := indexCOCO(s)
	emitted := map[int]bool{}
	emit := func(i int) {
		emitted[i] = true
		imageID := nf.images[x.itemEntry[i]].id
		for k, c := range d.items[i].Captions {
			var a cocoAnn
			if k < len(x.annsOf[i]) {
				a = f.anns[x.annsOf[i][k]]
			} else {
				id := jsonValue(x.nextAnn)
				x.nextAnn++
				a = cocoAnn{obj: rawObject{{"id", id}, {"image_id", json.RawMessage(imageID)}}, id: string(id), imageID: imageID}
			}
			a.caption = c.Text
			if s.meta {
				a.origin, a.state = string(c.Origin), string(c.State)
			}
			nf.anns = append(nf.anns, a)
		}
	}
	for ai, a := range f.anns {
		i := x.annItem[ai]
		if i < 0 {
			nf.anns = append(nf.anns, a)
			continue
		}
		if !emitted[i] {
			emit(i)
		}
	}
	for i := range d.owned(si) {
		if emitted[i] || !d.items[i].HasCaption() {
			continue
		}
		if _, ok := x.itemEntry[i]; !ok {
			id := jsonValue(x.nextImg)
			x.nextImg++
			name := nameIn(s.dir, d.items[i].Path)
			im := cocoImage{obj: rawObject{{"id", id}, {"file_name", jsonString(name)}}, id: string(id), name: name}
			nf.images = append(nf.images, im)
			ns.recItem = append(ns.recItem, i)
			x.itemEntry[i] = len(nf.images) - 1
		}
		emit(i)
	}
	ns.coco = nf
	return ns, nf.render()
}
