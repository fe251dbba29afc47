package app

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportCommand exports the dataset of writeDataset in every format and checks, with
// captune stats, that the result opens with the same counts.
func TestExportCommand(t *testing.T) {
	src := writeDataset(t)
	var want statsOutput
	var stdout, stderr bytes.Buffer
	if code := run([]string{"stats", "--data", src, "--json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("stats: exit %d: %s", code, stderr.String())
	}
	json.Unmarshal(stdout.Bytes(), &want)
	tests := []struct {
		format, out string
		extra       []string
		images      int
		captions    int
		file        string // a file the export must have written
	}{
		{"txt", "", nil, 4, 4, "b.txt"},
		{"caption", "", nil, 4, 4, "b.caption"},
		{"jsonl", "", nil, 4, 4, "train/metadata.jsonl"},
		{"coco", "captions.json", nil, 4, 4, "captions.json"},
		{"csv", "", nil, 4, 4, "metadata.csv"},
		{"jsonl", "", []string{"--approved-only"}, 1, 1, "train/metadata.jsonl"},
		{"csv", "", []string{"--split", "val", "--images", "copy"}, 1, 2, "metadata.csv"},
	}
	for _, tt := range tests {
		t.Run(tt.format+strings.Join(tt.extra, ""), func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, tt.out)
			args := append([]string{"export", "--data", src, "--format", tt.format, "--out", out}, tt.extra...)
			var stdout, stderr bytes.Buffer
			if code := run(args, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d; stderr: %s", code, stderr.String())
			}
			if !strings.HasPrefix(stdout.String(), "exported "+itoa(tt.images)+" images and "+itoa(tt.captions)+" captions") {
				t.Errorf("stdout %q", stdout.String())
			}
			if _, err := os.Stat(filepath.Join(dir, tt.file)); err != nil {
				t.Errorf("export did not write %s: %v", tt.file, err)
			}
			stdout.Reset()
			if code := run([]string{"stats", "--data", dir, "--json"}, &stdout, &stderr); code != 0 {
				t.Fatalf("stats of the export: exit %d: %s", code, stderr.String())
			}
			var got statsOutput
			if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Stats.Images != tt.images || got.Stats.Captions != tt.captions {
				t.Errorf("export reopens with %d images and %d captions, want %d and %d", got.Stats.Images, got.Stats.Captions, tt.images, tt.captions)
			}
			if tt.extra == nil {
				// A full export keeps states, origins and splits.
				for _, m := range []struct {
					name      string
					got, want map[string]int
				}{{"origins", got.Stats.ByOrigin, want.Stats.ByOrigin}, {"splits", got.Stats.BySplit, want.Stats.BySplit}} {
					if !equalCounts(m.got, m.want) {
						t.Errorf("%s %v, want %v", m.name, m.got, m.want)
					}
				}
				if got.Stats.ByState["approved"] != 1 || got.Stats.ByState["rejected"] != 1 {
					t.Errorf("states %v", got.Stats.ByState)
				}
			}
		})
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestExportCommandErrors(t *testing.T) {
	src := writeDataset(t)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no format", []string{"export", "--data", src, "--out", t.TempDir()}, 2, "--format and --out are required"},
		{"no data", []string{"export", "--format", "txt", "--out", t.TempDir()}, 2, "--data is required"},
		{"bad format", []string{"export", "--data", src, "--format", "xml", "--out", t.TempDir()}, 2, "unknown export format"},
		{"bad split", []string{"export", "--data", src, "--format", "txt", "--out", t.TempDir(), "--split", "holdout"}, 2, "--split"},
		{"bad images", []string{"export", "--data", src, "--format", "txt", "--out", t.TempDir(), "--images", "symlink"}, 2, "--images"},
		{"inside the dataset", []string{"export", "--data", src, "--format", "jsonl", "--out", filepath.Join(src, "out")}, 1, "inside the dataset"},
		{"own files", []string{"export", "--data", src, "--format", "txt", "--out", src}, 1, "would overwrite the dataset's own"},
		{"help", []string{"export", "--help"}, 0, "Hugging Face imagefolder"},
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
