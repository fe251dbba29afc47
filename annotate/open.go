package annotate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/captune/captune/internal/atomicfile"
)

// OpenOptions says how to read a dataset folder. The zero value reads the top folder only (plus
// the split folders of a Hugging Face imagefolder layout) and picks the caption format itself.
type OpenOptions struct {
	Recursive bool // also read images in sub-folders (hidden folders such as .git are always skipped)
	// Source picks the caption format. Empty: the one recorded in .captune/project.json, else the
	// first found of metadata.jsonl, COCO JSON, sidecar files, CSV.
	Source Format
	// SidecarExt is the sidecar extension (".txt", ".caption", ".cap" or another). Empty: the
	// recorded one, else the one most images have.
	SidecarExt string
	// TextColumn is the caption key in metadata.jsonl or header in a CSV. Empty: the recorded one,
	// else the first present of "text", "caption", "captions".
	TextColumn string
}

// scanResult is what a walk of the folder found, by name only: nothing is decoded.
type scanResult struct {
	images       []string          // slash paths relative to the root
	captionFiles map[string]string // sidecar candidates: path with lower-case extension -> actual path
	jsonl        []string          // metadata.jsonl files
	json         []string          // other .json files (COCO candidates)
	csv          []string          // .csv files
	stems        []string          // sidecarStems(images), computed on first use
}

// sidecarStems caches sidecarStems(images): detection asks for it once per extension.
func (sc *scanResult) sidecarStems() []string {
	if sc.stems == nil {
		sc.stems = sidecarStems(sc.images)
	}
	return sc.stems
}

// Open reads the dataset in folder root: it lists the images (by name, without decoding any),
// reads their captions from the chosen or detected format, and applies the origins, review states
// and splits recorded in .captune/project.json. Problems with single entries are reported in the
// Report and skipped; only a root that cannot be read is an error.
//
// Open does not take the lock file; a program that will edit and save calls Lock.
func Open(root string, opts OpenOptions) (*Dataset, Report, error) {
	var rep Report
	d, err := newDataset(root, opts)
	if err != nil {
		return nil, rep, fmt.Errorf("open dataset %s: %w", root, err)
	}
	opts.SidecarExt = normalizeExt(opts.SidecarExt)
	sc, err := d.scan(opts, &rep)
	if err != nil {
		return nil, rep, fmt.Errorf("open dataset %s: %w", root, err)
	}
	d.cleanProjectDir(&rep)
	d.removedTemps = rep.RemovedTemps
	proj := d.loadProject(&rep)
	format, ext := d.recordedFormat(opts, proj)
	d.buildItems(sc.images)

	var cocoFiles []parsedCOCO
	if format == "" || format == FormatCOCO {
		cocoFiles = d.parseCOCOFiles(sc.json, &rep)
	}
	d.format, d.sidecarExt = d.detectFormat(sc, cocoFiles, format, ext)
	switch d.format {
	case FormatSidecar:
		d.loadSidecars(sc, &rep)
	case FormatJSONL:
		d.loadJSONL(sc.jsonl, &rep)
	case FormatCOCO:
		d.loadCOCO(cocoFiles, &rep)
	case FormatCSV:
		d.loadCSV(sc.csv, &rep)
	}
	d.reportUnused(sc, cocoFiles, &rep)
	d.applyProject(proj)
	d.saved = append([]*Item(nil), d.items...)
	d.summarize(&rep)
	return d, rep, nil
}

// newDataset returns an empty dataset rooted at the folder root, after checking that root is a
// folder and that opts names a known format.
func newDataset(root string, opts OpenOptions) (*Dataset, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, errors.New("not a folder")
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, err
	}
	if opts.Source != "" && !opts.Source.valid() {
		return nil, fmt.Errorf("unknown format %q", opts.Source)
	}
	return &Dataset{root: abs, realRoot: real, stamps: map[string]stamp{}, index: map[string]int{}}, nil
}

