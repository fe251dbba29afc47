package annotate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// richDataset builds a dataset that exercises every export: sub-folders, two images sharing a
// name, several captions, commas, quotes, line-ending-free unicode, every origin, state and split,
// and an uncaptioned image.
func richDataset(t *testing.T) *Dataset {
	t.Helper()
	dir := t.TempDir()
	img := tinyPNG(t) // every name holds a PNG: readers go by the header, not the extension
	writeTree(t, dir, map[string]string{
		"a.jpg": img, "a.png": img, "b.webp": img, "c.gif": img, "sub/d.jpeg": img, "sub/deeper/e.bmp": img, "f.tiff": img, "g.JPG": img,
	})
	d, _ := openT(t, dir, OpenOptions{Recursive: true})
	// a.jpg a.png b.webp c.gif f.tiff g.JPG sub/d.jpeg sub/deeper/e.bmp
	add := func(i int, text string, o Origin, s State) {
		c, err := d.AddCaption(i, text, o)
		must(t, err)
		must(t, d.SetState(i, c, s))
	}
	add(0, "a red sneaker on a white floor", OriginHuman, StateApproved)
	add(0, `a shoe, "new", on a table`, ModelOrigin("blip-base"), StateUnreviewed)
	add(1, "the png beside a.jpg", OriginImported, StateRejected)
	add(2, "ünïcödé caption ✓ with emoji 🐈", OriginHuman, StateApproved)
	add(3, "a gif, with; punctuation: and\ttab", ModelOrigin("blip-large"), StateApproved)
	add(3, "second caption of the gif", OriginHuman, StateRejected)
	add(3, "third caption of the gif", OriginImported, StateUnreviewed)
	add(5, "a very "+strings.Repeat("long ", 1000)+"caption", OriginHuman, StateApproved)
	add(6, "in a sub-folder", OriginImported, StateApproved)
	add(7, "deeper still", ModelOrigin("finetuned-1"), StateUnreviewed)
	// index 4 (f.tiff) stays uncaptioned.
	must(t, d.SetSplit(0, SplitTrain))
	must(t, d.SetSplit(1, SplitTrain))
	must(t, d.SetSplit(2, SplitVal))
	must(t, d.SetSplit(3, SplitTest))
	must(t, d.SetSplit(5, SplitTrain))
	must(t, d.SetSplit(6, SplitVal))
	must(t, d.Save())
	return d
}

// exportView is an item as a round trip must preserve it: the path without the split folder an
// HF export adds, captions with origin and state, and the split.
func exportView(d *Dataset) []itemView {
	v := view(d.Items())
	for k := range v {
		v[k].Path = splitFreePath(v[k].Path)
	}
	sort.Slice(v, func(a, b int) bool { return v[a].Path < v[b].Path })
	return v
}

// exportOut is where a format is written: folders for all, naming the file for COCO.
func exportOut(dir string, f ExportFormat) string {
	if f == ExportCOCO {
		return filepath.Join(dir, "annotations.json")
	}
	return dir
}

// TestExportRoundTrip exports in every format, reopens, exports that in every format again and
// reopens: every path through two formats must give back the same items.
func TestExportRoundTrip(t *testing.T) {
	src := richDataset(t)
	want := exportView(src)
	first := map[ExportFormat]*Dataset{}
	for _, f := range ExportFormats {
		out := t.TempDir()
		exportT(t, src, ExportOptions{Format: f, Out: exportOut(out, f), IncludeRejected: true, Images: ImagesLink})
		d, rep := openT(t, out, OpenOptions{Recursive: true})
		for _, w := range rep.Warnings {
			// The fixture has a 5 kB caption and two images named a; anything else is a bug.
			if w.Kind != WarnLongCaption && w.Kind != WarnDuplicate {
				t.Errorf("%s: reopening the export warns: %v", f, w)
			}
		}
		if df := diff(want, exportView(d)); df != "" {
			t.Errorf("%s round trip %s", f, df)
		}
		first[f] = d
	}
	table := "round trip (rows: first format, columns: second format)\n" + fmt.Sprintf("%-8s", "")
	for _, g := range ExportFormats {
		table += fmt.Sprintf(" %-8s", g)
	}
	table += "\n"
	for _, f := range ExportFormats {
		table += fmt.Sprintf("%-8s", f)
		for _, g := range ExportFormats {
			out := t.TempDir()
			exportT(t, first[f], ExportOptions{Format: g, Out: exportOut(out, g), IncludeRejected: true, Images: ImagesLink})
			d, _ := openT(t, out, OpenOptions{Recursive: true})
			cell := "same"
			if df := diff(want, exportView(d)); df != "" {
				t.Errorf("%s then %s %s", f, g, df)
				cell = "DIFFERS"
			}
			table += fmt.Sprintf(" %-8s", cell)
		}
		table += "\n"
	}
	t.Log(table)
}

