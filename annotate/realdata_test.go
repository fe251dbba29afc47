package annotate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// sharedCOCO is the folder of real COCO reference captions (magic_result.json) that the real-data
// tests read in place: $CAPTUNE_COCO_SAMPLE, else where the development machines keep it beside the
// checkout. The repository does not hold it; without it these tests skip.
var sharedCOCO = cocoSample(filepath.Join("..", "..", "shared", "data", "coco_captions_sample"))

func cocoSample(fallback string) string {
	if d := os.Getenv("CAPTUNE_COCO_SAMPLE"); d != "" {
		return d
	}
	return fallback
}

type magicEntry struct {
	Split     string   `json:"split"`
	ImageName string   `json:"image_name"`
	Captions  []string `json:"captions"`
}

// TestRealCOCOCaptions builds a COCO-layout dataset (annotations/*.json with bare file names,
// images in val2014/) from the 24,920 real reference captions of the shared sample, opens it,
// and sends part of it through every export format and back.
func TestRealCOCOCaptions(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(sharedCOCO, "magic_result.json"))
	if err != nil {
		t.Skipf("real captions not available (%v): set CAPTUNE_COCO_SAMPLE to a folder holding magic_result.json", err)
	}
	var entries []magicEntry
	if err := json.Unmarshal(data, &entries); err != nil {
		t.Fatal(err)
	}
	if testing.Short() {
		entries = entries[:300]
	}
	dir, want, nCaps := writeCOCODataset(t, entries)
	d, rep := openT(t, dir, OpenOptions{Recursive: true})
	if rep.Source != FormatCOCO || rep.Images != len(entries) || rep.Captions != nCaps || rep.Uncaptioned != 0 || len(rep.Warnings) != 0 {
		t.Fatalf("report: %s; warnings %v", rep.Summary(), rep.Warnings)
	}
	for _, it := range d.Items() {
		if df := diff(want[it.Path], captionTexts(it.Captions)); df != "" {
			t.Fatalf("%s %s", it.Path, df)
		}
	}
	t.Logf("opened %d real COCO images with %d captions", rep.Images, rep.Captions)

	// Round trip through every format, on the first 300 images (exports link or copy images,
	// which is slow on a busy disk and adds nothing the first 300 do not show).
	small, _, _ := writeCOCODataset(t, entries[:min(300, len(entries))])
	d, _ = openT(t, small, OpenOptions{Recursive: true})
	for i := 0; i < d.Len(); i++ {
		if i%5 == 0 {
			must(t, d.SetState(i, 0, StateApproved))
		}
		must(t, d.SetSplit(i, []Split{SplitTrain, SplitVal, SplitTest}[i%3]))
	}
	for _, f := range ExportFormats {
		out := t.TempDir()
		exportT(t, d, ExportOptions{Format: f, Out: exportOut(out, f), IncludeUnreadable: true, Images: ImagesLink})
		back, rep := openT(t, out, OpenOptions{Recursive: true})
		if rep.Images != d.Len() {
			t.Errorf("%s: %d images back, want %d", f, rep.Images, d.Len())
		}
		if df := diff(exportView(d), exportView(back)); df != "" {
			t.Errorf("%s round trip of real captions %s", f, df[:min(len(df), 2000)])
		}
	}
}

// writeCOCODataset writes the entries as a COCO captions dataset: annotations/*.json naming bare
// files, images (not real ones) in val2014/. It returns the folder, each image's captions and the
// number of captions.
func writeCOCODataset(t *testing.T, entries []magicEntry) (string, map[string][]string, int) {
	t.Helper()
	type img struct {
		ID       int    `json:"id"`
		FileName string `json:"file_name"`
	}
	type ann struct {
		ID      int    `json:"id"`
		ImageID int    `json:"image_id"`
		Caption string `json:"caption"`
	}
	var coco struct {
		Images      []img `json:"images"`
		Annotations []ann `json:"annotations"`
	}
	files := map[string]string{}
	want := map[string][]string{}
	nCaps := 0
	for _, e := range entries {
		var id int
		if _, err := fmt.Sscanf(e.ImageName, "COCO_val2014_%d.jpg", &id); err != nil {
			t.Fatalf("image name %q: %v", e.ImageName, err)
		}
		files["val2014/"+e.ImageName] = ""
		coco.Images = append(coco.Images, img{id, e.ImageName})
		for _, c := range e.Captions {
			nCaps++
			coco.Annotations = append(coco.Annotations, ann{nCaps, id, c})
		}
		want["val2014/"+e.ImageName] = e.Captions
	}
	b, _ := json.Marshal(coco)
	files["annotations/captions_val2014_sample.json"] = string(b)
	dir := t.TempDir()
	writeTree(t, dir, files)
	return dir, want, nCaps
}
