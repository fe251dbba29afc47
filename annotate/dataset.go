package annotate

import (
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Dataset is a folder of images with their captions, as opened by Open.
//
// All methods are safe for concurrent use: a mutex guards the state, so an Autosaver may save
// from its goroutine while the UI edits. Items are immutable snapshots (an edit swaps in a new
// *Item), so a caller may keep and read them without locking. Listeners registered with OnChange
// run on the goroutine that made the change, after the lock is released.
type Dataset struct {
	root     string // absolute
	realRoot string // root with symlinks resolved; nothing outside it is read or written

	saveMu sync.Mutex // one Save (or Export into the root) at a time

	mu             sync.Mutex
	format         Format
	sidecarExt     string
	column         string // caption key/header for jsonl and CSV ("" = defaults)
	items          []*Item
	saved          []*Item // the items as last read from or written to disk
	index          map[string]int
	sidecar        []string // per item: its sidecar path (FormatSidecar)
	owner          []int    // per item: index in sources of the file that lists it, -1 for none
	sources        []*source
	stamps         map[string]stamp // per file read or written: what it looked like then
	splitsAssigned bool
	projectBytes   []byte                 // project.json as last read or written
	projectExtra   map[string]projectItem // project entries for images not in this dataset (kept on save)
	projectBad     bool                   // project.json did not parse; it is backed up before the first save
	undo, redo     []step
	nextBatch      int                       // the id of the last Batch made
	unreadable     map[string]unreadableMark // images a decoder refused, by path (MarkUnreadable)
	listeners      map[int]func(Change)
	nextListener   int
	lockToken      string          // set while this Dataset holds the lock file
	leftovers      []string        // temporary files of interrupted saves, removed by Lock
	cleanedDirs    map[string]bool // folders Save has cleared of killed writers' temporary files
	removedTemps   int             // temporary files of killed writers removed by Open and Save
}

// source is one caption file of a single-file format (metadata.jsonl, COCO JSON, CSV).
type source struct {
	rel     string // relative to the root
	dir     string // folder its file names are relative to ("" for the root)
	format  Format
	jsonl   *jsonlFile
	coco    *cocoFile
	csv     *csvFile
	recItem []int // per line (jsonl), image entry (COCO) or row (CSV): the item, or -1
	meta    bool  // the file has Captune's origin/state columns (an export), kept up to date on save
}

// Change tells listeners what changed.
type Change struct {
	Items []int // indices of items whose captions, states or split changed; nil with Saved
	Saved bool  // a save finished (Dirty may have changed)
}

// Root is the dataset folder, absolute.
func (d *Dataset) Root() string { return d.root }

// Format is the caption format Save writes: the one the captions were read from, or sidecar
// files when the folder had none.
func (d *Dataset) Format() Format {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.format
}

// Len is the number of images.
func (d *Dataset) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.items)
}

// Item returns item i (0 <= i < Len()).
func (d *Dataset) Item(i int) *Item {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.items[i]
}

// Items returns all items sorted by path. The slice is a copy; the items are immutable snapshots.
func (d *Dataset) Items() []*Item {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*Item(nil), d.items...)
}

// Index returns the index of the item with the given relative path.
func (d *Dataset) Index(rel string) (int, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	i, ok := d.index[rel]
	return i, ok
}

// AbsPath is the absolute path of the item's image, for loading it.
func (d *Dataset) AbsPath(it *Item) string { return d.abs(it.Path) }

func (d *Dataset) abs(rel string) string { return filepath.Join(d.root, filepath.FromSlash(rel)) }

// Dirty reports whether there are edits that Save has not written yet.
func (d *Dataset) Dirty() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range d.items {
		if d.items[i] != d.saved[i] {
			return true
		}
	}
	return false
}

// OnChange registers fn to be called after every change (edits, undo, redo, saves). It returns a
// function that unregisters it. fn runs on the goroutine that made the change, which is not the
// UI's goroutine when an Autosaver saves: UI code must hop over (fyne.Do) before touching widgets.
func (d *Dataset) OnChange(fn func(Change)) (remove func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.listeners == nil {
		d.listeners = map[int]func(Change){}
	}
	id := d.nextListener
	d.nextListener++
	d.listeners[id] = fn
	return func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		delete(d.listeners, id)
	}
}

