package annotate

// NextUndo returns the indices of the items the next Undo would change (nil when there is nothing
// to undo), so that a program can say what an Undo took back: read the items before and after.
func (d *Dataset) NextUndo() []int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.undo) == 0 {
		return nil
	}
	return append([]int(nil), d.undo[len(d.undo)-1].items...)
}

// NextRedo returns the indices of the items the next Redo would change, or nil.
func (d *Dataset) NextRedo() []int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.redo) == 0 {
		return nil
	}
	return append([]int(nil), d.redo[len(d.redo)-1].items...)
}
