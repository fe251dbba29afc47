package annotate

import (
	"errors"
	"fmt"
	"io/fs"
	"reflect"
)

// Resolution is the user's answer to a conflict.
type Resolution int

// The answers to a conflict.
const (
	KeepMine   Resolution = iota // overwrite the file with Captune's version at the next save
	TakeTheirs                   // reload the file; Captune's unsaved edits to it are dropped (Undo brings them back)
)

// Resolve settles conflicts returned by Save. KeepMine lets the next Save overwrite the files;
// TakeTheirs reloads them into the dataset as one undoable step. Listeners are notified either
// way, which also makes an Autosaver save again.
func (d *Dataset) Resolve(conflicts []Conflict, r Resolution) error {
	d.saveMu.Lock()
	defer d.saveMu.Unlock()
	var errs []error
	var changed []int
	for _, c := range conflicts {
		var err error
		var idx []int
		switch r {
		case KeepMine:
			err = d.keepMine(c.Path)
		case TakeTheirs:
			idx, err = d.takeTheirs(c.Path)
		default:
			err = fmt.Errorf("resolution %d: want KeepMine or TakeTheirs", r)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("resolve %s: %w", c.Path, err))
		}
		changed = append(changed, idx...)
	}
	d.notify(Change{Items: changed})
	return errors.Join(errs...)
}

func (d *Dataset) keepMine(rel string) error {
	st, err := currentStamp(d.abs(rel))
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.stamps[rel]; !ok && !d.tracked(rel) {
		return errors.New("not a caption file of this dataset")
	}
	d.stamps[rel] = st
	if rel == projectRel {
		d.projectBytes = nil // make the next save write it
	}
	return nil
}

// tracked reports whether rel is a file Save may write. d.mu held.
func (d *Dataset) tracked(rel string) bool {
	if rel == projectRel {
		return true
	}
	for _, s := range d.sources {
		if s.rel == rel {
			return true
		}
	}
	for _, s := range d.sidecar {
		if s == rel {
			return true
		}
	}
	return false
}

// ownFiles is the set of files Save may write.
func (d *Dataset) ownFiles() map[string]bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	own := map[string]bool{projectRel: true}
	for _, s := range d.sources {
		own[s.rel] = true
	}
	for _, s := range d.sidecar {
		own[s] = true
	}
	return own
}

// takeTheirs reloads one file and returns the items it changed.
func (d *Dataset) takeTheirs(rel string) ([]int, error) {
	data, st, err := readStamped(d.abs(rel), maxSourceBytes)
	if errors.Is(err, fs.ErrNotExist) {
		data, st, err = nil, stamp{}, nil // deleted: "theirs" is no file
	}
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if rel == projectRel {
		return d.takeTheirProject(data, st)
	}
	newCaps := map[int][]Caption{}
	touched := map[int]bool{}
	var rep Report // warnings were reported when the file was first opened
	found := false
	switch d.format {
	case FormatSidecar:
		for i, s := range d.sidecar {
			if s == rel {
				texts, _ := parseSidecar(data)
				newCaps[i], touched[i], found = importedCaptions(texts), true, true
			}
		}
	default:
		for si, s := range d.sources {
			if s.rel != rel {
				continue
			}
			found = true
			for i, o := range d.owner {
				if o == si {
					d.owner[i], touched[i] = -1, true
				}
			}
			add := func(i int, caps []Caption, _ string) {
				newCaps[i], touched[i] = append(newCaps[i], caps...), true
			}
			switch s.format {
			case FormatJSONL:
				d.loadJSONLFile(si, rel, data, &rep, add)
			case FormatCSV:
				if err := d.loadCSVFile(si, rel, data, &rep, add); err != nil {
					// Their file has no caption columns any more: it lists no image.
					d.sources[si] = &source{rel: rel, dir: s.dir, format: FormatCSV, csv: &csvFile{header: s.csv.header,
						fileCol: s.csv.fileCol, textCol: s.csv.textCol, splitCol: -1, originCol: -1, stateCol: -1}}
				}
			case FormatCOCO:
				f, _, err := parseCOCO(data)
				if err != nil {
					f = &cocoFile{top: rawObject{{"images", []byte("[]")}, {"annotations", []byte("[]")}}}
				}
				d.loadCOCOFile(si, rel, f, &rep, add)
			}
		}
	}
	if !found {
		return nil, errors.New("not a caption file of this dataset")
	}
	d.stamps[rel] = st
	var stp step
	for i := range touched {
		old := d.items[i]
		it := old.clone()
		it.Captions = carryMeta(newCaps[i], old.Captions)
		d.saved[i] = it
		stp.items, stp.before, stp.after = append(stp.items, i), append(stp.before, old), append(stp.after, it)
	}
	if len(stp.items) > 0 {
		d.commit(stp)
	}
	return stp.items, nil
}

// carryMeta keeps the origin and review state of captions whose text did not change.
func carryMeta(caps, old []Caption) []Caption {
	if len(caps) == 0 {
		return nil
	}
	out := append([]Caption(nil), caps...)
	used := make([]bool, len(old))
	for k := range out {
		for j, o := range old {
			if !used[j] && o.Text == out[k].Text {
				used[j] = true
				out[k].Origin, out[k].State = o.Origin, o.State
				break
			}
		}
	}
	return out
}

// takeTheirProject re-applies a project.json another program wrote. d.mu held.
func (d *Dataset) takeTheirProject(data []byte, st stamp) ([]int, error) {
	var p *projectFile
	if data != nil {
		var err error
		if p, err = parseProject(data); err != nil {
			return nil, err
		}
	}
	d.stamps[projectRel] = st
	d.projectBytes = data
	d.projectExtra = map[string]projectItem{}
	var stp step
	for i, old := range d.items {
		it := old.clone()
		for k := range it.Captions {
			it.Captions[k].Origin, it.Captions[k].State = OriginImported, StateUnreviewed
		}
		p.apply(it)
		if reflect.DeepEqual(it, old) {
			continue
		}
		stp.items, stp.before, stp.after = append(stp.items, i), append(stp.before, old), append(stp.after, it)
	}
	if p != nil {
		d.splitsAssigned = p.SplitsAssigned
		for path, pi := range p.Items {
			if _, ok := d.index[path]; !ok {
				d.projectExtra[path] = pi
			}
		}
	}
	if len(stp.items) > 0 {
		d.commit(stp)
	}
	return stp.items, nil
}