// recordedFormat sets the caption column and returns the format and sidecar extension to read:
// those opts asks for, else those project.json (proj, may be nil) records, else "" to detect.
func (d *Dataset) recordedFormat(opts OpenOptions, proj *projectFile) (Format, string) {
	d.column = opts.TextColumn
	format, ext := opts.Source, opts.SidecarExt
	if proj == nil {
		return format, ext
	}
	if d.column == "" {
		d.column = proj.TextColumn
	}
	if ext == "" {
		ext = normalizeExt(proj.SidecarExt)
	}
	if format == "" && proj.Format.valid() {
		format = proj.Format
	}
	return format, ext
}

// detectFormat fills in what the user and project.json left open: the first format found of
// metadata.jsonl, COCO JSON, sidecar files and CSV (sidecars when there are no captions yet), and
// for sidecars the extension most images have (.txt when none has one).
func (d *Dataset) detectFormat(sc *scanResult, cocoFiles []parsedCOCO, format Format, ext string) (Format, string) {
	if format == "" {
		switch {
		case len(sc.jsonl) > 0:
			format = FormatJSONL
		case len(cocoFiles) > 0:
			format = FormatCOCO
		case d.bestSidecarExt(sc, ext) != "":
			format = FormatSidecar
		case d.hasCaptionCSV(sc.csv):
			format = FormatCSV
		default:
			format = FormatSidecar // no captions yet: write the simplest format
		}
	}
	if format == FormatSidecar && ext == "" {
		if ext = d.bestSidecarExt(sc, ""); ext == "" {
			ext = ".txt"
		}
	}
	return format, ext
}

// applyProject applies the origins, review states and splits project.json (proj, may be nil)
// records, and keeps its entries for images not found so that saving does not drop them.
func (d *Dataset) applyProject(proj *projectFile) {
	if proj == nil {
		return
	}
	d.splitsAssigned = proj.SplitsAssigned
	for _, it := range d.items {
		proj.apply(it)
	}
	d.projectExtra = map[string]projectItem{}
	for p, pi := range proj.Items {
		if _, ok := d.index[p]; !ok {
			d.projectExtra[p] = pi
		}
	}
}

// summarize fills in the counts of rep for the dataset just read.
func (d *Dataset) summarize(rep *Report) {
	rep.Source, rep.Images = d.format, len(d.items)
	if d.format == FormatSidecar {
		rep.SidecarExt = d.sidecarExt
	}
	for _, s := range d.sources {
		rep.SourceFiles = append(rep.SourceFiles, s.rel)
	}
	for _, it := range d.items {
		if it.HasCaption() {
			rep.Captioned++
		}
		rep.Captions += len(it.Captions)
	}
	rep.Uncaptioned = rep.Images - rep.Captioned
}

// scan walks the folder and sorts what it finds by name. Symlinks are followed only to files
// inside the root; symlinked folders are never entered (that also rules out cycles).
func (d *Dataset) scan(opts OpenOptions, rep *Report) (*scanResult, error) {
	s := &scanner{d: d, opts: opts, rep: rep, sc: &scanResult{captionFiles: map[string]string{}}, sideExts: map[string]bool{}}
	for _, e := range sidecarExts {
		s.sideExts[e] = true
	}
	if opts.SidecarExt != "" {
		s.sideExts[strings.ToLower(opts.SidecarExt)] = true
	}
	if err := s.walk(d.root, ""); err != nil {
		return nil, err
	}
	// Scan warnings are sorted by file at the end: directories are read unsorted, which saves a
	// sort of 100,000 names on a large flat folder (the lists below are sorted once anyway).
	sort.SliceStable(s.warns, func(a, b int) bool { return s.warns[a].File < s.warns[b].File })
	rep.Warnings = append(rep.Warnings, s.warns...)
	sort.Strings(d.leftovers)
	sc := s.sc
	for _, l := range [][]string{sc.images, sc.jsonl, sc.json, sc.csv} {
		sort.Strings(l)
	}
	return sc, nil
}

