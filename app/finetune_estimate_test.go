package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/captune/captune/finetune/synth"
)

// TestFinetuneEstimate runs captune finetune as a user does, with --estimate (a measured estimate,
// nothing written), before a real run (the estimate first, then training) and with --no-estimate.
func TestFinetuneEstimate(t *testing.T) {
	model := tinyModel(t)
	data := filepath.Join(t.TempDir(), "data")
	if err := synth.WriteDataset(context.Background(), data, synth.Config{Variant: synth.VariantBase, Seed: 1, Size: 32}, 12, synth.FormatSidecar, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     []string // substrings, in order
		stderr     []string
		notStderr  string
		outCreated bool
	}{
		{"estimate only", []string{"--estimate"}, 0,
			[]string{"estimate: ", " steps × ", "memory ≈ ", "(measured on 3 real steps)", "\nhint: Training only the text decoder (--freeze-vision) takes about ", "with its image features cached in "}, nil, "", false},
		{"estimate only, vision frozen", []string{"--estimate", "--freeze-vision"}, 0, []string{"estimate: ", " steps × ", "(+ caching ", " image features: ~"}, nil, "", false},
		{"estimate before training", []string{"--max-steps", "2", "--batch-size", "4"}, 0,
			[]string{"fine-tuned 2 steps"}, []string{"estimate: 2 steps × ", "hint: ", "step 2/2"}, "", true},
		{"no estimate", []string{"--max-steps", "2", "--batch-size", "4", "--no-estimate"}, 0, []string{"fine-tuned 2 steps"}, nil, " steps × ", true},
		{"both flags", []string{"--estimate", "--no-estimate"}, 2, nil, []string{"exclude each other"}, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			args := append([]string{"finetune", "--model", model, "--data", data, "--out", out, "--device", "cpu"}, tc.args...)
			code, stdout, stderr := runCLI(t, args...)
			if code != tc.code {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			assertInOrder(t, "stdout", stdout, tc.stdout)
			assertInOrder(t, "stderr", stderr, tc.stderr)
			if tc.notStderr != "" && strings.Contains(stderr, tc.notStderr) {
				t.Errorf("stderr has %q:\n%s", tc.notStderr, stderr)
			}
			if _, err := os.Stat(out); tc.outCreated == errors.Is(err, os.ErrNotExist) {
				t.Errorf("output folder: stat err %v, want created %v", err, tc.outCreated)
			}
		})
	}
}

func assertInOrder(t *testing.T, name, text string, want []string) {
	t.Helper()
	rest := text
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("%s lacks %q (after the earlier parts):\n%s", name, w, text)
			return
		}
		rest = rest[i+len(w):]
	}
}
