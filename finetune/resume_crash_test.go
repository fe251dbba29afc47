package finetune

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/captune/captune/finetune/synth"
	"github.com/captune/captune/inference"
	"github.com/captune/captune/inference/safetensors"
)

// resumeChildSpec names the file with a killChild spec: the crash-resume test re-runs this test
// binary as a child that resumes training and kills itself with SIGKILL at one point.
const resumeChildSpec = "CAPTUNE_FINETUNE_RESUME_CHILD"

// killPoint is where a child kills itself: at the Progress of Phase and Step ("train": the step
// is done and not yet logged; "eval": an epoch ended, before its validation and checkpoint), or
// with Phase "write" while the checkpoint of Step is half written.
type killPoint struct {
	Phase string
	Step  int
}

func (k killPoint) String() string { return fmt.Sprintf("%s@%d", k.Phase, k.Step) }

type killChild struct {
	Config Config
	Data   Data
	Kill   killPoint
}

// resumeCrashChild resumes the run of spec and kills itself at spec.Kill; it exits 3 when the
// run ended before reaching that point.
func resumeCrashChild(specFile string) int {
	var spec killChild
	raw, err := os.ReadFile(specFile)
	if err == nil {
		err = json.Unmarshal(raw, &spec)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	die := func() { syscall.Kill(os.Getpid(), syscall.SIGKILL) }
	if spec.Kill.Phase == "write" {
		checkpointHook = func(step int) {
			if step == spec.Kill.Step {
				die()
			}
		}
	}
	_, err = Run(context.Background(), spec.Config, spec.Data, func(p Progress) {
		if string(p.Phase) == spec.Kill.Phase && p.Step == spec.Kill.Step {
			die()
		}
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 3
}

// TestResumeAfterKillIsTheSameRun kills training processes with SIGKILL at steps between
// checkpoints, at epoch ends and while a checkpoint is half written, resumes each time as
// captune finetune --resume does (without the training settings once a checkpoint holds them),
// and compares with the run that was never killed: every step's
// loss and every validation loss within 1e-5, each step logged once in train_log.jsonl, the
// final weights within 1e-6, no half-written checkpoint taken for a complete one and no
// temporary file left.
func TestResumeAfterKillIsTheSameRun(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL is a unix signal")
	}
	all := synthData(t, 11, synth.VariantBase, 9)
	// 9 training samples: batches of 2 leave a last batch of 1, steps of 2×2 a last step of 1.
	data := Data{Train: all[:9], Val: all[9:]}
	tests := []struct {
		name   string
		change func(*Config)
		kills  []killPoint
	}{
		// 5 steps an epoch, checkpoints at 3, 5, 6, 9, 10, 12, 15.
		{"batch 2, augment", func(c *Config) { c.BatchSize, c.Epochs, c.CheckpointEvery, c.Augment = 2, 3, 3, true },
			[]killPoint{{"write", 3}, {"train", 5}, {"train", 8}, {"eval", 10}, {"write", 12}}},
		// 3 steps an epoch, checkpoints at 2, 3, 4, 6, 8, 9, 10, 12.
		{"grad accum 2, frozen vision", func(c *Config) {
			c.BatchSize, c.GradAccum, c.Epochs, c.CheckpointEvery, c.FreezeVision = 2, 2, 4, 2, true
		}, []killPoint{{"train", 4}, {"write", 8}, {"eval", 9}}},
		// LoRA with adapter dropout (seeded by step) and cached features; checkpoints as the first.
		{"lora, dropout", func(c *Config) {
			c.BatchSize, c.Epochs, c.CheckpointEvery, c.LR = 2, 3, 3, 1e-2
			c.Method, c.LoraRank, c.LoraAlpha, c.LoraDropout = MethodLora, 4, 8, 0.1
		}, []killPoint{{"write", 3}, {"train", 7}, {"eval", 10}}},
	}
	worstLoss, worstWeight, kills := 0.0, 0.0, 0
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := smallConfig(t)
			cfg.MaxSteps, cfg.WarmupSteps, cfg.KeepLast = 0, 3, 1
			tc.change(&cfg)
			want, err := Run(context.Background(), cfg, data, nil)
			if err != nil {
				t.Fatal(err)
			}
			killed := cfg
			killed.OutDir = filepath.Join(t.TempDir(), "killed")
			killed.Resume = true
			// Once a checkpoint exists, resume with no training settings given (the defaults):
			// the run continues with its own.
			bare := DefaultConfig()
			bare.BaseModel, bare.OutDir, bare.Device, bare.Resume = tinyModel, killed.OutDir, "cpu", true
			bare.CheckpointEvery, bare.KeepLast = cfg.CheckpointEvery, cfg.KeepLast
			resumeWith := func() Config {
				if dir, _ := latestCheckpoint(killed.OutDir); dir != "" {
					return bare
				}
				return killed
			}
			for _, k := range tc.kills {
				runUntilKilled(t, resumeWith(), data, k)
				kills++
				assertCheckpointsWhole(t, killed.OutDir, k)
			}
			var resumed []Progress
			got, err := Run(context.Background(), resumeWith(), data, func(p Progress) {
				if p.Phase == "resume" {
					resumed = append(resumed, p)
				}
			})
			if err != nil {
				t.Fatalf("the last resume: %v", err)
			}
			if len(resumed) != 1 {
				t.Fatalf("the last resume reported %d resume progresses, want 1", len(resumed))
			}
			assertHistory(t, resumed[0], readTrainLog(t, cfg.OutDir))
			if !got.Resumed || len(got.Losses) != len(want.Losses) {
				t.Fatalf("the last resume: resumed %v, %d losses, want %d", got.Resumed, len(got.Losses), len(want.Losses))
			}
			d := compareLogs(t, readTrainLog(t, cfg.OutDir), readTrainLog(t, killed.OutDir))
			worstLoss = max(worstLoss, d)
			worstWeight = max(worstWeight, finalWeightDiff(t, cfg, killed.OutDir))
			if left := captuneTemps(t, killed.OutDir); len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
	t.Logf("%d kills (SIGKILL) across %d runs: largest loss difference %.3g, largest final weight difference %.3g", kills, len(tests), worstLoss, worstWeight)
}

// finalWeightDiff compares what cfg's run trained (its model's weights, or a LoRA run's adapter)
// with what the run in killedOut trained, failing above 1e-6, and returns the largest difference.
func finalWeightDiff(t *testing.T, cfg Config, killedOut string) float64 {
	t.Helper()
	weights := "model.safetensors"
	if cfg.lora() {
		weights = inference.AdapterWeightsFile
	}
	w := maxWeightDiff(t, filepath.Join(cfg.OutDir, weights), filepath.Join(killedOut, weights))
	if w > 1e-6 {
		t.Errorf("final weights differ by %.3g > 1e-6", w)
	}
	return w
}

// runUntilKilled runs a resuming child that kills itself at k.
func runUntilKilled(t *testing.T, cfg Config, data Data, k killPoint) {
	t.Helper()
	raw, err := json.Marshal(killChild{Config: cfg, Data: data, Kill: k})
	if err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(t.TempDir(), "spec.json")
	if err := os.WriteFile(spec, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), resumeChildSpec+"="+spec)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("child to be killed at %s: %v %s", k, err, stderr.String())
	}
	if ws, ok := exit.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child to be killed at %s ended otherwise: %v %s", k, err, stderr.String())
	}
}

