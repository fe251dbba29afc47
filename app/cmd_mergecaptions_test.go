package app

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/captune/captune/annotate"
)

// captionLines parses captune caption --json output.
func captionLines(t *testing.T, out string) []captionRow {
	t.Helper()
	var rows []captionRow
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var r captionRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%q: %v", sc.Text(), err)
		}
		rows = append(rows, r)
	}
	return rows
}

// A user captions a folder in 3 shards, as 3 machines would: every image is captioned exactly
// once, and the shards' outputs merged into the dataset fill the uncaptioned images with model
// captions while the captions people wrote stay as they were.
func TestCaptionShardsAndMerge(t *testing.T) {
	model := tinyModel(t)
	data := jobDataset(t, 12)
	var people []string
	for i, name := range []string{"synth_00000", "synth_00001", "synth_00002", "synth_00003", "synth_00004", "synth_00005", "synth_00006", "synth_00007"} {
		if i < 4 {
			people = append(people, name+".png")
			continue
		}
		if err := os.Remove(filepath.Join(data, name+".txt")); err != nil {
			t.Fatal(err)
		}
	}
	outDir := t.TempDir()
	var files, seen []string
	for _, shard := range []string{"1/3", "2/3", "3/3"} {
		code, stdout, stderr := runCLI(t, "caption", "--model", model, "--device", "cpu", "--json", "--shard", shard, data)
		if code != 0 {
			t.Fatalf("shard %s: exit %d: %s", shard, code, stderr)
		}
		if !strings.Contains(stderr, "shard "+shard+": ") {
			t.Errorf("shard %s: stderr does not say how many images it holds:\n%s", shard, stderr)
		}
		for _, r := range captionLines(t, stdout) {
			seen = append(seen, r.Rel)
			if r.Model != "tiny-a" || r.File != filepath.Join(data, r.Rel) {
				t.Errorf("shard %s: line %+v: want model tiny-a and file %s", shard, r, filepath.Join(data, r.Rel))
			}
		}
		f := filepath.Join(outDir, "shard"+shard[:1]+".jsonl")
		if err := os.WriteFile(f, []byte(stdout), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	slices.Sort(seen)
	if len(seen) != 12 || len(slices.Compact(slices.Clone(seen))) != 12 {
		t.Fatalf("the 3 shards captioned %v: want each of the 12 images once", seen)
	}

	before, _, err := annotate.Open(data, annotate.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]annotate.Caption{}
	for _, it := range before.Items() {
		want[it.Path] = it.Captions
	}
	before.Close()
	code, stdout, stderr := runCLI(t, append([]string{"merge-captions", "--data", data}, files...)...)
	if code != 0 {
		t.Fatalf("merge-captions: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "12 captions read: 4 added, 0 replaced an unreviewed caption of the same model, 0 unchanged, 8 left alone") {
		t.Errorf("merge-captions says:\n%s", stdout)
	}
	ds, _, err := annotate.Open(data, annotate.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	for _, it := range ds.Items() {
		switch {
		case len(want[it.Path]) > 0:
			if !slices.Equal(it.Captions, want[it.Path]) {
				t.Errorf("%s: a person's captions %v became %v", it.Path, want[it.Path], it.Captions)
			}
		case len(it.Captions) != 1 || it.Captions[0].Origin != annotate.ModelOrigin("tiny-a") || it.Captions[0].State != annotate.StateUnreviewed:
			t.Errorf("%s: captions %v, want one unreviewed caption by model:tiny-a", it.Path, it.Captions)
		}
	}
	if code, stdout, _ := runCLI(t, append([]string{"merge-captions", "--data", data}, files...)...); code != 0 || !strings.Contains(stdout, "0 added, 0 replaced an unreviewed caption of the same model, 4 unchanged") {
		t.Errorf("merging again: exit %d, %s", code, stdout)
	}
}

// A run killed mid-output resumes with --skip-done: the partial last line is cut, the images the
// output has are skipped, and the rest appended make the output whole.
func TestCaptionSkipDone(t *testing.T) {
	model := tinyModel(t)
	data := jobDataset(t, 6)
	code, full, stderr := runCLI(t, "caption", "--model", model, "--device", "cpu", "--json", data)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.SplitAfter(full, "\n")
	out := filepath.Join(t.TempDir(), "out.jsonl")
	partial := lines[0] + lines[1] + lines[2][:10]
	if err := os.WriteFile(out, []byte(partial), 0o644); err != nil {
		t.Fatal(err)
	}
	code, rest, stderr := runCLI(t, "caption", "--model", model, "--device", "cpu", "--json", "--skip-done", out, data)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"removed a partial last line", "2 images already captioned, 4 to go"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	got, _ := os.ReadFile(out)
	if string(got)+rest != full {
		t.Errorf("resumed output differs from an uninterrupted run:\n%s\nwant\n%s", string(got)+rest, full)
	}
}

// Shard arguments out of range are refused before the model loads.
func TestCaptionShardRefused(t *testing.T) {
	data := jobDataset(t, 2)
	for _, shard := range []string{"0/3", "4/3", "1/0", "two/3", "3"} {
		code, _, stderr := runCLI(t, "caption", "--model", "/nonexistent", "--shard", shard, data)
		if code != 2 || !strings.Contains(stderr, "--shard: bad shard") {
			t.Errorf("--shard %s: exit %d, stderr %q; want exit 2 naming the bad shard", shard, code, stderr)
		}
	}
	code, _, stderr := runCLI(t, "merge-captions", "--data", data)
	if code != 2 {
		t.Errorf("merge-captions without files: exit %d, %s", code, stderr)
	}
}

// parseCaptionLine never panics on what a user hands merge-captions, and keeps only lines that
// name a file.
func FuzzParseCaptionLine(f *testing.F) {
	for _, s := range []string{`{"file":"a.jpg","caption":"x","model":"m"}`, "a.jpg\ta cat", "{", "\t", `{"file":""}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if row, ok := parseCaptionLine(line); ok && row.File == "" {
			t.Fatalf("%q: accepted a line without a file", line)
		}
	})
}