// scanner is one walk of scan: what it found so far and the warnings it collected.
type scanner struct {
	d        *Dataset
	opts     OpenOptions
	rep      *Report
	sc       *scanResult
	sideExts map[string]bool // lower-case extensions of sidecar candidates
	warns    []Warning
}

func (s *scanner) warn(kind WarningKind, rel, format string, args ...any) {
	s.warns = append(s.warns, Warning{Kind: kind, File: rel, Msg: fmt.Sprintf(format, args...)})
}

// walk reads the folder dirAbs (dirRel within the root, "" for the root itself).
func (s *scanner) walk(dirAbs, dirRel string) error {
	f, err := os.Open(dirAbs)
	if err != nil {
		return err
	}
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return err
	}
	for _, de := range entries {
		name := de.Name()
		rel, p := name, dirAbs+string(filepath.Separator)+name
		if dirRel != "" {
			rel = dirRel + "/" + name
		}
		switch {
		case isTempName(name):
			s.d.leftoverTemp(p, rel, name, s.rep, s.warn)
		case de.IsDir():
			s.dir(p, rel, name)
		default:
			s.file(de, p, rel, dirRel)
		}
	}
	return nil
}

// dir enters a sub-folder, unless it is hidden or the open is not recursive and it is not one
// of the folders a shallow open reads; the images of a folder left out are counted.
func (s *scanner) dir(p, rel, name string) {
	if strings.HasPrefix(name, ".") {
		return
	}
	if !s.opts.Recursive && !s.d.shallowFolder(rel) {
		s.rep.InSubfolders += countImages(p)
		return
	}
	if err := s.walk(p, rel); err != nil {
		s.warn(WarnUnreadable, rel, "%v", err)
	}
}

// file adds a file of the folder dirRel to the list its name says, if any.
func (s *scanner) file(de fs.DirEntry, p, rel, dirRel string) {
	name := de.Name()
	if strings.HasPrefix(name, ".") {
		return
	}
	ext := strings.ToLower(path.Ext(name))
	isJSONL := name == "metadata.jsonl"
	if !imageExts[ext] && !s.sideExts[ext] && !isJSONL && ext != ".json" && ext != ".csv" {
		return
	}
	if !s.opts.Recursive && dirRel == "annotations" && ext != ".json" {
		return // entered only for COCO annotation files
	}
	if !utf8.ValidString(rel) {
		s.warn(WarnUnreadable, strings.ToValidUTF8(rel, "\uFFFD"), "file name is not valid UTF-8; ignored")
		return
	}
	if !s.regular(de, p, rel) {
		return
	}
	sc := s.sc
	switch {
	case imageExts[ext]:
		sc.images = append(sc.images, rel)
	case isJSONL:
		sc.jsonl = append(sc.jsonl, rel)
	case ext == ".json":
		sc.json = append(sc.json, rel)
	case ext == ".csv":
		sc.csv = append(sc.csv, rel)
	default:
		sc.captionFiles[lowerExt(rel)] = rel
	}
}

// regular reports whether an entry is a regular file or a symbolic link to one inside the root,
// warning about the links it ignores.
func (s *scanner) regular(de fs.DirEntry, p, rel string) bool {
	if de.Type()&fs.ModeSymlink == 0 {
		return de.Type().IsRegular()
	}
	real, inside := resolveInside(s.d.realRoot, p)
	if !inside {
		s.warn(WarnUnsafePath, rel, "symbolic link leads outside the dataset folder; ignored")
		return false
	}
	if fi, err := os.Stat(real); err != nil || !fi.Mode().IsRegular() {
		s.warn(WarnIgnored, rel, "symbolic link to something other than a file; ignored")
		return false
	}
	return true
}

