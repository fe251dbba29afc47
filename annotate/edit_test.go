package annotate

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"testing"
)

// editFixture is a small dataset opened from sidecars.
func editFixture(t *testing.T) *Dataset {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"cat.jpg": "", "cat.txt": "a black cat on a sofa",
		"dog.jpg": "", "dog.txt": "a brown dog\na dog in a park",
		"empty.jpg": "",
		"car.png":   "", "car.txt": "a red car",
	})
	d, _ := openT(t, dir, OpenOptions{})
	return d
}

func TestEditingAndUndoRedo(t *testing.T) {
	d := editFixture(t)
	// items: car.png, cat.jpg, dog.jpg, empty.jpg
	start := view(d.Items())
	var changes [][]int
	d.OnChange(func(c Change) { changes = append(changes, c.Items) })

	steps := []struct {
		name string
		do   func() error
	}{
		{"set caption", func() error { return d.SetCaption(1, 0, "  a black cat asleep  ", OriginHuman) }},
		{"add caption", func() error { _, err := d.AddCaption(3, "an empty room", ModelOrigin("blip-base")); return err }},
		{"approve", func() error { return d.SetState(2, 1, StateApproved) }},
		{"reject", func() error { return d.SetState(0, 0, StateRejected) }},
		{"remove caption", func() error { return d.RemoveCaption(2, 0) }},
		{"split", func() error { return d.SetSplit(0, SplitVal) }},
		{"model overwrite", func() error { return d.SetCaption(2, 0, "a dog on grass", ModelOrigin("blip-large")) }},
	}
	var states [][]itemView
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		states = append(states, view(d.Items()))
	}
	want := []itemView{
		{Path: "car.png", Split: SplitVal, Captions: []Caption{{"a red car", OriginImported, StateRejected}}},
		{Path: "cat.jpg", Captions: []Caption{{"a black cat asleep", OriginHuman, StateUnreviewed}}},
		{Path: "dog.jpg", Captions: []Caption{{"a dog on grass", ModelOrigin("blip-large"), StateUnreviewed}}},
		{Path: "empty.jpg", Captions: []Caption{{"an empty room", ModelOrigin("blip-base"), StateUnreviewed}}},
	}
	if d := diff(want, states[len(states)-1]); d != "" {
		t.Fatalf("after edits %s", d)
	}
	if len(changes) != len(steps) {
		t.Errorf("%d change notifications, want %d", len(changes), len(steps))
	}
	// Undo walks back through every state, redo forward again.
	for k := len(steps) - 1; k >= 0; k-- {
		if !d.Undo() {
			t.Fatalf("Undo %d failed", k)
		}
		prev := start
		if k > 0 {
			prev = states[k-1]
		}
		if df := diff(prev, view(d.Items())); df != "" {
			t.Fatalf("after undoing %s %s", steps[k].name, df)
		}
	}
	if d.CanUndo() || d.Undo() {
		t.Error("undo past the start")
	}
	for k := range steps {
		if !d.Redo() {
			t.Fatalf("Redo %d failed", k)
		}
		if df := diff(states[k], view(d.Items())); df != "" {
			t.Fatalf("after redoing %s %s", steps[k].name, df)
		}
	}
	if d.CanRedo() {
		t.Error("CanRedo after redoing everything")
	}
	// A new edit clears the redo list.
	d.Undo()
	if err := d.SetSplit(1, SplitTrain); err != nil {
		t.Fatal(err)
	}
	if d.CanRedo() {
		t.Error("redo list survived a new edit")
	}
}

func TestUndoKeepsAtLeast100Steps(t *testing.T) {
	d := editFixture(t)
	for k := 0; k < 150; k++ {
		if err := d.SetCaption(0, 0, fmt.Sprintf("version %d", k), OriginHuman); err != nil {
			t.Fatal(err)
		}
	}
	for k := 148; k >= 0; k-- {
		if !d.Undo() {
			t.Fatalf("undo stopped at version %d", k)
		}
		if got := d.Item(0).Captions[0].Text; got != fmt.Sprintf("version %d", k) {
			t.Fatalf("after undo: %q, want version %d", got, k)
		}
	}
	d.Undo()
	if got := d.Item(0).Captions[0].Text; got != "a red car" {
		t.Errorf("after undoing all: %q", got)
	}
}

