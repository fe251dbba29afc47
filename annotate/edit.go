package annotate

import (
	"errors"
	"fmt"
)

// UndoLimit is how many edits Undo can take back; older ones are forgotten.
const UndoLimit = 1000

// ErrEmptyCaption is returned when a caption would be blank: caption files cannot hold an empty
// caption (it would vanish on the next open), so the UI should call RemoveCaption instead.
var ErrEmptyCaption = errors.New("empty caption")

// step is one undoable edit: the items it replaced and their replacements.
type step struct {
	items  []int
	before []*Item
	after  []*Item
	splits bool // the edit changed splits
}

// commit makes st the current state and records it for Undo. d.mu held.
func (d *Dataset) commit(st step) {
	for k, i := range st.items {
		d.items[i] = st.after[k]
	}
	if st.splits {
		d.splitsAssigned = true
	}
	d.undo = append(d.undo, st)
	if len(d.undo) > UndoLimit {
		d.undo = append([]step(nil), d.undo[len(d.undo)-UndoLimit:]...)
	}
	d.redo = nil
}

// edit applies fn to a copy of item i as one undoable step. fn returns whether it changed
// anything; an edit that changes nothing leaves no undo step and notifies no one.
func (d *Dataset) edit(i int, splits bool, fn func(it *Item) (bool, error)) error {
	d.mu.Lock()
	if i < 0 || i >= len(d.items) {
		d.mu.Unlock()
		return fmt.Errorf("item %d: out of range (%d items)", i, len(d.items))
	}
	it := d.items[i].clone()
	changed, err := fn(it)
	if err != nil || !changed {
		d.mu.Unlock()
		if err != nil {
			return fmt.Errorf("%s: %w", it.Path, err)
		}
		return nil
	}
	d.commit(step{items: []int{i}, before: []*Item{d.items[i]}, after: []*Item{it}, splits: splits})
	d.mu.Unlock()
	d.notify(Change{Items: []int{i}})
	return nil
}

func checkCaption(it *Item, c int) error {
	if c < 0 || c >= len(it.Captions) {
		return fmt.Errorf("caption %d: out of range (%d captions)", c, len(it.Captions))
	}
	return nil
}

func checkOrigin(o Origin) error {
	if !o.valid() {
		return fmt.Errorf("origin %q: want human, imported or model:NAME", o)
	}
	return nil
}

// SetCaption replaces the text of caption c of item i and records who wrote it. Surrounding
// white space is trimmed. A caption written by a model becomes unreviewed; a human edit keeps the
// review state, since the human is the reviewer.
func (d *Dataset) SetCaption(i, c int, text string, origin Origin) error {
	return d.edit(i, false, func(it *Item) (bool, error) {
		if err := checkCaption(it, c); err != nil {
			return false, err
		}
		if err := checkOrigin(origin); err != nil {
			return false, err
		}
		text = cleanCaption(text)
		if text == "" {
			return false, ErrEmptyCaption
		}
		cp := &it.Captions[c]
		if cp.Text == text && cp.Origin == origin {
			return false, nil
		}
		cp.Text, cp.Origin = text, origin
		if origin.IsModel() {
			cp.State = StateUnreviewed
		}
		return true, nil
	})
}

// AddCaption appends an unreviewed caption to item i and returns its index.
func (d *Dataset) AddCaption(i int, text string, origin Origin) (int, error) {
	idx := -1
	err := d.edit(i, false, func(it *Item) (bool, error) {
		if err := checkOrigin(origin); err != nil {
			return false, err
		}
		text = cleanCaption(text)
		if text == "" {
			return false, ErrEmptyCaption
		}
		it.Captions = append(it.Captions, Caption{Text: text, Origin: origin, State: StateUnreviewed})
		idx = len(it.Captions) - 1
		return true, nil
	})
	return idx, err
}

// RemoveCaption deletes caption c of item i.
func (d *Dataset) RemoveCaption(i, c int) error {
	return d.edit(i, false, func(it *Item) (bool, error) {
		if err := checkCaption(it, c); err != nil {
			return false, err
		}
		it.Captions = append(it.Captions[:c:c], it.Captions[c+1:]...)
		if len(it.Captions) == 0 {
			it.Captions = nil
		}
		return true, nil
	})
}

// SetState sets the review state of caption c of item i.
func (d *Dataset) SetState(i, c int, s State) error {
	return d.edit(i, false, func(it *Item) (bool, error) {
		if err := checkCaption(it, c); err != nil {
			return false, err
		}
		if !s.valid() {
			return false, fmt.Errorf("state %q: want unreviewed, approved or rejected", s)
		}
		if it.Captions[c].State == s {
			return false, nil
		}
		it.Captions[c].State = s
		return true, nil
	})
}

// SetSplit puts item i into a split (SplitNone to unassign it).
func (d *Dataset) SetSplit(i int, s Split) error {
	return d.edit(i, true, func(it *Item) (bool, error) {
		if !validSplit(s) {
			return false, fmt.Errorf("split %q: want train, val, test or none", s)
		}
		if it.Split == s {
			return false, nil
		}
		it.Split = s
		return true, nil
	})
}

// commitMany records edits of many items (find and replace, split assignment) as one undo step
// and notifies listeners. d.mu is held on entry and released.
func (d *Dataset) commitMany(st step) {
	if len(st.items) == 0 {
		d.mu.Unlock()
		return
	}
	d.commit(st)
	d.mu.Unlock()
	d.notify(Change{Items: st.items})
}

// CanUndo reports whether Undo has an edit to take back.
func (d *Dataset) CanUndo() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.undo) > 0
}

// CanRedo reports whether Redo has an undone edit to apply again.
func (d *Dataset) CanRedo() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.redo) > 0
}

// Undo takes back the last edit. It returns false when there is none.
func (d *Dataset) Undo() bool {
	d.mu.Lock()
	if len(d.undo) == 0 {
		d.mu.Unlock()
		return false
	}
	st := d.undo[len(d.undo)-1]
	d.undo = d.undo[:len(d.undo)-1]
	for k, i := range st.items {
		d.items[i] = st.before[k]
	}
	d.redo = append(d.redo, st)
	d.mu.Unlock()
	d.notify(Change{Items: st.items})
	return true
}

// Redo applies again the last edit Undo took back. It returns false when there is none.
func (d *Dataset) Redo() bool {
	d.mu.Lock()
	if len(d.redo) == 0 {
		d.mu.Unlock()
		return false
	}
	st := d.redo[len(d.redo)-1]
	d.redo = d.redo[:len(d.redo)-1]
	for k, i := range st.items {
		d.items[i] = st.after[k]
	}
	d.undo = append(d.undo, st)
	d.mu.Unlock()
	d.notify(Change{Items: st.items})
	return true
}