// leftoverTemp handles a Captune temporary file found by the walk: the leftover of a killed
// writer is removed and counted; one whose writer may still run (another Captune saving or
// exporting now, or an older Captune whose names record no process id) is reported, and removed
// by Lock unless its writer runs.
func (d *Dataset) leftoverTemp(abs, rel, name string, rep *Report, warn func(WarningKind, string, string, ...any)) {
	if atomicfile.Stale(name) {
		if err := os.RemoveAll(abs); err == nil {
			rep.RemovedTemps++
			return
		}
	}
	d.leftovers = append(d.leftovers, rel)
	if pid, ok := atomicfile.WriterPID(name); ok && atomicfile.ProcessAlive(pid) {
		warn(WarnLeftover, rel, "temporary file of a Captune that is writing here now (process %d); left alone", pid)
		return
	}
	warn(WarnLeftover, rel, "temporary file of an interrupted save; removed when the dataset is next locked for editing")
}

// cleanProjectDir removes the temporary files killed writers left in .captune (of project.json
// and the lock), which the walk does not enter.
func (d *Dataset) cleanProjectDir(rep *Report) {
	n, err := atomicfile.CleanStale(d.abs(ProjectDir))
	rep.RemovedTemps += n
	if err != nil {
		rep.warn(WarnUnreadable, ProjectDir, 0, "%v", err)
	}
}

// countImages counts the image files under dir the way a recursive open would find them (hidden
// folders and symlinked folders are not entered); folders it cannot read count as empty.
func countImages(dir string) int {
	f, err := os.Open(dir)
	if err != nil {
		return 0
	}
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return 0
	}
	n := 0
	for _, de := range entries {
		name := de.Name()
		switch {
		case strings.HasPrefix(name, "."):
		case de.IsDir():
			n += countImages(filepath.Join(dir, name))
		case imageExts[strings.ToLower(path.Ext(name))] && (de.Type().IsRegular() || de.Type()&fs.ModeSymlink != 0):
			n++
		}
	}
	return n
}

// shallowFolder says which sub-folders a non-recursive open still enters: the split folders of a
// Hugging Face imagefolder (when they hold its metadata file), and annotations/ for COCO.
func (d *Dataset) shallowFolder(rel string) bool {
	if strings.Contains(rel, "/") {
		return false
	}
	if rel == "annotations" {
		return true
	}
	if s, ok := ParseSplit(rel); !ok || s == SplitNone {
		return false
	}
	for _, m := range []string{"metadata.jsonl", "metadata.csv"} {
		if fi, err := os.Lstat(filepath.Join(d.root, rel, m)); err == nil && fi.Mode().IsRegular() {
			return true
		}
	}
	return false
}

func lowerExt(rel string) string {
	ext := path.Ext(rel)
	return strings.TrimSuffix(rel, ext) + strings.ToLower(ext)
}

// buildItems makes one uncaptioned item per image, sorted by path, with the split its folder
// names (train/, validation/, test/).
func (d *Dataset) buildItems(images []string) {
	d.items = make([]*Item, len(images))
	d.owner = make([]int, len(images))
	for i, rel := range images {
		s, _ := splitFolder(rel)
		d.items[i] = &Item{Path: rel, Split: s}
		d.index[rel] = i
		d.owner[i] = -1
	}
}

// loadProject reads .captune/project.json, if any.
func (d *Dataset) loadProject(rep *Report) *projectFile {
	abs := d.abs(projectRel)
	if _, err := os.Lstat(abs); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			rep.warn(WarnUnreadable, projectRel, 0, "%v", err)
		}
		return nil
	}
	if _, inside := resolveInside(d.realRoot, abs); !inside {
		rep.warn(WarnUnsafePath, projectRel, 0, "leads outside the dataset folder; ignored")
		return nil
	}
	data, st, err := readStamped(abs, maxSourceBytes)
	if err != nil {
		rep.warn(WarnUnreadable, projectRel, 0, "%v", err)
		d.projectBad = true
		return nil
	}
	d.stamps[projectRel] = st
	d.projectBytes = data
	p, err := parseProject(data)
	if err != nil {
		rep.warn(WarnMalformed, projectRel, 0, "not read (%v): review states and splits are reset; the file is kept as %s.bad when Captune saves", err, path.Base(projectRel))
		d.projectBad = true
		return nil
	}
	return p
}

