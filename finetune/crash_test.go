package finetune

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sugarme/gotch"

	"github.com/captune/captune/finetune/synth"
	"github.com/captune/captune/inference"
	"github.com/captune/captune/internal/atomicfile"
)

// The training crash test re-runs this test binary as a child that trains until it is killed.
const (
	trainChildOut  = "CAPTUNE_FINETUNE_CRASH_OUT"
	trainChildData = "CAPTUNE_FINETUNE_CRASH_DATA" // a JSON list of Examples
)

func TestMain(m *testing.M) {
	if out := os.Getenv(trainChildOut); out != "" {
		os.Exit(trainCrashChild(out, os.Getenv(trainChildData)))
	}
	if spec := os.Getenv(resumeChildSpec); spec != "" {
		os.Exit(resumeCrashChild(spec))
	}
	os.Exit(m.Run())
}

// trainCrashConfig checkpoints after every step, resuming from the last checkpoint in out.
func trainCrashConfig(out string, steps int) Config {
	cfg := DefaultConfig()
	cfg.BaseModel = tinyModel
	cfg.OutDir = out
	cfg.Device = "cpu"
	cfg.BatchSize = 2
	cfg.LR = 1e-3
	cfg.WarmupSteps = 2
	cfg.Epochs = 0
	cfg.MaxSteps = steps
	cfg.CheckpointEvery = 1
	cfg.Resume = true
	return cfg
}

// trainCrashChild trains (resuming) for a long time, printing "ready" at its first step, when
// Run has cleaned the run folder and loaded the model.
func trainCrashChild(out, dataFile string) int {
	raw, err := os.ReadFile(dataFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var train []Example
	if err := json.Unmarshal(raw, &train); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ready := false
	_, err = Run(context.Background(), trainCrashConfig(out, 100000), Data{Train: train}, func(p Progress) {
		if p.Phase == "train" && !ready {
			ready = true
			fmt.Println("ready")
		}
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

// captuneTemps lists the temporary files and folders of Captune under dir: those named by
// atomicfile, and half-written checkpoint folders (whose contents count as the folder).
func captuneTemps(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		name := de.Name()
		if de.IsDir() && strings.HasPrefix(name, ".step-") && strings.HasSuffix(name, ".tmp") {
			found = append(found, p)
			return fs.SkipDir
		}
		if atomicfile.IsTemp(name) {
			found = append(found, p)
			if de.IsDir() {
				return fs.SkipDir
			}
		}
		return nil
	})
	return found
}

// TestCrashWhileTraining kills (SIGKILL) a training run that checkpoints after every step at
// random moments, many times. After each kill the newest checkpoint loads as a whole model with
// its trainer state; then the next command (a resumed run, as captune finetune --resume, stopped
// after one more checkpoint) leaves no temporary file or half-written checkpoint of Captune's.
func TestCrashWhileTraining(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL is a unix signal")
	}
	kills := 8
	if testing.Short() {
		kills = 3
	}
	data := synthData(t, 6, synth.VariantBase, 5)
	raw, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	dataFile := filepath.Join(t.TempDir(), "data.json")
	if err := os.WriteFile(dataFile, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "run")
	rng := rand.New(rand.NewPCG(7, 7))
	var killsLeaving, leftBehind, removed int
	for k := 0; k < kills; k++ {
		child := startTrainChild(t, out, dataFile)
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
		killTrainChild(t, child)
		if n := len(captuneTemps(t, out)); n > 0 {
			killsLeaving++
			leftBehind += n
		}
		step := 0
		if latest, err := latestCheckpoint(out); err != nil {
			t.Fatal(err)
		} else if latest != "" {
			var st trainerState
			if err := readJSON(filepath.Join(latest, "trainer_state.json"), &st); err != nil {
				t.Fatalf("kill %d: %s: %v", k, latest, err)
			}
			step = st.Step
			c, _, err := inference.LoadCaptioner(latest, gotch.CPU)
			if err != nil {
				t.Fatalf("kill %d: the newest checkpoint %s does not load: %v", k, latest, err)
			}
			c.Free()
		}
		// The resumed run keeps the checkpoint's 100000 steps: stop it after one more checkpoint.
		ctx, cancel := context.WithCancel(context.Background())
		res, err := Run(ctx, trainCrashConfig(out, step+1), Data{Train: data}, func(p Progress) {
			if p.Phase == "checkpoint" && p.Step > step {
				cancel()
			}
		})
		cancel()
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("kill %d: the resumed run: %v", k, err)
		}
		removed += res.RemovedTemps
		if left := captuneTemps(t, out); len(left) > 0 {
			t.Fatalf("kill %d: the resumed run left temporary files of Captune: %v", k, left)
		}
	}
	t.Logf("%d kills: %d left Captune temporary files or half-written checkpoint folders (%d in all); the next run removed %d and left 0; the newest checkpoint loaded after every kill",
		kills, killsLeaving, leftBehind, removed)
}

// startTrainChild starts a training child on out and returns it once it trains.
func startTrainChild(t *testing.T, out, dataFile string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), trainChildOut+"="+out, trainChildData+"="+dataFile)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ok := false
		for sc.Scan() {
			if sc.Text() == "ready" && !ok {
				ok = true
				ready <- true
			}
		}
		if !ok {
			ready <- false
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			cmd.Wait()
			t.Fatalf("training child stopped before training: %s", stderr.String())
		}
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("training child did not start: %s", stderr.String())
	}
	return cmd
}

// killTrainChild kills a child with SIGKILL and reaps it.
func killTrainChild(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
}
