package app

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeDataset writes a small dataset: three images with sidecars (one with two captions), one
// without, an orphan caption and a malformed project file entry-free project.
func writeDataset(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"a.jpg":      "not an image",
		"a.txt":      "a red sneaker on a white floor",
		"b.png":      "not an image",
		"b.txt":      "a shoe on a table\na shoe, seen from above",
		"sub/c.webp": "not an image",
		"sub/c.txt":  "a cat",
		"d.jpg":      "not an image",
		"orphan.txt": "no image for this one",
		".captune/project.json": `{"version":1,"format":"sidecar","sidecar_ext":".txt","splits_assigned":true,"items":{
			"a.jpg":{"split":"train","captions":[{"text":"a red sneaker on a white floor","origin":"human","state":"approved"}]},
			"b.png":{"split":"val","captions":[{"text":"a shoe on a table","origin":"model:blip-base","state":"rejected"}]}}}`,
	}
	for rel, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestStatsCommand(t *testing.T) {
	dir := writeDataset(t)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"stats", "--data", dir, "--json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, stderr.String())
	}
	var got statsOutput
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout.String())
	}
	s, r := got.Stats, got.Report
	checks := []struct {
		name      string
		got, want int
	}{
		{"images", s.Images, 4},
		{"captioned", s.Captioned, 3},
		{"uncaptioned", s.Uncaptioned, 1},
		{"captions", s.Captions, 4},
		{"approved", s.ByState["approved"], 1},
		{"rejected", s.ByState["rejected"], 1},
		{"unreviewed", s.ByState["unreviewed"], 2},
		{"human", s.ByOrigin["human"], 1},
		{"model", s.ByOrigin["model:blip-base"], 1},
		{"imported", s.ByOrigin["imported"], 2},
		{"train", s.BySplit["train"], 1},
		{"val", s.BySplit["val"], 1},
		{"none", s.BySplit["none"], 2},
		{"orphans", r.Orphans, 1},
		{"warnings", len(r.Warnings), 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if r.Source != "sidecar" || got.Root != dir {
		t.Errorf("source %q root %q", r.Source, got.Root)
	}

	stdout.Reset()
	if code := run([]string{"stats", "--data", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, stderr.String())
	}
	for _, line := range []string{
		"source      sidecar (.txt)",
		"images      4 (3 captioned, 1 uncaptioned)",
		"captions    4: approved 1, unreviewed 2, rejected 1",
		"origins     human 1, imported 2, model:blip-base 1",
		"splits      train 1, val 1, none 2",
		"to review   2 images with unreviewed captions",
		"orphans     1 captions without an image",
		"  orphan: orphan.txt: caption file without an image",
	} {
		if !strings.Contains(stdout.String(), line+"\n") {
			t.Errorf("text output lacks %q:\n%s", line, stdout.String())
		}
	}
	// Not recursive: sub/c.webp is not counted.
	stdout.Reset()
	run([]string{"stats", "--data", dir, "--recursive=false", "--json"}, &stdout, &stderr)
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil || got.Stats.Images != 3 {
		t.Errorf("--recursive=false: %d images (%v), want 3", got.Stats.Images, err)
	}
}

func TestStatsCommandErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no data", []string{"stats"}, 2, "--data is required"},
		{"missing folder", []string{"stats", "--data", filepath.Join(t.TempDir(), "nope")}, 1, "no such file"},
		{"bad source", []string{"stats", "--data", t.TempDir(), "--source", "yaml"}, 2, "unknown caption format"},
		{"stray argument", []string{"stats", "--data", t.TempDir(), "extra"}, 2, "unexpected argument"},
		{"help", []string{"stats", "--help"}, 0, "orphan captions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, &stdout, &stderr); code != tt.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.want)
			}
		})
	}
}