// readSource reads a caption file found by scan, recording its stamp.
func (d *Dataset) readSource(rel string, limit int64, rep *Report) ([]byte, bool) {
	data, st, err := readStamped(d.abs(rel), limit)
	if err != nil {
		rep.warn(WarnUnreadable, rel, 0, "%v", err)
		return nil, false
	}
	d.stamps[rel] = st
	return data, true
}

// bestSidecarExt returns the sidecar extension most images have a file for (want, if set and
// present), or "" when no image has one.
func (d *Dataset) bestSidecarExt(sc *scanResult, want string) string {
	exts := sidecarExts
	if want != "" {
		exts = []string{want}
	}
	best, bestN := "", 0
	for _, e := range exts {
		if n := countSidecars(sc, e); n > bestN {
			best, bestN = e, n
		}
	}
	return best
}

func countSidecars(sc *scanResult, ext string) int {
	n := 0
	ext = strings.ToLower(ext)
	for _, stem := range sc.sidecarStems() {
		if _, ok := sc.captionFiles[stem+ext]; ok {
			n++
		}
	}
	return n
}

// sidecarRead is the outcome of reading one sidecar file.
type sidecarRead struct {
	item  int
	rel   string
	texts []string
	warns []Warning
	st    stamp
	err   error
}

// loadSidecars reads NAME.ext beside every image. Reading is spread over a few goroutines: with
// 50,000 sidecars Open spends its time in open/read/close system calls, which run in parallel.
func (d *Dataset) loadSidecars(sc *scanResult, rep *Report) {
	ext := strings.ToLower(d.sidecarExt)
	stems := sc.sidecarStems()
	d.sidecar = make([]string, len(stems))
	claimed := map[string]bool{}
	var jobs []sidecarRead
	for i, stem := range stems {
		name := stem + ext
		d.sidecar[i] = stem + d.sidecarExt
		if stem == d.items[i].Path {
			// This image shares its name with an earlier one (a.jpg and a.png).
			rep.warn(WarnDuplicate, d.items[i].Path, 0, "another image in this folder has the same name; its captions are in %s", path.Base(d.sidecar[i]))
		}
		actual, ok := sc.captionFiles[name]
		if !ok {
			continue
		}
		d.sidecar[i] = actual
		claimed[name] = true
		jobs = append(jobs, sidecarRead{item: i, rel: actual})
	}
	workers := min(max(runtime.GOMAXPROCS(0), 2), 8)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := w; k < len(jobs); k += workers {
				j := &jobs[k]
				var data []byte
				data, j.st, j.err = readSidecar(d.abs(j.rel), maxSidecarBytes)
				if j.err == nil {
					j.texts, j.warns = parseSidecar(data)
				}
			}
		}()
	}
	wg.Wait()
	for _, j := range jobs {
		if j.err != nil {
			rep.warn(WarnUnreadable, j.rel, 0, "%v", j.err)
			continue
		}
		d.stamps[j.rel] = j.st
		rep.addFileWarnings(j.rel, j.warns)
		d.items[j.item].Captions = importedCaptions(j.texts)
	}
	var orphans []string
	for key, actual := range sc.captionFiles {
		if strings.HasSuffix(key, ext) && !claimed[key] {
			orphans = append(orphans, actual)
		}
	}
	sort.Strings(orphans)
	for _, rel := range orphans {
		rep.warn(WarnOrphan, rel, 0, "caption file without an image")
	}
}

