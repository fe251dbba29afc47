package annotate

import (
	"reflect"
	"testing"
)

// NextUndo and NextRedo name the items the next Undo and Redo change.
func TestNextUndoRedo(t *testing.T) {
	d := editFixture(t)
	if got := d.NextUndo(); got != nil {
		t.Fatalf("NextUndo on a fresh dataset = %v, want nil", got)
	}
	if err := d.SetCaption(1, 0, "a cat", OriginHuman); err != nil {
		t.Fatal(err)
	}
	if err := d.SetState(2, 0, StateApproved); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name           string
		do             func() bool
		wantUndo, redo []int
	}{
		{"before undo", func() bool { return true }, []int{2}, nil},
		{"undo", d.Undo, []int{1}, []int{2}},
		{"undo again", d.Undo, nil, []int{1}},
		{"redo", d.Redo, []int{1}, []int{2}},
	}
	for _, s := range steps {
		if !s.do() {
			t.Fatalf("%s: nothing to do", s.name)
		}
		if got := d.NextUndo(); !reflect.DeepEqual(got, s.wantUndo) {
			t.Errorf("%s: NextUndo = %v, want %v", s.name, got, s.wantUndo)
		}
		if got := d.NextRedo(); !reflect.DeepEqual(got, s.redo) {
			t.Errorf("%s: NextRedo = %v, want %v", s.name, got, s.redo)
		}
	}
}