func TestExportSelections(t *testing.T) {
	src := richDataset(t)
	all := exportView(src)
	approved := func(v []itemView, split Split) []itemView {
		var out []itemView
		for _, it := range v {
			if split != SplitNone && it.Split != split {
				continue
			}
			var caps []Caption
			for _, c := range it.Captions {
				if c.State == StateApproved {
					caps = append(caps, c)
				}
			}
			if len(caps) > 0 {
				it.Captions = caps
				out = append(out, it)
			}
		}
		return out
	}
	ofSplit := func(v []itemView, split Split) []itemView {
		var out []itemView
		for _, it := range v {
			if it.Split == split {
				out = append(out, it)
			}
		}
		return out
	}
	for _, f := range ExportFormats {
		for _, tt := range []struct {
			name string
			opts ExportOptions
			want []itemView
		}{
			{"approved only", ExportOptions{ApprovedOnly: true}, approved(all, SplitNone)},
			{"split train", ExportOptions{Split: SplitTrain}, ofSplit(all, SplitTrain)},
			{"approved val", ExportOptions{ApprovedOnly: true, Split: SplitVal}, approved(all, SplitVal)},
		} {
			out := t.TempDir()
			opts := tt.opts
			opts.Format, opts.Out, opts.IncludeRejected, opts.Images = f, exportOut(out, f), true, ImagesLink
			exportT(t, src, opts)
			d, _ := openT(t, out, OpenOptions{Recursive: true})
			if df := diff(tt.want, exportView(d)); df != "" {
				t.Errorf("%s %s %s", f, tt.name, df)
			}
		}
	}
}

func TestExportLayout(t *testing.T) {
	src := richDataset(t)
	out := t.TempDir()
	var progress []int
	exportT(t, src, ExportOptions{Format: ExportJSONL, Out: out, IncludeRejected: true, OnProgress: func(done, total int) {
		if total != 8 {
			t.Errorf("total %d, want 8", total)
		}
		progress = append(progress, done)
	}})
	if len(progress) != 8 || progress[7] != 8 {
		t.Errorf("progress %v", progress)
	}
	// Hugging Face imagefolder layout, with the split folders HF reads.
	for _, p := range []string{"train/metadata.jsonl", "train/a.jpg", "train/a.png", "validation/b.webp", "validation/sub/d.jpeg",
		"test/c.gif", "metadata.jsonl", "f.tiff", "sub/deeper/e.bmp", ".captune/project.json"} {
		if _, err := os.Stat(filepath.Join(out, p)); err != nil {
			t.Errorf("missing %s: %v", p, err)
		}
	}
	// Hard links by default: no second copy of the image.
	a, _ := os.Stat(filepath.Join(src.Root(), "a.jpg"))
	b, _ := os.Stat(filepath.Join(out, "train", "a.jpg"))
	if !os.SameFile(a, b) {
		t.Error("train/a.jpg is not a hard link of the source image")
	}
	// A caption list in every line as soon as one image has several captions (HF needs one type).
	got := readFileT(t, filepath.Join(out, "test", "metadata.jsonl"))
	if want := `{"file_name":"c.gif","text":["a gif, with; punctuation: and` + "\\t" + `tab","second caption of the gif","third caption of the gif"]}` + "\n"; got != want {
		t.Errorf("test/metadata.jsonl:\n%s\nwant:\n%s", got, want)
	}
	// Copies, and captions only.
	out2 := t.TempDir()
	exportT(t, src, ExportOptions{Format: ExportTxt, Out: out2, Images: ImagesCopy, IncludeRejected: true})
	c, _ := os.Stat(filepath.Join(out2, "a.jpg"))
	if os.SameFile(a, c) {
		t.Error("copy mode made a link")
	}
	if got := readFileT(t, filepath.Join(out2, "a.png.txt")); got != "the png beside a.jpg" {
		t.Errorf("a.png.txt = %q", got)
	}
	out3 := t.TempDir()
	exportT(t, src, ExportOptions{Format: ExportCSV, Out: filepath.Join(out3, "captions.csv"), Images: ImagesNone})
	if _, err := os.Stat(filepath.Join(out3, "a.jpg")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("images mode none copied images: %v", err)
	}
	csv := readFileT(t, filepath.Join(out3, "captions.csv"))
	if !strings.HasPrefix(csv, "file_name,text,split,origin,state\na.jpg,a red sneaker on a white floor,train,human,approved\na.jpg,\"a shoe, \"\"new\"\", on a table\",train,model:blip-base,unreviewed\n") {
		t.Errorf("captions.csv:\n%s", csv)
	}
}

func TestExportRefusals(t *testing.T) {
	src := richDataset(t)
	tests := []struct {
		name string
		opts ExportOptions
	}{
		{"unknown format", ExportOptions{Format: "xml", Out: t.TempDir()}},
		{"no destination", ExportOptions{Format: ExportTxt}},
		{"folder inside the dataset", ExportOptions{Format: ExportJSONL, Out: filepath.Join(src.Root(), "export")}},
		{"own caption files", ExportOptions{Format: ExportTxt, Out: src.Root()}},
		{"bad image mode", ExportOptions{Format: ExportTxt, Out: t.TempDir(), Images: "symlink"}},
		{"bad split", ExportOptions{Format: ExportTxt, Out: t.TempDir(), Split: "dev"}},
	}
	for _, tt := range tests {
		if _, err := Export(src, tt.opts); err == nil {
			t.Errorf("%s: exported", tt.name)
		}
	}
	if got := readFileT(t, filepath.Join(src.Root(), "a.txt")); got != "a red sneaker on a white floor\na shoe, \"new\", on a table" {
		t.Errorf("a refused export changed a.txt: %q", got)
	}
	// Into the dataset folder itself, in a format it does not use: allowed, no image copies.
	exportT(t, src, ExportOptions{Format: ExportCaption, Out: src.Root()})
	if got := readFileT(t, filepath.Join(src.Root(), "a.caption")); !strings.HasPrefix(got, "a red sneaker") {
		t.Errorf("a.caption = %q", got)
	}
}
