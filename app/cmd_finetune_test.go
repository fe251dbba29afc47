package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/captune/captune/finetune/synth"
	"github.com/captune/captune/inference"
)

// TestFinetuneLoraFlags runs captune finetune --method lora as a user does: a short run that
// writes the adapter (and the merged model), its estimate, and bad LoRA settings refused with a
// message naming them before anything is written.
func TestFinetuneLoraFlags(t *testing.T) {
	model := tinyModel(t)
	data := filepath.Join(t.TempDir(), "data")
	if err := synth.WriteDataset(context.Background(), data, synth.Config{Variant: synth.VariantBase, Seed: 1, Size: 32}, 8, synth.FormatSidecar, nil); err != nil {
		t.Fatal(err)
	}
	run := []string{"--method", "lora", "--max-steps", "2", "--batch-size", "4", "--no-estimate", "--lr", "1e-2"}
	tests := []struct {
		name    string
		args    []string
		code    int
		stdout  []string // substrings, in order
		stderr  []string
		files   []string // in the output folder
		targets []string // the adapter's target_modules
	}{
		{"lora run, merged", append(run, "--lora-rank", "4", "--lora-targets", " query , value,intermediate", "--merge"), 0,
			[]string{"fine-tuned 2 steps", "LoRA adapter (", ") written to ", "merged model (base with the adapter merged in) written to "}, nil,
			[]string{inference.AdapterConfigFile, inference.AdapterWeightsFile, "merged/config.json", "merged/model.safetensors", "merged/tokenizer.json"},
			[]string{"query", "value", "intermediate.dense"}},
		{"lora alpha follows the rank", append(run, "--lora-rank", "4"), 0, []string{"fine-tuned 2 steps"}, nil,
			[]string{inference.AdapterConfigFile}, []string{"query", "value"}},
		{"lora run", run, 0, []string{"fine-tuned 2 steps", "LoRA adapter ("}, nil,
			[]string{inference.AdapterConfigFile, inference.AdapterWeightsFile}, []string{"query", "value"}},
		{"lora estimate", []string{"--method", "lora", "--estimate"}, 0, []string{"estimate: ", "with LoRA (full fine-tuning ≈ "},
			[]string{"LoRA: learning rate ", "10 times full fine-tuning's "}, nil, nil},
		{"unknown method", []string{"--method", "qlora"}, 2, nil, []string{`method "qlora": want full or lora`}, nil, nil},
		{"rank 0", []string{"--method", "lora", "--lora-rank", "0"}, 2, nil, []string{"LoRA rank 0: want 1 or more"}, nil, nil},
		{"rank above a layer", []string{"--method", "lora", "--lora-rank", "64"}, 2, nil, []string{"lora rank 64: larger than layer"}, nil, nil},
		{"alpha", []string{"--method", "lora", "--lora-alpha", "-1"}, 2, nil, []string{"LoRA alpha -1: want a positive number"}, nil, nil},
		{"dropout", []string{"--method", "lora", "--lora-dropout", "1"}, 2, nil, []string{"LoRA dropout 1: want 0 or more and less than 1"}, nil, nil},
		{"unknown target", []string{"--method", "lora", "--lora-targets", "query,qurey"}, 2, nil, []string{`lora target "qurey": matches no Linear layer`}, nil, nil},
		{"no targets", []string{"--method", "lora", "--lora-targets", ","}, 2, nil, []string{"no LoRA targets"}, nil, nil},
		{"lora flags on a full run", []string{"--lora-rank", "8", "--merge"}, 2, nil, []string{"--lora-rank, --merge: only with --method lora"}, nil, nil},
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
			if _, err := os.Stat(out); len(tc.files) == 0 && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("output folder written (stat err %v)", err)
			}
			for _, f := range tc.files {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Errorf("output folder lacks %s: %v", f, err)
				}
			}
			if tc.targets == nil {
				return
			}
			lc, err := inference.ReadLoraConfig(out)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(lc.TargetModules.List, ","); got != strings.Join(tc.targets, ",") {
				t.Errorf("target_modules %s, want %v", got, tc.targets)
			}
			if abs, _ := filepath.Abs(model); lc.BaseModel != abs {
				t.Errorf("base_model_name_or_path %q, want %q", lc.BaseModel, abs)
			}
			if want := float64(lc.R); lc.Alpha != want { // no --lora-alpha: alpha = rank
				t.Errorf("lora_alpha %g with r %d, want %g", lc.Alpha, lc.R, want)
			}
		})
	}
}

// TestFinetuneFromAdapter starts runs from a LoRA run's adapter as the command line offers it:
// --adapter on the base it names, --model BASE --adapter, and the adapter folder as --model. A
// LoRA run trains the adapter further with its rank; export-job refuses an adapter with the way out.
func TestFinetuneFromAdapter(t *testing.T) {
	model := tinyModel(t)
	data := filepath.Join(t.TempDir(), "data")
	if err := synth.WriteDataset(context.Background(), data, synth.Config{Variant: synth.VariantBase, Seed: 1, Size: 32}, 8, synth.FormatSidecar, nil); err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(t.TempDir(), "first")
	run := []string{"--data", data, "--device", "cpu", "--max-steps", "2", "--batch-size", "4", "--no-estimate"}
	if code, _, stderr := runCLI(t, append([]string{"finetune", "--model", model, "--out", first, "--method", "lora", "--lora-rank", "4"}, run...)...); code != 0 {
		t.Fatalf("first run: exit %d: %s", code, stderr)
	}
	tests := []struct {
		name  string
		args  []string
		code  int
		rank  int64 // the result's adapter rank (0: a full model)
		inErr string
	}{
		{"--adapter on its own base", []string{"finetune", "--adapter", first, "--method", "lora"}, 0, 4, ""},
		{"--model BASE --adapter", []string{"finetune", "--model", model, "--adapter", first, "--method", "lora"}, 0, 4, ""},
		{"--model ADAPTER", []string{"finetune", "--model", first, "--method", "lora"}, 0, 4, ""},
		{"full run merges it", []string{"finetune", "--adapter", first}, 0, 0, ""},
		{"not an adapter", []string{"finetune", "--adapter", data}, 1, 0, "no adapter_config.json"},
		{"export-job", []string{"export-job", "--adapter", first}, 1, 0, "merge it first"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			code, _, stderr := runCLI(t, append(append(tc.args, "--out", out), run...)...)
			if code != tc.code || !strings.Contains(stderr, tc.inErr) {
				t.Fatalf("exit %d, want %d; stderr %s", code, tc.code, stderr)
			}
			if code != 0 {
				return
			}
			lc, err := inference.ReadLoraConfig(out)
			switch {
			case tc.rank == 0 && err == nil:
				t.Errorf("a full run wrote an adapter")
			case tc.rank > 0 && (err != nil || lc.R != tc.rank):
				t.Errorf("adapter %+v, %v; want rank %d", lc, err, tc.rank)
			}
		})
	}
}
