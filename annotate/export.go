package annotate

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // image headers for checkImage
	_ "image/jpeg"
	_ "image/png"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"

	"github.com/captune/captune/internal/atomicfile"
)

// ExportFormat is a format Export writes.
type ExportFormat string

// The export formats.
const (
	ExportTxt     ExportFormat = "txt"     // NAME.txt beside each image, one caption per line
	ExportCaption ExportFormat = "caption" // NAME.caption beside each image
	ExportJSONL   ExportFormat = "jsonl"   // Hugging Face imagefolder: metadata.jsonl, split folders when splits are set
	ExportCOCO    ExportFormat = "coco"    // COCO captions JSON
	ExportCSV     ExportFormat = "csv"     // file_name,text,split,origin,state
)

// ExportFormats lists the export formats, for menus and --help.
var ExportFormats = []ExportFormat{ExportTxt, ExportCaption, ExportJSONL, ExportCOCO, ExportCSV}

// ParseExportFormat reads an export format name.
func ParseExportFormat(s string) (ExportFormat, error) {
	f := ExportFormat(strings.ToLower(strings.TrimSpace(s)))
	for _, g := range ExportFormats {
		if f == g {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown export format %q (want txt, caption, jsonl, coco or csv)", s)
}

// ImageMode says how Export puts images beside the captions it writes in another folder.
type ImageMode string

// The image modes.
const (
	ImagesLink ImageMode = "link" // hard links (no extra space), copies where links are impossible; the default into a folder
	ImagesCopy ImageMode = "copy"
	ImagesNone ImageMode = "none" // captions only; file names still refer to the images' paths; the default into a file
)

// ExportOptions describes an export.
type ExportOptions struct {
	Format ExportFormat
	// Out is the destination. For txt, caption and jsonl it is a folder; for coco and csv it is a
	// .json / .csv file or a folder (then captions.json / metadata.csv in it). File names in the
	// output are relative to its folder, and images are placed there (see Images) unless that
	// folder is the dataset itself. A folder inside the dataset is refused.
	Out          string
	ApprovedOnly bool  // only approved captions; images without one are left out
	Split        Split // only this split; SplitNone exports every item
	// Images says how images are placed beside the output. "" means ImagesLink into a folder and
	// ImagesNone when Out names a .json / .csv file: nothing appears beside a file unasked.
	Images ImageMode
	// IncludeRejected exports rejected captions too. They are marked as rejected where the format
	// can say so (the state of CSV and COCO, .captune/project.json of folder formats); a .txt
	// sidecar or a metadata.jsonl line alone cannot, so tools reading only those take them as
	// ordinary captions. By default they are left out.
	IncludeRejected bool
	// IncludeUnreadable exports images whose header does not read as a JPEG, PNG, WebP, GIF, BMP
	// or TIFF image. By default they are left out (and not linked or copied).
	IncludeUnreadable bool
	// OnProgress, if set, is called after each image with the number done and the total.
	OnProgress func(done, total int)
}

// ExportSummary says what an export wrote and what it left out, for the Export tab and the CLI.
type ExportSummary struct {
	Images       int       // images exported
	Captions     int       // captions exported
	Rejected     int       // rejected captions left out
	Unreadable   []string  // images left out because they do not read as images: "NAME (reason)"
	ImagesPlaced int       // images linked or copied beside the output
	ImageMode    ImageMode // how they were placed
	// RemovedTemps counts the temporary files of killed Captunes removed from the destination.
	RemovedTemps int
}

// LeftOut describes what the export left out ("" when nothing), e.g.
// "left out: 2 rejected captions, 1 unreadable image (broken.png (not an image))".
func (s ExportSummary) LeftOut() string {
	var parts []string
	if s.Rejected > 0 {
		parts = append(parts, plural(s.Rejected, "rejected caption"))
	}
	if n := len(s.Unreadable); n > 0 {
		names := s.Unreadable
		if n > 3 {
			names = append(append([]string(nil), names[:3]...), "…")
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", plural(n, "unreadable image"), strings.Join(names, ", ")))
	}
	if len(parts) == 0 {
		return ""
	}
	return "left out: " + strings.Join(parts, ", ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// exported is one item as it will be written.
type exported struct {
	item *Item
	rel  string // path in the output
	caps []Caption
	id   string // COCO image id to keep, as JSON, if the dataset came from COCO
}

// Export writes the dataset (or the chosen split, or only approved captions) in another format.
// Folder formats also get .captune/project.json, so origins, review states and splits survive a
// round trip; COCO and CSV carry them in extra fields. Export never overwrites the dataset's own
// caption files: use Save for those.
//
// Rejected captions and images that do not read as images are left out unless opts asks for
// them; the summary counts what was left out. Checking an image reads its header only.
func Export(d *Dataset, opts ExportOptions) (ExportSummary, error) {
	var sum ExportSummary
	if _, err := ParseExportFormat(string(opts.Format)); err != nil {
		return sum, fmt.Errorf("export: %w", err)
	}
	if opts.Out == "" {
		return sum, errors.New("export: no destination")
	}
	if opts.Images != "" && opts.Images != ImagesLink && opts.Images != ImagesCopy && opts.Images != ImagesNone {
		return sum, fmt.Errorf("export: image mode %q: want link, copy or none", opts.Images)
	}
	if !validSplit(opts.Split) {
		return sum, fmt.Errorf("export: split %q: want train, val, test or empty", opts.Split)
	}
	outDir, outFile, named, err := exportDest(opts)
	if err != nil {
		return sum, err
	}
	mode := opts.Images
	switch {
	case mode != "":
	case named:
		mode = ImagesNone // nothing appears beside a named file unasked
	default:
		mode = ImagesLink
	}
	sum.ImageMode = mode
	if fi, err := os.Stat(outDir); err == nil && !fi.IsDir() {
		return sum, fmt.Errorf("export to %s: not a folder", outDir)
	}
	realOut := realPathLoose(outDir)
	inPlace := realOut == d.realRoot
	if !inPlace && within(d.realRoot, realOut) {
		return sum, fmt.Errorf("export to %s: the folder is inside the dataset; pick the dataset folder itself or a folder outside it", outDir)
	}

	sel, err := d.selectExport(opts, inPlace, &sum)
	if err != nil {
		return sum, err
	}
	files, err := renderExport(opts.Format, sel, outDir, outFile, inPlace)
	if err != nil {
		return sum, err
	}
	if inPlace {
		own := d.ownFiles()
		for rel := range files {
			if own[rel] {
				return sum, fmt.Errorf("export to %s: would overwrite the dataset's own %s; use Save, or export to another folder", outDir, rel)
			}
		}
	}
	tx := newExportTx(outDir)
	err = writeExport(d, tx, sel, files, outDir, mode, opts.OnProgress, &sum)
	if err == nil {
		tx.commit()
		return sum, nil
	}
	if rerr := tx.rollback(); rerr != nil {
		return sum, fmt.Errorf("%w; undoing the export in %s failed too, so some of its files remain: %v", err, outDir, rerr)
	}
	return sum, fmt.Errorf("%w (nothing of the export is left in %s: what it wrote was removed and files it replaced were restored)", err, outDir)
}

// writeExport places the images (unless mode is ImagesNone or the export is in place) and writes
// the caption files into outDir, recording every change in tx so that a failure can undo it.
// It first removes the temporary files that killed Captunes left in the folders it writes to.
func writeExport(d *Dataset, tx *exportTx, sel []exported, files map[string][]byte, outDir string, mode ImageMode, onProgress func(done, total int), sum *ExportSummary) error {
	inPlace := realPathLoose(outDir) == d.realRoot
	placing := !inPlace && mode != ImagesNone
	dirs := map[string]bool{outDir: true}
	for rel := range files {
		dirs[filepath.Dir(filepath.Join(outDir, filepath.FromSlash(rel)))] = true
	}
	if placing {
		for _, e := range sel {
			dirs[filepath.Dir(filepath.Join(outDir, filepath.FromSlash(e.rel)))] = true
		}
	}
	for dir := range dirs {
		n, err := atomicfile.CleanStale(dir)
		sum.RemovedTemps += n
		if err != nil {
			return fmt.Errorf("export to %s: %w", outDir, err)
		}
	}
	for i, e := range sel {
		if placing {
			dst := filepath.Join(outDir, filepath.FromSlash(e.rel))
			if err := placeImage(tx, d.AbsPath(e.item), dst, mode); err != nil {
				return fmt.Errorf("export %s: %w", e.item.Path, err)
			}
			sum.ImagesPlaced++
		}
		if onProgress != nil {
			onProgress(i+1, len(sel))
		}
	}
	names := make([]string, 0, len(files))
	for rel := range files {
		names = append(names, rel)
	}
	sort.Strings(names)
	for _, rel := range names {
		abs := filepath.Join(outDir, filepath.FromSlash(rel))
		if err := tx.mkdirAll(filepath.Dir(abs)); err != nil {
			return fmt.Errorf("export %s: %w", abs, err)
		}
		if err := tx.prepare(abs); err != nil {
			return fmt.Errorf("export %s: %w", abs, err)
		}
		if _, err := writeAtomic(abs, files[rel]); err != nil {
			return fmt.Errorf("export %s: %w", abs, err)
		}
	}
	for dir := range dirs {
		if err := syncDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("export: sync %s: %w", dir, err)
		}
	}
	return nil
}

// exportDest resolves opts.Out: the folder written into, the COCO / CSV file ("" for the other
// formats), and whether Out named that file rather than a folder.
func exportDest(opts ExportOptions) (outDir, outFile string, named bool, err error) {
	out, err := filepath.Abs(opts.Out)
	if err != nil {
		return "", "", false, fmt.Errorf("export to %s: %w", opts.Out, err)
	}
	outDir = out
	switch opts.Format {
	case ExportCOCO, ExportCSV:
		ext, name := ".json", "captions.json"
		if opts.Format == ExportCSV {
			ext, name = ".csv", "metadata.csv"
		}
		if strings.EqualFold(filepath.Ext(out), ext) {
			return filepath.Dir(out), out, true, nil
		}
		outFile = filepath.Join(out, name)
	}
	return outDir, outFile, false, nil
}

// selectExport picks the items and captions to export and their paths in the output.
// It counts them, and what it leaves out, in sum.
func (d *Dataset) selectExport(opts ExportOptions, inPlace bool, sum *ExportSummary) ([]exported, error) {
	d.mu.Lock()
	items := append([]*Item(nil), d.items...)
	cocoID := map[int]string{}
	for _, s := range d.sources {
		if s.format != FormatCOCO {
			continue
		}
		for ei, i := range s.recItem {
			if _, seen := cocoID[i]; i >= 0 && !seen {
				cocoID[i] = s.coco.images[ei].id
			}
		}
	}
	d.mu.Unlock()
	var sel []exported
	splits := false
	for i, it := range items {
		if opts.Split != SplitNone && it.Split != opts.Split {
			continue
		}
		var caps []Caption
		rejected := 0
		for _, c := range it.Captions {
			switch {
			case c.State == StateRejected && !opts.IncludeRejected:
				rejected++
			case !opts.ApprovedOnly || c.State == StateApproved:
				caps = append(caps, c)
			}
		}
		if opts.ApprovedOnly && len(caps) == 0 {
			continue
		}
		if !opts.IncludeUnreadable {
			if err := d.checkImage(it); err != nil {
				sum.Unreadable = append(sum.Unreadable, fmt.Sprintf("%s (%v)", it.Path, err))
				continue
			}
		}
		sum.Rejected += rejected
		sum.Images++
		sum.Captions += len(caps)
		splits = splits || it.Split != SplitNone
		sel = append(sel, exported{item: it, rel: it.Path, caps: caps, id: cocoID[i]})
	}
	if opts.Format == ExportJSONL && splits && !inPlace {
		// Hugging Face imagefolder layout: train/, validation/, test/ each with a metadata.jsonl.
		seen := map[string]string{}
		for k := range sel {
			e := &sel[k]
			if e.item.Split != SplitNone {
				e.rel = hfSplitFolder(e.item.Split) + "/" + splitFreePath(e.item.Path)
			}
			if other, dup := seen[e.rel]; dup {
				return nil, fmt.Errorf("export: %s and %s would both be written to %s", other, e.item.Path, e.rel)
			}
			seen[e.rel] = e.item.Path
		}
	}
	return sel, nil
}

// hfSplitFolder is the folder name Hugging Face's imagefolder reads as the split.
func hfSplitFolder(s Split) string {
	if s == SplitVal {
		return "validation"
	}
	return string(s)
}

// renderExport renders every caption file of the export, keyed by path relative to outDir.
func renderExport(format ExportFormat, sel []exported, outDir, outFile string, inPlace bool) (map[string][]byte, error) {
	files := map[string][]byte{}
	withProject := !inPlace
	switch format {
	case ExportTxt, ExportCaption:
		ext := "." + string(format)
		rels := make([]string, len(sel))
		for k, e := range sel {
			rels[k] = e.rel
		}
		for k, name := range sidecarNames(rels, ext) {
			if len(sel[k].caps) > 0 {
				files[name] = renderSidecar(captionTexts(sel[k].caps))
			}
		}
		if withProject {
			files[projectRel] = exportProject(FormatSidecar, ext, sel)
		}
	case ExportJSONL:
		byDir := map[string][]exported{}
		for _, e := range sel {
			dir := ""
			if s, ok := splitFolder(e.rel); ok && !inPlace && e.item.Split == s {
				dir, _, _ = strings.Cut(e.rel, "/")
			}
			byDir[dir] = append(byDir[dir], e)
		}
		for dir, es := range byDir {
			list := false
			for _, e := range es {
				list = list || len(e.caps) > 1
			}
			f := &jsonlFile{}
			for _, e := range es {
				f.lines = append(f.lines, newJSONLLine(nameIn(dir, e.rel), "text", captionTexts(e.caps), list))
			}
			files[path.Join(dir, "metadata.jsonl")] = f.render()
		}
		if withProject {
			files[projectRel] = exportProject(FormatJSONL, "", sel)
		}
	case ExportCOCO:
		files[relTo(outDir, outFile)] = renderCOCOExport(sel)
	case ExportCSV:
		f := &csvFile{header: []string{"file_name", "text", "split", "origin", "state"}, fileCol: 0, textCol: 1, splitCol: 2, originCol: 3, stateCol: 4}
		for _, e := range sel {
			if len(e.caps) == 0 {
				f.rows = append(f.rows, csvRow{fields: []string{e.rel, "", string(e.item.Split), "", ""}})
			}
			for _, c := range e.caps {
				f.rows = append(f.rows, csvRow{fields: []string{e.rel, c.Text, string(e.item.Split), string(c.Origin), string(c.State)}})
			}
		}
		files[relTo(outDir, outFile)] = f.render()
	}
	return files, nil
}

func captionTexts(cs []Caption) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Text
	}
	return out
}

func relTo(dir, file string) string {
	r, err := filepath.Rel(dir, file)
	if err != nil {
		return filepath.Base(file)
	}
	return filepath.ToSlash(r)
}

// exportProject is the project.json of an exported folder, with the output's paths. Its splits
// are authoritative, so an image the user took out of every split stays out even in a train/
// folder.
func exportProject(format Format, ext string, sel []exported) []byte {
	items := make([]*Item, len(sel))
	for k, e := range sel {
		items[k] = &Item{Path: e.rel, Captions: e.caps, Split: e.item.Split}
	}
	return newProject(format, ext, "", true, items).render()
}

// renderCOCOExport writes a COCO captions file. Images keep the ids they had in the COCO file the
// dataset was read from (evaluation code joins on them); the others get ids after the largest.
func renderCOCOExport(sel []exported) []byte {
	var kept []string
	used := map[string]bool{}
	for _, e := range sel {
		if e.id != "" && !used[e.id] {
			used[e.id] = true
			kept = append(kept, e.id)
		}
	}
	next := nextCOCOID(kept)
	used = map[string]bool{}
	f := &cocoFile{top: rawObject{
		{"info", jsonValue(map[string]string{"description": "exported by Captune"})},
		{"images", nil}, {"annotations", nil},
	}}
	annID := int64(1)
	for _, e := range sel {
		id := e.id
		if id == "" || used[id] {
			id = string(jsonValue(next))
			next++
		}
		used[id] = true
		obj := rawObject{{"id", json.RawMessage(id)}, {"file_name", jsonString(e.rel)}}
		if e.item.Split != SplitNone {
			obj.set("split", jsonString(string(e.item.Split)))
		}
		f.images = append(f.images, cocoImage{obj: obj, id: id, name: e.rel})
		for _, c := range e.caps {
			a := cocoAnn{obj: rawObject{{"id", jsonValue(annID)}, {"image_id", json.RawMessage(id)}}, imageID: id,
				caption: c.Text, origin: string(c.Origin), state: string(c.State)}
			annID++
			f.anns = append(f.anns, a)
		}
	}
	return f.render()
}

// unreadableMark is why an image could not be read, for the file as it was then.
type unreadableMark struct {
	size   int64
	mtime  time.Time
	reason string
}

// MarkUnreadable records that the image of item i could not be decoded (a captioner found its
// pixels broken behind a valid header), so Export leaves it out until the file changes.
func (d *Dataset) MarkUnreadable(i int, reason string) {
	it := d.Item(i)
	fi, err := os.Stat(d.AbsPath(it))
	if err != nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.unreadable == nil {
		d.unreadable = map[string]unreadableMark{}
	}
	d.unreadable[it.Path] = unreadableMark{size: fi.Size(), mtime: fi.ModTime(), reason: reason}
}

// checkImage reports why the image of it cannot be read: marked so by MarkUnreadable (while the
// file is unchanged), or a header that does not read.
func (d *Dataset) checkImage(it *Item) error {
	p := d.AbsPath(it)
	d.mu.Lock()
	mark, ok := d.unreadable[it.Path]
	d.mu.Unlock()
	if ok {
		if fi, err := os.Stat(p); err == nil && fi.Size() == mark.size && fi.ModTime().Equal(mark.mtime) {
			return errors.New(mark.reason)
		}
	}
	return checkImage(p)
}

// checkImage reports why the file at p does not read as an image Captune can caption: its header
// must name a known format and a size. It reads the header only, not the pixels.
func checkImage(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	cfg, format, err := image.DecodeConfig(bufio.NewReader(f))
	if err != nil {
		return errors.New("not a JPEG, PNG, WebP, GIF, BMP or TIFF image")
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return fmt.Errorf("%s declares %d×%d pixels", format, cfg.Width, cfg.Height)
	}
	return nil
}

// realPathLoose resolves the symlinks of the part of p that exists, so that a folder about to be
// created can still be compared with the dataset root.
func realPathLoose(p string) string {
	rest := ""
	for {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(real, rest)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return filepath.Join(p, rest)
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}

// placeImage puts the image src at dst: a hard link or a copy, written under a temporary name and
// renamed, so an interrupted export never leaves half an image. A file it replaces is kept in tx.
func placeImage(tx *exportTx, src, dst string, mode ImageMode) error {
	real, err := filepath.EvalSymlinks(src)
	if err != nil {
		return err
	}
	sfi, err := os.Stat(real)
	if err != nil {
		return err
	}
	if dfi, err := os.Stat(dst); err == nil && os.SameFile(sfi, dfi) {
		return nil
	}
	if err := tx.mkdirAll(filepath.Dir(dst)); err != nil {
		return err
	}
	if err := tx.prepare(dst); err != nil {
		return err
	}
	if mode == ImagesLink && atomicfile.Link(real, dst) == nil {
		return nil
	}
	return copyFile(real, dst, sfi.Mode().Perm())
}

// copyFile copies src to dst through a temporary file beside dst.
func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return atomicfile.Write(dst, perm, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}