func TestEditErrors(t *testing.T) {
	d := editFixture(t)
	tests := []struct {
		name string
		err  error
	}{
		{"item out of range", d.SetCaption(9, 0, "x", OriginHuman)},
		{"caption out of range", d.SetCaption(0, 5, "x", OriginHuman)},
		{"bad origin", d.SetCaption(0, 0, "x", "robot")},
		{"empty model name", d.SetCaption(0, 0, "x", ModelOrigin(""))},
		{"bad state", d.SetState(0, 0, "maybe")},
		{"bad split", d.SetSplit(0, "holdout")},
		{"remove missing caption", d.RemoveCaption(3, 0)},
	}
	for _, tt := range tests {
		if tt.err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	if err := d.SetCaption(0, 0, "   ", OriginHuman); !errors.Is(err, ErrEmptyCaption) {
		t.Errorf("blank caption: %v, want ErrEmptyCaption", err)
	}
	if _, err := d.AddCaption(0, "", OriginHuman); !errors.Is(err, ErrEmptyCaption) {
		t.Errorf("blank new caption: %v, want ErrEmptyCaption", err)
	}
	if d.CanUndo() || d.Dirty() {
		t.Error("failed edits left an undo step or made the dataset dirty")
	}
	// A no-op edit leaves no undo step either.
	if err := d.SetCaption(0, 0, "a red car", OriginImported); err != nil || d.CanUndo() {
		t.Errorf("no-op edit: err %v, CanUndo %v", err, d.CanUndo())
	}
}

func TestFilter(t *testing.T) {
	d := editFixture(t)
	// car.png, cat.jpg, dog.jpg, empty.jpg
	must(t, d.SetState(1, 0, StateApproved))
	must(t, d.SetCaption(2, 1, "a dog running", ModelOrigin("blip")))
	must(t, d.SetSplit(0, SplitTest))
	tests := []struct {
		name string
		f    Filter
		want []int
	}{
		{"all", Filter{}, []int{0, 1, 2, 3}},
		{"text", Filter{Text: "DOG"}, []int{2}},
		{"text in path", Filter{Text: "empty"}, []int{3}},
		{"regexp", Filter{Text: `^a (red|black)`, Regexp: true}, []int{0, 1}},
		{"state", Filter{States: []State{StateApproved}}, []int{1}},
		{"unreviewed", Filter{States: []State{StateUnreviewed}}, []int{0, 2}},
		{"any model", Filter{Origins: []Origin{"model"}}, []int{2}},
		{"origin imported", Filter{Origins: []Origin{OriginImported}}, []int{0, 1, 2}},
		{"split", Filter{Splits: []Split{SplitTest}}, []int{0}},
		{"unassigned", Filter{Splits: []Split{SplitNone}}, []int{1, 2, 3}},
		{"missing", Filter{Missing: true}, []int{3}},
		{"same caption: model and brown", Filter{Text: "brown", Origins: []Origin{"model"}}, nil},
		{"same caption: model and running", Filter{Text: "running", Origins: []Origin{"model"}}, []int{2}},
	}
	for _, tt := range tests {
		got, err := d.Filter(tt.f)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if df := diff(tt.want, got); df != "" {
			t.Errorf("%s %s", tt.name, df)
		}
	}
	if _, err := d.Filter(Filter{Text: "(", Regexp: true}); err == nil {
		t.Error("bad regexp accepted")
	}
}

func TestFindReplace(t *testing.T) {
	tests := []struct {
		name    string
		fr      FindReplace
		changed int
		want    []string // first caption of every item, "" for none
	}{
		{"plain", FindReplace{Find: "a ", Replace: "the "}, 4, []string{"the red car", "the black cat on the sofa", "the brown dog", ""}},
		{"ignore case", FindReplace{Find: "A RED", Replace: "a blue", IgnoreCase: true}, 1, []string{"a blue car", "a black cat on a sofa", "a brown dog", ""}},
		{"regexp groups", FindReplace{Find: `a (\w+) (cat|dog)`, Replace: "one $2, $1", Regexp: true}, 2, []string{"a red car", "one cat, black on a sofa", "one dog, brown", ""}},
		{"only chosen items", FindReplace{Find: "a", Replace: "A", Items: []int{0}}, 1, []string{"A red cAr", "a black cat on a sofa", "a brown dog", ""}},
		{"regexp special chars are literal in plain mode", FindReplace{Find: ".", Replace: "!"}, 0, []string{"a red car", "a black cat on a sofa", "a brown dog", ""}},
		{"emptied caption is removed", FindReplace{Find: "^a red car$", Replace: "", Regexp: true}, 1, []string{"", "a black cat on a sofa", "a brown dog", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := editFixture(t)
			before := view(d.Items())
			n, err := d.FindReplace(tt.fr)
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.changed {
				t.Errorf("changed %d captions, want %d", n, tt.changed)
			}
			var got []string
			for _, it := range d.Items() {
				s := ""
				if it.HasCaption() {
					s = it.Captions[0].Text
				}
				got = append(got, s)
			}
			if df := diff(tt.want, got); df != "" {
				t.Errorf("captions %s", df)
			}
			if n > 0 {
				// One undo step takes the whole replacement back.
				if !d.Undo() {
					t.Fatal("no undo step")
				}
				if df := diff(before, view(d.Items())); df != "" {
					t.Errorf("after undo %s", df)
				}
				if d.Undo() {
					t.Error("find and replace made more than one undo step")
				}
			}
		})
	}
	d := editFixture(t)
	if _, err := d.FindReplace(FindReplace{Find: ""}); err == nil {
		t.Error("empty find accepted")
	}
	if _, err := d.FindReplace(FindReplace{Find: "[", Regexp: true}); err == nil {
		t.Error("bad regexp accepted")
	}
}

func TestAssignSplits(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{}
	for k := 0; k < 200; k++ {
		files[fmt.Sprintf("img%04d.jpg", k)] = ""
	}
	writeTree(t, dir, files)
	d, _ := openT(t, dir, OpenOptions{})
	must(t, d.AssignSplits(42, 0.8, 0.1, 0.1))
	count := func(ds *Dataset) map[Split]int {
		m := map[Split]int{}
		for _, it := range ds.Items() {
			m[it.Split]++
		}
		return m
	}
	if df := diff(map[Split]int{SplitTrain: 160, SplitVal: 20, SplitTest: 20}, count(d)); df != "" {
		t.Errorf("counts %s", df)
	}
	first := view(d.Items())
	// The same seed gives the same assignment, in a fresh dataset too.
	d2, _ := openT(t, dir, OpenOptions{})
	must(t, d2.AssignSplits(42, 8, 1, 1))
	if df := diff(first, view(d2.Items())); df != "" {
		t.Errorf("same seed, different splits %s", df)
	}
	must(t, d2.AssignSplits(43, 8, 1, 1))
	if reflect.DeepEqual(first, view(d2.Items())) {
		t.Error("another seed gave the same splits")
	}
	// One undo step.
	must(t, d.AssignSplits(7, 1, 1, 0))
	if df := diff(map[Split]int{SplitTrain: 100, SplitVal: 100}, count(d)); df != "" {
		t.Errorf("counts %s", df)
	}
	d.Undo()
	if df := diff(first, view(d.Items())); df != "" {
		t.Errorf("undo %s", df)
	}
	for _, bad := range [][3]float64{{0, 0, 0}, {-1, 1, 1}, {1, 1, math.Inf(1)}, {math.NaN(), 1, 1}} {
		if err := d.AssignSplits(1, bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("ratios %v accepted", bad)
		}
	}
	// Splits persist through save and reopen.
	must(t, d.Save())
	d3, _ := openT(t, dir, OpenOptions{})
	if df := diff(first, view(d3.Items())); df != "" {
		t.Errorf("after reopen %s", df)
	}
	if got := d3.Pairs(SplitVal, false); len(got) != 0 {
		t.Errorf("pairs of uncaptioned images: %v", got)
	}
}

func TestPairsAndStats(t *testing.T) {
	d := editFixture(t)
	must(t, d.SetState(1, 0, StateApproved))
	must(t, d.SetState(2, 0, StateRejected))
	must(t, d.SetSplit(1, SplitTrain))
	must(t, d.SetSplit(2, SplitTrain))
	got := d.Pairs(SplitTrain, false)
	want := []Pair{
		{Image: filepath.Join(d.Root(), "cat.jpg"), Caption: "a black cat on a sofa", Item: 1},
		{Image: filepath.Join(d.Root(), "dog.jpg"), Caption: "a dog in a park", Item: 2},
	}
	if df := diff(want, got); df != "" {
		t.Errorf("Pairs(train) %s", df)
	}
	if df := diff(want[:1], d.Pairs(SplitTrain, true)); df != "" {
		t.Errorf("Pairs(train, approved) %s", df)
	}
	if n := len(d.Pairs(SplitNone, false)); n != 3 {
		t.Errorf("Pairs(all) = %d pairs, want 3 (one rejected)", n)
	}
	st := d.Stats()
	wantStats := Stats{Images: 4, Captioned: 3, Uncaptioned: 1, Captions: 4, ToReview: 2,
		ByState:  map[State]int{StateApproved: 1, StateRejected: 1, StateUnreviewed: 2},
		ByOrigin: map[string]int{"imported": 4},
		BySplit:  map[string]int{"none": 2, "train": 2}}
	if df := diff(wantStats, st); df != "" {
		t.Errorf("Stats %s", df)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
