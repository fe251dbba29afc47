package annotate

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
)

// Filter selects items. Every field that is set must hold; within a list, any entry may match.
// Text, States and Origins are about captions and must hold for the same caption, so
// {States: approved, Origins: model} means "an approved caption written by a model".
type Filter struct {
	Text    string   // case-insensitive substring of a caption or of the image path
	Regexp  bool     // Text is a regular expression (RE2 syntax), still case-insensitive
	States  []State  // a caption in one of these states
	Origins []Origin // a caption with one of these origins; Origin("model") matches any model
	Splits  []Split  // the item is in one of these splits (SplitNone: unassigned)
	Missing bool     // the item has no caption (caption conditions then can only match the path)
}

// Filter returns the indices of the items f selects, in order.
func (d *Dataset) Filter(f Filter) ([]int, error) {
	var match func(string) bool
	if f.Text != "" {
		if f.Regexp {
			re, err := regexp.Compile("(?i)" + f.Text)
			if err != nil {
				return nil, fmt.Errorf("filter %q: %w", f.Text, err)
			}
			match = re.MatchString
		} else {
			needle := strings.ToLower(f.Text)
			match = func(s string) bool { return strings.Contains(strings.ToLower(s), needle) }
		}
	}
	var out []int
	for i, it := range d.Items() {
		if len(f.Splits) > 0 && !contains(f.Splits, it.Split) {
			continue
		}
		if f.Missing {
			if !it.HasCaption() && len(f.States) == 0 && len(f.Origins) == 0 && (match == nil || match(it.Path)) {
				out = append(out, i)
			}
			continue
		}
		if match == nil && len(f.States) == 0 && len(f.Origins) == 0 {
			out = append(out, i)
			continue
		}
		pathMatch := match != nil && match(it.Path)
		if pathMatch && len(f.States) == 0 && len(f.Origins) == 0 {
			out = append(out, i)
			continue
		}
		for _, c := range it.Captions {
			if match != nil && !pathMatch && !match(c.Text) {
				continue
			}
			if len(f.States) > 0 && !contains(f.States, c.State) {
				continue
			}
			if len(f.Origins) > 0 && !originIn(f.Origins, c.Origin) {
				continue
			}
			out = append(out, i)
			break
		}
	}
	return out, nil
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func originIn(list []Origin, o Origin) bool {
	for _, x := range list {
		if x == o || (x == "model" && o.IsModel()) {
			return true
		}
	}
	return false
}

// FindReplace describes a find-and-replace across captions.
type FindReplace struct {
	Find       string
	Replace    string // with Regexp, $1 and ${name} refer to groups
	Regexp     bool   // Find is a regular expression (RE2 syntax)
	IgnoreCase bool
	Items      []int // the items to change (e.g. a Filter result); nil means all
}

// FindReplace replaces text in every caption of the chosen items, as one undoable step, and
// returns how many captions changed. Changed captions become human-written; a caption that
// becomes empty is removed (Undo brings it back).
func (d *Dataset) FindReplace(fr FindReplace) (int, error) {
	if fr.Find == "" {
		return 0, errors.New("find and replace: nothing to find")
	}
	pat := fr.Find
	if !fr.Regexp {
		pat = regexp.QuoteMeta(pat)
	}
	if fr.IgnoreCase {
		pat = "(?i)" + pat
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return 0, fmt.Errorf("find %q: %w", fr.Find, err)
	}
	replace := func(s string) string { return re.ReplaceAllLiteralString(s, fr.Replace) }
	if fr.Regexp {
		replace = func(s string) string { return re.ReplaceAllString(s, fr.Replace) }
	}
	d.mu.Lock()
	which := fr.Items
	if which == nil {
		which = make([]int, len(d.items))
		for i := range which {
			which[i] = i
		}
	}
	var st step
	changed := 0
	seen := map[int]bool{}
	for _, i := range which {
		if i < 0 || i >= len(d.items) {
			d.mu.Unlock()
			return 0, fmt.Errorf("find and replace: item %d out of range (%d items)", i, len(d.items))
		}
		if seen[i] {
			continue
		}
		seen[i] = true
		old := d.items[i]
		var it *Item
		for c, cp := range old.Captions {
			t := cleanCaption(replace(cp.Text))
			if t == cp.Text {
				continue
			}
			if it == nil {
				it = old.clone()
			}
			it.Captions[c].Text, it.Captions[c].Origin = t, OriginHuman
			changed++
		}
		if it == nil {
			continue
		}
		kept := it.Captions[:0]
		for _, c := range it.Captions {
			if c.Text != "" {
				kept = append(kept, c)
			}
		}
		if len(kept) == 0 {
			kept = nil
		}
		it.Captions = kept
		st.items, st.before, st.after = append(st.items, i), append(st.before, old), append(st.after, it)
	}
	d.commitMany(st)
	return changed, nil
}

// AssignSplits puts every item into train, val or test at random, in the proportions given (they
// need not sum to 1), as one undoable step. The same seed on the same images gives the same
// splits, so a fine-tuning run can be repeated.
func (d *Dataset) AssignSplits(seed int64, train, val, test float64) error {
	sum := train + val + test
	if train < 0 || val < 0 || test < 0 || !(sum > 0) || math.IsInf(sum, 0) {
		return fmt.Errorf("split ratios %g/%g/%g: want non-negative numbers with a positive sum", train, val, test)
	}
	d.mu.Lock()
	n := len(d.items)
	order := rand.New(rand.NewPCG(uint64(seed), 0x63617074756e65)).Perm(n) // items are sorted by path, so this is stable
	nTrain := int(math.Round(float64(n) * train / sum))
	nVal := int(math.Round(float64(n) * val / sum))
	if nTrain+nVal > n {
		nVal = n - nTrain
	}
	var st step
	st.splits = true
	for k, i := range order {
		s := SplitTest
		switch {
		case k < nTrain:
			s = SplitTrain
		case k < nTrain+nVal:
			s = SplitVal
		}
		if d.items[i].Split == s {
			continue
		}
		it := d.items[i].clone()
		it.Split = s
		st.items, st.before, st.after = append(st.items, i), append(st.before, d.items[i]), append(st.after, it)
	}
	if len(st.items) == 0 {
		d.splitsAssigned = true // the current splits are now the user's choice
	}
	d.commitMany(st)
	return nil
}