// assertCheckpointsWhole checks that every checkpoint folder under its final name holds all its
// files: a half-written one exists only under a temporary name, which resuming never reads.
func assertCheckpointsWhole(t *testing.T, out string, k killPoint) {
	t.Helper()
	for _, dir := range checkpointDirs(filepath.Join(out, "checkpoints")) {
		if !allExist(dir, checkpointFiles[0]) && !allExist(dir, checkpointFiles[1]) {
			t.Errorf("after a kill at %s: %s is missing files of %v", k, filepath.Base(dir), checkpointFiles)
		}
		if k.Phase == "write" && filepath.Base(dir) == fmt.Sprintf("step-%06d", k.Step) {
			t.Errorf("after a kill while writing it, %s exists", filepath.Base(dir))
		}
	}
}

// logEntry is one line of train_log.jsonl: a step's loss or an epoch's validation loss.
type logEntry struct {
	Step    int      `json:"step"`
	Loss    *float64 `json:"loss"`
	ValLoss *float64 `json:"val_loss"`
}

func readTrainLog(t *testing.T, dir string) []logEntry {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "train_log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []logEntry
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var e logEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("train_log.jsonl line %q: %v", line, err)
		}
		if e.Loss == nil && e.ValLoss == nil {
			continue // an epoch's validation captions and alarms (watch.go)
		}
		out = append(out, e)
	}
	return out
}

