package app

import (
	"bufio"
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/captune/captune/finetune/synth"
)

func TestSynthCommand(t *testing.T) {
	tests := []struct {
		name       string
		format     string
		wantTxt    int
		wantJSONL  bool
		extraFlags []string
	}{
		{"sidecar by default", "", 7, false, nil},
		{"jsonl", "jsonl", 0, true, []string{"--variant", "textures", "--size", "64"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "synth")
			args := append([]string{"synth", "--out", dir, "--n", "7", "--seed", "3"}, tt.extraFlags...)
			if tt.format != "" {
				args = append(args, "--format", tt.format)
			}
			var stdout, stderr bytes.Buffer
			if code := run(args, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d; stderr: %s", code, stderr.String())
			}
			if !strings.Contains(stdout.String(), "wrote 7 ") || !strings.Contains(stderr.String(), "synth 7/7 images") {
				t.Errorf("stdout %q, stderr %q: want a summary and a finished progress line", stdout.String(), stderr.String())
			}
			pngs, _ := filepath.Glob(filepath.Join(dir, "*.png"))
			txts, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
			if len(pngs) != 7 || len(txts) != tt.wantTxt {
				t.Fatalf("%d images and %d .txt files, want 7 and %d", len(pngs), len(txts), tt.wantTxt)
			}
			for _, p := range pngs {
				f, err := os.Open(p)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := png.Decode(f); err != nil {
					t.Errorf("%s: %v", p, err)
				}
				f.Close()
			}
			for _, p := range txts {
				b, err := os.ReadFile(p)
				if err != nil || len(strings.TrimSpace(string(b))) == 0 {
					t.Errorf("%s: empty caption (%v)", p, err)
				}
			}
			meta, err := os.Open(filepath.Join(dir, synth.MetadataFile))
			if !tt.wantJSONL {
				if err == nil {
					meta.Close()
					t.Errorf("sidecar format also wrote %s", synth.MetadataFile)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer meta.Close()
			lines := 0
			sc := bufio.NewScanner(meta)
			for sc.Scan() {
				var rec struct {
					FileName string `json:"file_name"`
					Text     string `json:"text"`
				}
				if err := json.Unmarshal(sc.Bytes(), &rec); err != nil || rec.Text == "" {
					t.Errorf("line %d %q: %v", lines+1, sc.Text(), err)
				}
				if _, err := os.Stat(filepath.Join(dir, rec.FileName)); err != nil {
					t.Errorf("line %d names a missing image: %v", lines+1, err)
				}
				lines++
			}
			if lines != 7 {
				t.Errorf("%s has %d lines, want 7", synth.MetadataFile, lines)
			}
		})
	}
}

func TestSynthCommandErrors(t *testing.T) {
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"help", []string{"--help"}, 0, "Usage: captune synth --out DIR"},
		{"no out", []string{"--n", "3"}, 2, "--out is required"},
		{"zero images", []string{"--out", "D", "--n", "0"}, 2, "--n 0"},
		{"bad variant", []string{"--out", "D", "--variant", "plaid"}, 2, `variant "plaid"`},
		{"bad format", []string{"--out", "D", "--format", "csv"}, 2, `--format "csv"`},
		{"bad size", []string{"--out", "D", "--size", "4"}, 2, "size 4"},
		{"stray argument", []string{"--out", "D", "extra"}, 2, `unexpected argument "extra"`},
		{"folder not empty", []string{"--out", full, "--n", "2"}, 1, "output folder is not empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, a := range tt.args {
				if a == "D" {
					tt.args[k] = filepath.Join(t.TempDir(), "out")
				}
			}
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"synth"}, tt.args...), &stdout, &stderr)
			if code != tt.wantCode || !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr.String(), tt.wantCode, tt.wantErr)
			}
		})
	}
}
