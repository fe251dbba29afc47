package metrics

import (
	"slices"
	"strings"
)

// The scorers see each caption as sorted lists of (n-gram id, count), one per order, with words
// and n-grams interned once per evaluation. Matching two captions is then a merge of sorted lists,
// and per-image tables are flat slices indexed by n-gram id instead of maps.

const maxOrder = 4 // BLEU and CIDEr-D both use n-grams of orders 1..4

// gramCount is an n-gram id with its count in one caption.
type gramCount struct {
	id    int32
	count int32
}

// caption is one tokenized caption.
type caption struct {
	words int                   // number of words (Python's len(s.split()))
	grams [maxOrder][]gramCount // per order (index n-1), sorted by id
}

// interner assigns ids to words and n-grams. A unigram's id is found through its word, a longer
// n-gram's through the id of its first n-1 words and its last word.
type interner struct {
	words    map[string]int32 // word → word id
	unigrams []int32          // word id → n-gram id
	longer   map[int64]int32  // prefix n-gram id << 32 | last word id → n-gram id
	n        int32            // n-gram ids handed out
}

func newInterner() *interner {
	return &interner{words: map[string]int32{}, longer: map[int64]int32{}}
}

func (in *interner) numGrams() int { return int(in.n) }

// caption splits a tokenized caption like Python's str.split() and counts its n-grams.
func (in *interner) caption(s string) caption {
	fields := pyFields(s)
	words := make([]int32, len(fields))
	for i, w := range fields {
		id, ok := in.words[w]
		if !ok {
			id = int32(len(in.words))
			in.words[w] = id
		}
		words[i] = id
	}
	c := caption{words: len(words)}
	prefix := make([]int32, len(words)) // id of the (n-1)-gram starting at each position
	for n := 1; n <= maxOrder && n <= len(words); n++ {
		ids := make([]int32, 0, len(words)-n+1)
		for i := 0; i+n <= len(words); i++ {
			var id int32
			if n == 1 {
				w := words[i]
				for int(w) >= len(in.unigrams) {
					in.unigrams = append(in.unigrams, -1)
				}
				if in.unigrams[w] < 0 {
					in.unigrams[w] = in.n
					in.n++
				}
				id = in.unigrams[w]
			} else {
				key := int64(prefix[i])<<32 | int64(words[i+n-1])
				var ok bool
				if id, ok = in.longer[key]; !ok {
					id = in.n
					in.longer[key] = id
					in.n++
				}
			}
			prefix[i] = id
			ids = append(ids, id)
		}
		slices.Sort(ids)
		var list []gramCount
		for _, id := range ids {
			if k := len(list) - 1; k >= 0 && list[k].id == id {
				list[k].count++
			} else {
				list = append(list, gramCount{id: id, count: 1})
			}
		}
		c.grams[n-1] = list
	}
	return c
}

// stampedTable is a table indexed by n-gram id whose entries reset cheaply: an entry is valid only
// while its stamp equals the current one.
type stampedTable struct {
	value []int32
	stamp []int32
	now   int32
}

func newStampedTable(n int) *stampedTable {
	return &stampedTable{value: make([]int32, n), stamp: make([]int32, n)}
}

// reset invalidates every entry.
func (t *stampedTable) reset() { t.now++ }

func (t *stampedTable) get(id int32) int32 {
	if t.stamp[id] != t.now {
		return 0
	}
	return t.value[id]
}

func (t *stampedTable) set(id, v int32) {
	t.stamp[id] = t.now
	t.value[id] = v
}

// pyFields splits s like Python's str.split() with no argument: on runs of Unicode whitespace
// (including U+00A0, which can sit inside a PTB token such as "2\u00a01/2").
func pyFields(s string) []string {
	return strings.FieldsFunc(s, pyIsSpace)
}