// compareLogs checks that got logs each step and validation once, in want's order, with want's
// losses within 1e-5, and returns the largest difference.
func compareLogs(t *testing.T, want, got []logEntry) float64 {
	t.Helper()
	seen := map[string]bool{}
	for _, e := range got {
		key := fmt.Sprintf("step %d", e.Step)
		if e.ValLoss != nil {
			key = fmt.Sprintf("validation after step %d", e.Step)
		}
		if seen[key] {
			t.Errorf("train_log.jsonl holds %s twice", key)
		}
		seen[key] = true
	}
	if len(got) != len(want) {
		t.Fatalf("train_log.jsonl has %d lines, the uninterrupted run's %d", len(got), len(want))
	}
	worst := 0.0
	for i := range want {
		w, g := want[i], got[i]
		wv, gv := w.Loss, g.Loss
		if w.ValLoss != nil {
			wv, gv = w.ValLoss, g.ValLoss
		}
		if g.Step != w.Step || gv == nil || wv == nil {
			t.Fatalf("train_log.jsonl line %d: %+v, the uninterrupted run's %+v", i+1, g, w)
		}
		d := math.Abs(*gv - *wv)
		worst = max(worst, d)
		if d > 1e-5 {
			t.Errorf("step %d: loss %.7f, the uninterrupted run's %.7f (diff %.2g > 1e-5)", w.Step, *gv, *wv, d)
		}
	}
	return worst
}

// maxWeightDiff returns the largest difference between two fp32 safetensors files' tensors.
func maxWeightDiff(t *testing.T, a, b string) float64 {
	t.Helper()
	fa, err := safetensors.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, err := safetensors.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	if len(fa.Names()) != len(fb.Names()) {
		t.Fatalf("%d tensors, want %d", len(fb.Names()), len(fa.Names()))
	}
	worst := 0.0
	for _, name := range fa.Names() {
		if info, _ := fa.Info(name); info.DType != "F32" {
			continue
		}
		x, err := fa.Bytes(name)
		if err != nil {
			t.Fatal(err)
		}
		y, err := fb.Bytes(name)
		if err != nil || len(x) != len(y) {
			t.Fatalf("%s: %v (%d bytes, want %d)", name, err, len(y), len(x))
		}
		for i := 0; i+4 <= len(x); i += 4 {
			u := math.Float32frombits(binary.LittleEndian.Uint32(x[i:]))
			v := math.Float32frombits(binary.LittleEndian.Uint32(y[i:]))
			worst = max(worst, math.Abs(float64(u)-float64(v)))
		}
	}
	return worst
}

// assertHistory checks that a resumed run reports the losses of the steps it continues after and
// the validation losses up to them as the uninterrupted run logged them, for the window's curve.
func assertHistory(t *testing.T, p Progress, want []logEntry) {
	t.Helper()
	var steps, valSteps []int
	var losses, vals []float64
	for _, e := range want {
		switch {
		case e.Step > p.Step:
		case e.ValLoss != nil:
			valSteps, vals = append(valSteps, e.Step), append(vals, *e.ValLoss)
		default:
			steps, losses = append(steps, e.Step), append(losses, *e.Loss)
		}
	}
	if len(p.History) != len(losses) || len(p.ValSteps) != len(valSteps) || len(p.ValHistory) != len(vals) {
		t.Fatalf("resumed at step %d with %d losses and validations after steps %v, want %d and %v",
			p.Step, len(p.History), p.ValSteps, len(losses), valSteps)
	}
	for i := range losses {
		if math.Abs(p.History[i]-losses[i]) > 1e-5 {
			t.Errorf("resume history: step %d loss %.7f, want %.7f", i+1, p.History[i], losses[i])
		}
	}
	for i := range vals {
		if p.ValSteps[i] != valSteps[i] || math.Abs(p.ValHistory[i]-vals[i]) > 1e-5 {
			t.Errorf("resume history: validation %.7f after step %d, want %.7f after %d", p.ValHistory[i], p.ValSteps[i], vals[i], valSteps[i])
		}
	}
}