func importedCaptions(texts []string) []Caption {
	if len(texts) == 0 {
		return nil
	}
	cs := make([]Caption, len(texts))
	for i, t := range texts {
		cs[i] = Caption{Text: t, Origin: OriginImported, State: StateUnreviewed}
	}
	return cs
}

// entry is one image reference in a single-file caption format, prepared for attach.
type entry struct {
	rec      int    // index in source.recItem
	where    string // "line 3" or "images[2]", for warnings
	line     int
	name     string
	captions []Caption
	split    string
}

// adder receives the captions and split an entry gives item i.
type adder func(i int, caps []Caption, split string)

// addToItems is the adder of Open: captions go straight into the items being built.
func (d *Dataset) addToItems(i int, caps []Caption, split string) {
	it := d.items[i]
	it.Captions = append(it.Captions, caps...)
	if sp, ok := ParseSplit(split); ok && sp != SplitNone {
		it.Split = sp
	}
}

// attach resolves an entry of source si to an item and hands its captions to add. An image
// listed by an earlier caption file keeps those captions and this entry is ignored (and written
// back as it is), so captions are never counted twice. manyRows is set for CSV, where several
// rows per image are how several captions are written, not duplicates.
func (d *Dataset) attach(si int, e entry, resolve func(string) (string, error), manyRows bool, rep *Report, add adder) int {
	s := d.sources[si]
	s.recItem[e.rec] = -1
	where := e.where + ": " // COCO entries have no line number to go by
	if e.line > 0 {
		where = "" // the warning's file:line says it
	}
	rel, err := resolve(e.name)
	if err != nil {
		kind := WarnMalformed
		if errors.Is(err, errUnsafePath) {
			kind = WarnUnsafePath
		}
		rep.warn(kind, s.rel, e.line, "%sfile_name %v; refused", where, err)
		return -1
	}
	i, ok := d.index[rel]
	if !ok {
		if len(e.captions) > 0 {
			rep.warn(WarnOrphan, s.rel, e.line, "%sno image %s; its %d caption(s) are kept in the file but not shown", where, e.name, len(e.captions))
		} else {
			rep.warn(WarnOrphan, s.rel, e.line, "%sno image %s", where, e.name)
		}
		return -1
	}
	switch o := d.owner[i]; {
	case o >= 0 && o != si:
		rep.warn(WarnDuplicate, s.rel, e.line, "%s%s is already listed in %s; this entry is ignored", where, rel, d.sources[o].rel)
		return -1
	case o == si && !manyRows:
		rep.warn(WarnDuplicate, s.rel, e.line, "%s%s is listed again; captions merged into its first entry", where, rel)
	}
	d.owner[i] = si
	s.recItem[e.rec] = i
	add(i, e.captions, e.split)
	return i
}

// resolveIn resolves file names relative to the caption file's folder (jsonl, CSV).
func (d *Dataset) resolveIn(dir string) func(string) (string, error) {
	return func(name string) (string, error) { return cleanEntryName(dir, name) }
}

func (d *Dataset) loadJSONL(files []string, rep *Report) {
	for _, rel := range files {
		if data, ok := d.readSource(rel, maxSourceBytes, rep); ok {
			d.sources = append(d.sources, nil)
			d.loadJSONLFile(len(d.sources)-1, rel, data, rep, d.addToItems)
		}
	}
}

// loadJSONLFile parses one metadata.jsonl into source si.
func (d *Dataset) loadJSONLFile(si int, rel string, data []byte, rep *Report, add adder) {
	f, warns := parseJSONL(data, d.column)
	rep.addFileWarnings(rel, warns)
	s := &source{rel: rel, dir: relDir(rel), format: FormatJSONL, jsonl: f, recItem: make([]int, len(f.lines))}
	d.sources[si] = s
	for li, l := range f.lines {
		s.recItem[li] = -1
		if l.obj == nil {
			continue
		}
		d.attach(si, entry{rec: li, where: fmt.Sprintf("line %d", l.num), line: l.num, name: l.name, captions: importedCaptions(l.texts)},
			d.resolveIn(s.dir), false, rep, add)
	}
}

