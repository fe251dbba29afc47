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
	batch  int  // the Batch that made it, 0 for none
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

// extend merges st into the last undo step when both belong to the same batch and nothing was
// recorded in between, and reports whether it did. An item edited twice keeps its first before.
// d.mu held.
func (d *Dataset) extend(st step) bool {
	if st.batch == 0 || len(d.undo) == 0 || d.undo[len(d.undo)-1].batch != st.batch {
		return false
	}
	top := &d.undo[len(d.undo)-1]
	for k, i := range st.items {
		d.items[i] = st.after[k]
		merged := false
		for j, have := range top.items {
			if have == i {
				top.after[j], merged = st.after[k], true
			}
		}
		if !merged {
			top.items = append(top.items, i)
			top.before = append(top.before, st.before[k])
			top.after = append(top.after, st.after[k])
		}
	}
	top.splits = top.splits || st.splits
	if st.splits {
		d.splitsAssigned = true
	}
	d.redo = nil
	return true
}

// edit applies fn to a copy of item i as one undoable step. fn returns whether it changed
// anything; an edit that changes nothing leaves no undo step and notifies no one.
func (d *Dataset) edit(i int, splits bool, fn func(it *Item) (bool, error)) error {
	return d.editIn(0, i, splits, fn)
}

// editIn is edit as part of batch (0 for none): the step joins the batch's last step when that is
// still the newest.
func (d *Dataset) editIn(batch, i int, splits bool, fn func(it *Item) (bool, error)) error {
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
	st := step{items: []int{i}, before: []*Item{d.items[i]}, after: []*Item{it}, splits: splits, batch: batch}
	if !d.extend(st) {
		d.commit(st)
	}
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
	return d.setCaption(0, i, c, text, origin)
}

func (d *Dataset) setCaption(batch, i, c int, text string, origin Origin) error {
	return d.editIn(batch, i, false, func(it *Item) (bool, error) {
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
	return d.addCaption(0, i, text, origin)
}

func (d *Dataset) addCaption(batch, i int, text string, origin Origin) (int, error) {
	idx := -1
	err := d.editIn(batch, i, false, func(it *Item) (bool, error) {
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
	return d.removeCaption(0, i, c)
}

func (d *Dataset) removeCaption(batch, i, c int) error {
	return d.editIn(batch, i, false, func(it *Item) (bool, error) {
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
	return d.setState(0, i, c, s)
}

func (d *Dataset) setState(batch, i, c int, s State) error {
	return d.editIn(batch, i, false, func(it *Item) (bool, error) {
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

// Batch groups edits into one undo step, so that Undo takes back a whole job (a model captioning
// a thousand images) at once. Edits made through a Batch join its step as long as that step is
// the newest; an edit made in between (the user typing while the job runs) or an Undo closes it,
// and the batch's later edits start a new step, so no undo ever takes back someone else's edit.
// A Batch needs no closing; it is safe for concurrent use, like the Dataset.
type Batch struct {
	d  *Dataset
	id int
}

// NewBatch starts a group of edits that undo as one step.
func (d *Dataset) NewBatch() *Batch {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.nextBatch++
	return &Batch{d: d, id: d.nextBatch}
}

// SetCaption is Dataset.SetCaption as part of the batch.
func (b *Batch) SetCaption(i, c int, text string, origin Origin) error {
	return b.d.setCaption(b.id, i, c, text, origin)
}

// AddCaption is Dataset.AddCaption as part of the batch.
func (b *Batch) AddCaption(i int, text string, origin Origin) (int, error) {
	return b.d.addCaption(b.id, i, text, origin)
}

// RemoveCaption is Dataset.RemoveCaption as part of the batch.
func (b *Batch) RemoveCaption(i, c int) error { return b.d.removeCaption(b.id, i, c) }

// SetState is Dataset.SetState as part of the batch.
func (b *Batch) SetState(i, c int, s State) error { return b.d.setState(b.id, i, c, s) }