// notify calls the listeners; it must be called without d.mu held.
func (d *Dataset) notify(c Change) {
	d.mu.Lock()
	ids := make([]int, 0, len(d.listeners))
	for id := range d.listeners {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	fns := make([]func(Change), len(ids))
	for i, id := range ids {
		fns[i] = d.listeners[id]
	}
	d.mu.Unlock()
	for _, fn := range fns {
		fn(c)
	}
}

// Stats counts items and captions, for the window title, the stats command and the fine-tuner's
// split picker.
type Stats struct {
	Images      int            `json:"images"`
	Captioned   int            `json:"captioned"`
	Uncaptioned int            `json:"uncaptioned"`
	Captions    int            `json:"captions"`
	ToReview    int            `json:"to_review"` // images with at least one unreviewed caption
	ByState     map[State]int  `json:"by_state"`  // captions per review state
	ByOrigin    map[string]int `json:"by_origin"` // captions per origin
	BySplit     map[string]int `json:"by_split"`  // images per split; "none" for unassigned
}

// Stats counts the current items.
func (d *Dataset) Stats() Stats {
	items := d.Items()
	s := Stats{Images: len(items), ByState: map[State]int{}, ByOrigin: map[string]int{}, BySplit: map[string]int{}}
	for _, it := range items {
		if it.HasCaption() {
			s.Captioned++
		} else {
			s.Uncaptioned++
		}
		split := string(it.Split)
		if split == "" {
			split = "none"
		}
		s.BySplit[split]++
		review := false
		for _, c := range it.Captions {
			s.Captions++
			s.ByState[c.State]++
			s.ByOrigin[string(c.Origin)]++
			review = review || c.State == StateUnreviewed
		}
		if review {
			s.ToReview++
		}
	}
	return s
}

// Pair is one (image, caption) example for training or evaluation.
type Pair struct {
	Image   string // absolute path of the image
	Caption string
	Item    int // index of the item, to group the captions of one image (e.g. as references)
}

// Pairs lists the (image, caption) pairs of a split (SplitNone: every item, whatever its split),
// in item order. Rejected captions are never listed; approvedOnly keeps only approved ones.
func (d *Dataset) Pairs(split Split, approvedOnly bool) []Pair {
	items := d.Items()
	var out []Pair
	for i, it := range items {
		if split != SplitNone && it.Split != split {
			continue
		}
		for _, c := range it.Captions {
			if c.State == StateRejected || (approvedOnly && c.State != StateApproved) {
				continue
			}
			out = append(out, Pair{Image: d.AbsPath(it), Caption: c.Text, Item: i})
		}
	}
	return out
}

// ownerFor picks the caption file that will list a newly captioned image: the one in the nearest
// folder above it, or a new metadata.jsonl / metadata.csv / captions.json in the root. d.mu held.
func (d *Dataset) ownerFor(rel string) int {
	best, bestLen := -1, -1
	for si, s := range d.sources {
		if s.format != d.format {
			continue
		}
		if (s.dir == "" || strings.HasPrefix(rel, s.dir+"/")) && len(s.dir) > bestLen {
			best, bestLen = si, len(s.dir)
		}
	}
	if best >= 0 {
		return best
	}
	s := &source{format: d.format}
	switch d.format {
	case FormatJSONL:
		// An image in a split folder gets that folder's metadata.jsonl, as imagefolder expects.
		if _, ok := splitFolder(rel); ok {
			s.dir, _, _ = strings.Cut(rel, "/")
		}
		s.rel, s.jsonl = path.Join(s.dir, "metadata.jsonl"), &jsonlFile{}
	case FormatCSV:
		col := d.column
		if col == "" {
			col = "text"
		}
		s.rel, s.csv = "metadata.csv", &csvFile{header: []string{"file_name", col}, fileCol: 0, textCol: 1, splitCol: -1, originCol: -1, stateCol: -1}
	case FormatCOCO:
		s.rel, s.coco = "captions.json", &cocoFile{top: rawObject{{"images", []byte("[]")}, {"annotations", []byte("[]")}}}
	}
	d.sources = append(d.sources, s)
	return len(d.sources) - 1
}

// nameIn is the file name an image has in a caption file of folder dir.
func nameIn(dir, rel string) string {
	if dir == "" {
		return rel
	}
	if r, ok := strings.CutPrefix(rel, dir+"/"); ok {
		return r
	}
	return rel // only COCO files reach here; they also resolve names against the root
}

func texts(it *Item) []string {
	out := make([]string, len(it.Captions))
	for i, c := range it.Captions {
		out[i] = c.Text
	}
	return out
}

func relDir(rel string) string {
	dir := path.Dir(rel)
	if dir == "." {
		return ""
	}
	return dir
}