func (d *Dataset) loadCSV(files []string, rep *Report) {
	for _, rel := range files {
		data, ok := d.readSource(rel, maxSourceBytes, rep)
		if !ok {
			continue
		}
		d.sources = append(d.sources, nil)
		if err := d.loadCSVFile(len(d.sources)-1, rel, data, rep, d.addToItems); err != nil {
			d.sources = d.sources[:len(d.sources)-1]
			delete(d.stamps, rel)
			if path.Base(rel) == "metadata.csv" {
				rep.warn(WarnMalformed, rel, 1, "%v", err)
			}
		}
	}
}

// loadCSVFile parses one captions CSV into source si; it fails when the file has no caption
// columns.
func (d *Dataset) loadCSVFile(si int, rel string, data []byte, rep *Report, add adder) error {
	f, warns, err := parseCSV(data, d.column)
	if err != nil {
		return err
	}
	rep.addFileWarnings(rel, warns)
	s := &source{rel: rel, dir: relDir(rel), format: FormatCSV, csv: f, recItem: make([]int, len(f.rows)),
		meta: f.originCol >= 0 || f.stateCol >= 0}
	d.sources[si] = s
	for ri, r := range f.rows {
		s.recItem[ri] = -1
		if !r.ok {
			continue
		}
		var caps []Caption
		if r.text != "" {
			caps = []Caption{metaCaption(r.text, r.field(f.originCol), r.field(f.stateCol))}
		}
		d.attach(si, entry{rec: ri, where: fmt.Sprintf("line %d", r.line), line: r.line, name: r.name, captions: caps, split: r.field(f.splitCol)},
			d.resolveIn(s.dir), true, rep, add)
	}
	return nil
}

// metaCaption is a caption whose origin and state come from a file Captune exported; anything
// unknown falls back to imported and unreviewed.
func metaCaption(text, origin, state string) Caption {
	c := Caption{Text: text, Origin: Origin(strings.TrimSpace(origin)), State: State(strings.TrimSpace(state))}
	if !c.Origin.valid() {
		c.Origin = OriginImported
	}
	if !c.State.valid() {
		c.State = StateUnreviewed
	}
	return c
}

// hasCaptionCSV reports whether any CSV has file-name and caption columns (header only).
func (d *Dataset) hasCaptionCSV(files []string) bool {
	for _, rel := range files {
		data, _, err := readStamped(d.abs(rel), maxSourceBytes)
		if err != nil {
			continue
		}
		if _, _, err := parseCSV(headerOnly(data), d.column); err == nil {
			return true
		}
	}
	return false
}

// headerOnly returns the first line of data, which is all hasCaptionCSV needs.
func headerOnly(data []byte) []byte {
	for i, b := range data {
		if b == '\n' {
			return data[:i+1]
		}
	}
	return data
}

// parsedCOCO is a .json file that turned out to be COCO captions.
type parsedCOCO struct {
	rel   string
	f     *cocoFile
	st    stamp
	warns []Warning
}

func (d *Dataset) parseCOCOFiles(files []string, rep *Report) []parsedCOCO {
	var out []parsedCOCO
	for _, rel := range files {
		data, st, err := readStamped(d.abs(rel), maxSourceBytes)
		if err != nil {
			rep.warn(WarnUnreadable, rel, 0, "%v", err)
			continue
		}
		f, warns, err := parseCOCO(data)
		if err != nil {
			continue // some other JSON file
		}
		out = append(out, parsedCOCO{rel: rel, f: f, st: st, warns: warns})
	}
	return out
}

