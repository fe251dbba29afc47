package finetune

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/captune/captune/internal/atomicfile"
	"github.com/captune/captune/internal/atomicfile/atomicfiletest"
)

// A run folder after a killed run: its leftovers go (of this version and older ones), the
// checkpoints, the log and a running writer's temporary file and checkpoint folder stay.
func TestRemoveStaleTemps(t *testing.T) {
	dead, live := strconv.Itoa(atomicfiletest.DeadPID(t)), strconv.Itoa(os.Getppid())
	out := t.TempDir()
	gone := []string{
		".model.safetensors" + atomicfile.Marker + dead + "-0a",
		"checkpoints/.step-000003.tmp/.optimizer.safetensors" + atomicfile.Marker + dead + "-1b",
		"checkpoints/.step-000004.tmp/config.json",
		"checkpoints/.step-000006" + atomicfile.Marker + dead + "-3d/model.safetensors",
	}
	kept := []string{
		"train_log.jsonl", "checkpoints/step-000002/model.safetensors",
		".config.json" + atomicfile.Marker + live + "-2c", "checkpoints/.notes.tmp",
		"checkpoints/.step-000009" + atomicfile.Marker + live + "-4e/config.json",
	}
	for _, f := range append(append([]string(nil), gone...), kept...) {
		p := filepath.Join(out, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if n := removeStaleTemps(out); n != 4 {
		t.Errorf("removed %d, want 4 (a temporary file, three half-written checkpoints)", n)
	}
	for _, f := range gone {
		if _, err := os.Stat(filepath.Join(out, filepath.Dir(f))); filepath.Dir(f) != "." && err == nil && filepath.Base(filepath.Dir(f)) != "checkpoints" {
			t.Errorf("%s kept", filepath.Dir(f))
		}
		if _, err := os.Stat(filepath.Join(out, f)); err == nil {
			t.Errorf("%s kept", f)
		}
	}
	for _, f := range kept {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s removed: %v", f, err)
		}
	}
}
