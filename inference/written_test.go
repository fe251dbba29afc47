package inference

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/sugarme/gotch"
)

var writeModel = flag.Bool("write-model", false, "rewrite testdata/models/written from tiny-a-bin (then run scripts/make_fixtures.py --check-written)")

// TestWrittenModelLoadsInTransformers covers the round trip Captune → transformers: a model Captune
// wrote (from a pytorch_model.bin checkpoint, as model.safetensors with its config, tokenizer and
// processor files) was loaded by transformers' from_pretrained with no missing, unexpected or
// mismatched weights, and generated the ids recorded in testdata/parity/written-check.json by
// scripts/make_fixtures.py --check-written; Captune must generate the same ids from it.
func TestWrittenModelLoadsInTransformers(t *testing.T) {
	dir := filepath.Join("testdata", "models", "written")
	if *writeModel {
		c, _, err := LoadCaptioner(filepath.Join("testdata", "models", "tiny-a-bin"), gotch.CPU)
		if err != nil {
			t.Fatal(err)
		}
		os.RemoveAll(dir)
		if err := c.Save(dir); err != nil {
			t.Fatal(err)
		}
		c.Free()
		t.Logf("wrote %s: now run .venv/bin/python scripts/make_fixtures.py --check-written %s", dir, dir)
	}
	data, err := os.ReadFile(filepath.Join("testdata", "parity", "written-check.json"))
	if err != nil {
		t.Fatal(err)
	}
	var check struct {
		Missing    []string   `json:"missing_keys"`
		Unexpected []string   `json:"unexpected_keys"`
		Mismatched [][]string `json:"mismatched_keys"`
		Images     []string   `json:"images"`
		Greedy     [][]int64  `json:"greedy"`
		Beam3      [][]int64  `json:"beam3"`
	}
	if err := json.Unmarshal(data, &check); err != nil {
		t.Fatal(err)
	}
	if len(check.Missing)+len(check.Unexpected)+len(check.Mismatched) > 0 {
		t.Errorf("transformers loading Captune's model: missing %v, unexpected %v, mismatched %v", check.Missing, check.Unexpected, check.Mismatched)
	}
	c, report, err := LoadCaptioner(dir, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Free()
	if len(report.Missing)+len(report.Unexpected) > 0 {
		t.Errorf("Captune reloading its own model: %+v", report)
	}
	var imgs []*RGBImage
	for _, n := range check.Images {
		img, err := LoadImage(filepath.Join("testdata", "images", n))
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	pix, err := c.Pixels(imgs)
	if err != nil {
		t.Fatal(err)
	}
	defer pix.MustDrop()
	for _, tc := range []struct {
		beams int
		want  [][]int64
	}{{1, check.Greedy}, {3, check.Beam3}} {
		o := DefaultDecodeOptions()
		o.NumBeams = tc.beams
		got, err := c.Model.Generate(pix, o)
		if err != nil {
			t.Fatal(err)
		}
		for i := range tc.want {
			if fmt.Sprint(got[i]) != fmt.Sprint(tc.want[i]) {
				t.Errorf("beams %d image %d: Captune %v, transformers %v", tc.beams, i, got[i], tc.want[i])
			}
		}
	}
}