func (d *Dataset) loadCOCO(files []parsedCOCO, rep *Report) {
	for _, pc := range files {
		d.stamps[pc.rel] = pc.st
		rep.addFileWarnings(pc.rel, pc.warns)
		d.sources = append(d.sources, nil)
		d.loadCOCOFile(len(d.sources)-1, pc.rel, pc.f, rep, d.addToItems)
	}
}

// loadCOCOFile attaches one parsed COCO captions file as source si.
func (d *Dataset) loadCOCOFile(si int, rel string, f *cocoFile, rep *Report, add adder) {
	// COCO file names are often bare ("COCO_val2014_000000391895.jpg") with the images in another
	// folder (val2014/), so a name that is not found beside the file or under the root is looked
	// up by base name, when exactly one image has it.
	byBase := map[string][]int{}
	for i, it := range d.items {
		b := path.Base(it.Path)
		byBase[b] = append(byBase[b], i)
	}
	s := &source{rel: rel, dir: relDir(rel), format: FormatCOCO, coco: f, recItem: make([]int, len(f.images))}
	for _, a := range f.anns {
		s.meta = s.meta || a.origin != "" || a.state != ""
	}
	d.sources[si] = s
	resolve := func(name string) (string, error) {
		rel, err := cleanEntryName(s.dir, name)
		if err != nil {
			return "", err
		}
		if _, ok := d.index[rel]; ok {
			return rel, nil
		}
		if r2, err := cleanEntryName("", name); err == nil {
			if _, ok := d.index[r2]; ok {
				return r2, nil
			}
		}
		if c := byBase[path.Base(rel)]; len(c) == 1 {
			return d.items[c[0]].Path, nil
		}
		return rel, nil
	}
	idItem := map[string]int{}
	for ei, im := range f.images {
		s.recItem[ei] = -1
		if im.obj == nil {
			continue
		}
		where := fmt.Sprintf("images[%d]", ei)
		if _, dup := idItem[im.id]; dup {
			rep.warn(WarnDuplicate, s.rel, 0, "%s: id %s is used twice; the later entry is ignored", where, im.id)
			continue
		}
		idItem[im.id] = d.attach(si, entry{rec: ei, where: where, name: im.name, split: im.split}, resolve, false, rep, add)
	}
	for ai, a := range f.anns {
		if a.obj == nil {
			continue
		}
		i, ok := idItem[a.imageID]
		if !ok {
			rep.warn(WarnOrphan, s.rel, 0, "annotations[%d]: no image with id %s", ai, a.imageID)
			continue
		}
		if i < 0 || a.caption == "" {
			continue // an image that was refused or is missing: reported above
		}
		add(i, []Caption{metaCaption(a.caption, a.origin, a.state)}, "")
	}
}

// reportUnused tells the user about captions in other formats that were found but not used.
func (d *Dataset) reportUnused(sc *scanResult, cocoFiles []parsedCOCO, rep *Report) {
	from := d.format.describe(d.sidecarExt)
	if d.format != FormatJSONL {
		for _, rel := range sc.jsonl {
			rep.warn(WarnIgnored, rel, 0, "not used: captions come from %s (open with format jsonl to use it)", from)
		}
	}
	if d.format != FormatCOCO {
		for _, pc := range cocoFiles {
			rep.warn(WarnIgnored, pc.rel, 0, "COCO captions not used: captions come from %s (open with format coco to use them)", from)
		}
	}
	if d.format != FormatCSV {
		for _, rel := range sc.csv {
			if path.Base(rel) == "metadata.csv" {
				rep.warn(WarnIgnored, rel, 0, "not used: captions come from %s (open with format csv to use it)", from)
			}
		}
	}
	for _, e := range sidecarExts {
		if d.format == FormatSidecar && strings.EqualFold(e, d.sidecarExt) {
			continue
		}
		if n := countSidecars(sc, e); n > 0 {
			rep.warn(WarnIgnored, "", 0, "%d sidecar %s files not used: captions come from %s (open with format sidecar, extension %s, to use them)", n, e, from, e)
		}
	}
}
