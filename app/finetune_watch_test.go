package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFinetuneStopOnAlarm fine-tunes the bundled model on a copy of the bundled sample at a learning
// rate far too high, as a user who mistyped it would, with --stop-on-alarm: the CLI prints the
// epoch's caption stats, warns that the captions collapsed naming the remedy, and stops early with
// its checkpoint kept.
func TestFinetuneStopOnAlarm(t *testing.T) {
	if _, err := os.Stat("../assets/model/config.json"); err != nil {
		t.Skipf("no bundled model: %v", err)
	}
	data := filepath.Join(t.TempDir(), "data")
	if err := os.CopyFS(data, os.DirFS("../assets/sample")); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := runCLI(t, "finetune", "--model", "../assets/model", "--data", data, "--out", out, "--device", "cpu",
		"--lr", "0.05", "--epochs", "3", "--warmup", "2", "--no-estimate", "--stop-on-alarm")
	if code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
	}
	assertInOrder(t, "stderr", stderr, []string{"epoch 1: validation loss", "epoch 1 captions: CIDEr-D ", " identical 100% ",
		"warning: epoch 1: ", "same caption", "lower the learning rate", "stopped early by an alarm (--stop-on-alarm)"})
	// The output model is the best epoch by validation CIDEr-D (the default with validation captions).
	assertInOrder(t, "stdout", stdout, []string{"fine-tuned 5 steps", "model written to " + out + " (epoch 1 of 3, best validation CIDEr-D "})
	if strings.Contains(stderr, "epoch 2") {
		t.Errorf("the run went on after the alarm:\n%s", stderr)
	}
	if ckpts, _ := filepath.Glob(filepath.Join(out, "checkpoints", "step-*")); len(ckpts) == 0 {
		t.Errorf("no checkpoint kept in %s", out)
	}
}
