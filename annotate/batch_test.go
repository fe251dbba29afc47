package annotate

import "testing"

// A batch of edits undoes in one step, unless an edit of someone else came in between: then each
// uninterrupted run is its own step, and no undo takes back the other edit with the batch's.
func TestBatchUndo(t *testing.T) {
	model := ModelOrigin("blip-base")
	// items: car.png, cat.jpg, dog.jpg, empty.jpg
	tests := []struct {
		name  string
		edits func(d *Dataset, b *Batch) error
		undos int // Undo calls that bring back the start
	}{
		{"one batch", func(d *Dataset, b *Batch) error {
			for i := range 4 {
				if _, err := b.AddCaption(i, "a model caption", model); err != nil {
					return err
				}
			}
			return nil
		}, 1},
		{"same item twice keeps the first before", func(d *Dataset, b *Batch) error {
			if _, err := b.AddCaption(3, "first", model); err != nil {
				return err
			}
			if err := b.SetCaption(3, 0, "second", model); err != nil {
				return err
			}
			return b.RemoveCaption(1, 0)
		}, 1},
		{"a user edit in between splits the batch", func(d *Dataset, b *Batch) error {
			if _, err := b.AddCaption(3, "by the model", model); err != nil {
				return err
			}
			if err := d.SetCaption(0, 0, "a red car, typed", OriginHuman); err != nil {
				return err
			}
			return b.SetState(2, 0, StateApproved)
		}, 3},
		{"an undone user edit lets the batch go on", func(d *Dataset, b *Batch) error {
			if _, err := b.AddCaption(3, "by the model", model); err != nil {
				return err
			}
			if err := d.SetState(0, 0, StateRejected); err != nil {
				return err
			}
			d.Undo()
			_, err := b.AddCaption(0, "another", model)
			return err
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := editFixture(t)
			start := view(d.Items())
			b := d.NewBatch()
			if err := tt.edits(d, b); err != nil {
				t.Fatal(err)
			}
			after := view(d.Items())
			for k := range tt.undos {
				if !d.Undo() {
					t.Fatalf("undo %d of %d failed", k+1, tt.undos)
				}
			}
			if df := diff(start, view(d.Items())); df != "" {
				t.Errorf("after %d undos %s", tt.undos, df)
			}
			if d.CanUndo() {
				t.Errorf("an undo step is left after %d undos, want none", tt.undos)
			}
			for d.Redo() {
			}
			if df := diff(after, view(d.Items())); df != "" {
				t.Errorf("after redo %s", df)
			}
		})
	}
}

// Batches do not merge with each other: two jobs are two undo steps.
func TestBatchesAreSeparateSteps(t *testing.T) {
	d := editFixture(t)
	for _, text := range []string{"first job", "second job"} {
		if _, err := d.NewBatch().AddCaption(3, text, ModelOrigin("m")); err != nil {
			t.Fatal(err)
		}
	}
	d.Undo()
	if got := captionTexts(d.Item(3).Captions); len(got) != 1 || got[0] != "first job" {
		t.Errorf("after one undo the captions are %q, want [first job]", got)
	}
}
