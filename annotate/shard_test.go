package annotate

import (
	"errors"
	"fmt"
	"testing"
)

func TestParseShard(t *testing.T) {
	tests := []struct {
		in   string
		want Shard
		bad  bool
	}{
		{"1/1", Shard{1, 1}, false},
		{"3/4", Shard{3, 4}, false},
		{" 7/7 ", Shard{7, 7}, false},
		{"0/4", Shard{}, true},
		{"5/4", Shard{}, true},
		{"1/0", Shard{}, true},
		{"-1/4", Shard{}, true},
		{"2", Shard{}, true},
		{"a/b", Shard{}, true},
		{"", Shard{}, true},
	}
	for _, tc := range tests {
		got, err := ParseShard(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("ParseShard(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.bad)
		}
		if err != nil && !errors.Is(err, ErrBadShard) {
			t.Errorf("ParseShard(%q): %v does not wrap ErrBadShard", tc.in, err)
		}
	}
}

// Every image lands in exactly one shard for N = 1..7, the parts are about even, and adding
// images moves none of the old ones.
func TestShardSplit(t *testing.T) {
	names := func(from, to int) []string {
		var out []string
		for i := from; i < to; i++ {
			out = append(out, fmt.Sprintf("photos/%03d/img_%05d.jpg", i%37, i))
		}
		return out
	}
	old, added := names(0, 2000), names(2000, 2600)
	for n := 1; n <= 7; n++ {
		before := map[string]int{}
		counts := make([]int, n+1)
		for _, rel := range old {
			owners := 0
			for i := 1; i <= n; i++ {
				if (Shard{i, n}).Has(rel) {
					owners++
					before[rel] = i
					counts[i]++
				}
			}
			if owners != 1 {
				t.Fatalf("N=%d: %s is in %d shards", n, rel, owners)
			}
		}
		for i := 1; i <= n; i++ {
			if even := len(old) / n; counts[i] < even*8/10 || counts[i] > even*12/10 {
				t.Errorf("N=%d: shard %d has %d of %d images, far from even", n, i, counts[i], len(old))
			}
		}
		// Split the grown folder: every old image stays in its shard.
		for _, rel := range append(append([]string{}, added...), old...) {
			if i := ShardOf(rel, n); i < 1 || i > n {
				t.Fatalf("N=%d: %s in shard %d", n, rel, i)
			} else if was, ok := before[rel]; ok && was != i {
				t.Fatalf("N=%d: adding images moved %s from %d to %d", n, rel, was, i)
			}
		}
	}
	if ShardOf(`photos\001\a.jpg`, 5) != ShardOf("photos/001/a.jpg", 5) {
		t.Error("a Windows path lands in another shard than the same path with slashes")
	}
}

// Merging model captions never goes over a person's work.
func TestMergeModelCaption(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"none.jpg": "", "human.jpg": "", "human.txt": "a person wrote this",
		"old.jpg": "", "other.jpg": "", "same.jpg": "", "approved.jpg": "",
	})
	ds, _ := openT(t, dir, OpenOptions{})
	idx := func(rel string) int {
		i, ok := ds.Index(rel)
		if !ok {
			t.Fatalf("no %s", rel)
		}
		return i
	}
	blip := ModelOrigin("blip")
	must := func(_ int, err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(ds.AddCaption(idx("old.jpg"), "an old model caption", blip))
	must(ds.AddCaption(idx("other.jpg"), "another model's caption", ModelOrigin("git")))
	must(ds.AddCaption(idx("same.jpg"), "a red shoe", blip))
	must(ds.AddCaption(idx("approved.jpg"), "approved by a person", blip))
	if err := ds.SetState(idx("approved.jpg"), 0, StateApproved); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rel, text string
		want      MergeOutcome
		captions  []string
	}{
		{"none.jpg", "a blue cup", MergeAdded, []string{"a blue cup"}},
		{"human.jpg", "a blue cup", MergeReviewed, []string{"a person wrote this"}},
		{"approved.jpg", "a blue cup", MergeReviewed, []string{"approved by a person"}},
		{"old.jpg", "a new caption", MergeReplaced, []string{"a new caption"}},
		{"other.jpg", "a blue cup", MergeAdded, []string{"another model's caption", "a blue cup"}},
		{"same.jpg", "a red shoe", MergeSame, []string{"a red shoe"}},
		{"none.jpg", "   ", MergeEmpty, []string{"a blue cup"}},
	}
	b := ds.NewBatch()
	for _, tc := range tests {
		got, err := b.MergeModelCaption(idx(tc.rel), tc.text, blip)
		if err != nil || got != tc.want {
			t.Errorf("%s: outcome %v, %v; want %v", tc.rel, got, err, tc.want)
		}
		if d := diff(tc.captions, texts(ds.Item(idx(tc.rel)))); d != "" {
			t.Errorf("%s: captions %s", tc.rel, d)
		}
	}
	if _, err := b.MergeModelCaption(idx("none.jpg"), "x", OriginHuman); err == nil {
		t.Error("a human origin was merged as a model caption")
	}
}
