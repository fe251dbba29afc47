package finetune

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/captune/captune/finetune/synth"
)

// TestSelectsBestEpoch trains 5 epochs whose validation CIDEr-D peaks at epoch 2 (the scores are
// scripted, the training real): with --select-by cider the output folder holds the epoch-2
// checkpoint's weights and says so; with --patience 2 the run stops after epoch 4, keeping its
// checkpoints.
func TestSelectsBestEpoch(t *testing.T) {
	cider := []float64{0.2, 0.9, 0.6, 0.5, 0.4}
	captionStatsHook = func(epoch int, st *CaptionStats) { st.CIDErD = cider[epoch-1] }
	defer func() { captionStatsHook = nil }()
	data := Data{Train: synthData(t, 8, synth.VariantBase, 1), Val: synthData(t, 2, synth.VariantBase, 2)}
	for _, tc := range []struct {
		name       string
		selectBy   string
		patience   int
		wantEpochs int
	}{
		{"default is cider", "", 0, 5},
		{"patience 2", SelectCIDEr, 2, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := smallConfig(t)
			cfg.MaxSteps, cfg.Epochs, cfg.BatchSize, cfg.CheckpointEvery = 0, 5, 8, 0
			cfg.EvalBeams, cfg.EvalMaxLength, cfg.EvalMinLength = 1, 5, 1
			cfg.SelectBy, cfg.Patience = tc.selectBy, tc.patience
			res, err := Run(context.Background(), cfg, data, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Captions) != tc.wantEpochs || res.StoppedEarly != (tc.patience > 0) {
				t.Errorf("%d epochs, stopped early %v; want %d epochs", len(res.Captions), res.StoppedEarly, tc.wantEpochs)
			}
			want := BestInfo{SelectBy: SelectCIDEr, Value: 0.9, Step: 2, Epoch: 2, Epochs: 5, Checkpoint: "step-000002"}
			if res.Best != want {
				t.Errorf("Result.Best = %+v, want %+v", res.Best, want)
			}
			if got, _ := ReadBestInfo(cfg.OutDir); got != want {
				t.Errorf("%s = %+v, want %+v", BestFile, got, want)
			}
			if s := res.Best.String(); s != "epoch 2 of 5, best validation CIDEr-D 90.0" {
				t.Errorf("Best.String() = %q", s)
			}
			out := readFile(t, filepath.Join(cfg.OutDir, "model.safetensors"))
			best := readFile(t, filepath.Join(cfg.OutDir, "checkpoints", "step-000002", "model.safetensors"))
			last := readFile(t, filepath.Join(res.LastCheckpoint, "model.safetensors"))
			if !bytes.Equal(out, best) || bytes.Equal(out, last) {
				t.Errorf("output weights equal epoch 2's: %v, the last epoch's: %v; want only epoch 2's", bytes.Equal(out, best), bytes.Equal(out, last))
			}
			log := string(readFile(t, filepath.Join(cfg.OutDir, "train_log.jsonl")))
			if !strings.Contains(log, `"best":true`) || !strings.Contains(log, `"best_checkpoint":{"select_by":"cider"`) ||
				strings.Contains(log, `"stopped_early":true`) != (tc.patience > 0) {
				t.Errorf("train_log.jsonl does not record the best checkpoint and early stop:\n%s", log)
			}
		})
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestResumeKeepsBestEpoch stops a run selecting by CIDEr-D after epoch 3 and resumes it: the
// resumed run keeps its criterion, best epoch and patience count, and outputs the epoch-2 weights.
func TestResumeKeepsBestEpoch(t *testing.T) {
	cider := []float64{0.2, 0.9, 0.6, 0.5, 0.4}
	captionStatsHook = func(epoch int, st *CaptionStats) { st.CIDErD = cider[epoch-1] }
	defer func() { captionStatsHook = nil }()
	data := Data{Train: synthData(t, 8, synth.VariantBase, 1), Val: synthData(t, 2, synth.VariantBase, 2)}
	cfg := smallConfig(t)
	cfg.MaxSteps, cfg.Epochs, cfg.BatchSize, cfg.CheckpointEvery = 0, 5, 8, 0
	cfg.EvalBeams, cfg.EvalMaxLength, cfg.EvalMinLength = 1, 5, 1
	cfg.SelectBy, cfg.Patience = SelectCIDEr, 3
	ctx, cancel := context.WithCancel(context.Background())
	_, err := Run(ctx, cfg, data, func(p Progress) {
		if p.Phase == "checkpoint" && p.Step == 3 {
			cancel()
		}
	})
	if err == nil {
		t.Fatal("the cut run did not stop")
	}
	resumed := cfg
	resumed.Resume, resumed.SelectBy, resumed.Patience = true, "", 0 // the checkpoint's settings apply
	res, err := Run(context.Background(), resumed, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Best.Epoch != 2 || res.Best.SelectBy != SelectCIDEr || !res.StoppedEarly || res.Steps != 5 {
		t.Errorf("resumed run: best %+v, stopped early %v after %d steps; want epoch 2 by cider, stopped by patience 3 after step 5", res.Best, res.StoppedEarly, res.Steps)
	}
	out := readFile(t, filepath.Join(cfg.OutDir, "model.safetensors"))
	best := readFile(t, filepath.Join(cfg.OutDir, "checkpoints", "step-000002", "model.safetensors"))
	if !bytes.Equal(out, best) {
		t.Error("the resumed run's output is not the epoch-2 weights")
	}
}

// TestBundledPeakAtEpoch2 trains the bundled model on the bundled sample with a learning rate that
// warms up over the whole run to far too high (25 steps to 0.04, 5 steps an epoch): validation
// CIDEr-D rises to epoch 2 and collapses after (measured: 6.3, 81.4, 0.5, 0.0, 0.0); with
// --select-by cider the output folder holds the epoch-2 weights.
func TestBundledPeakAtEpoch2(t *testing.T) {
	cfg, data := bundledSampleRun(t)
	cfg.LR, cfg.Epochs, cfg.WarmupSteps, cfg.Schedule, cfg.SelectBy = 0.04, 5, 25, "constant", SelectCIDEr
	res, err := Run(context.Background(), cfg, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	var cider []float64
	for _, c := range res.Captions {
		cider = append(cider, c.CIDErD)
	}
	t.Logf("validation CIDEr-D per epoch %.3f; best %s", cider, res.Best)
	if res.Best.Epoch != 2 {
		t.Fatalf("best epoch %d (CIDEr-D %.3f), want 2", res.Best.Epoch, cider)
	}
	out := readFile(t, filepath.Join(cfg.OutDir, "model.safetensors"))
	best := readFile(t, filepath.Join(cfg.OutDir, "checkpoints", res.Best.Checkpoint, "model.safetensors"))
	if !bytes.Equal(out, best) {
		t.Errorf("the output weights are not those of epoch 2 (%s)", res.Best.Checkpoint)
	}
	if !strings.HasPrefix(res.Best.String(), "epoch 2 of 5, best validation CIDEr-D ") {
		t.Errorf("Best.String() = %q", res.Best.String())
	}
}

// TestNoteEpoch walks the epoch ends of runs by each criterion: the best epoch, the epochs since
// it, and the early stop of --patience.
func TestNoteEpoch(t *testing.T) {
	tests := []struct {
		name            string
		selectBy        string
		patience        int
		valLoss, cider  []float64
		wantBest, stale int
		wantStop        bool
	}{
		{"loss picks the lowest", SelectLoss, 0, []float64{3, 2, 2.5, 1.5, 1.7}, []float64{1, 2, 3, 4, 5}, 4, 1, false},
		{"cider picks the highest", SelectCIDEr, 0, []float64{3, 2, 2.5, 1.5, 1.7}, []float64{1, 2, 3, 0.5, 0.4}, 3, 2, false},
		{"patience 2 stops", SelectCIDEr, 2, []float64{3, 2, 2.5, 1.5, 1.7}, []float64{1, 2, 3, 0.5, 0.4}, 3, 2, true},
		{"patience 3 does not", SelectLoss, 3, []float64{3, 2, 2.5, 1.5, 1.7}, nil, 4, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{SelectBy: tt.selectBy, Patience: tt.patience}
			st := trainerState{BestVal: math.MaxFloat64}
			var res Result
			for i := range tt.valLoss {
				st.Step, st.Epoch = (i+1)*10, i+1
				st.ValLosses = append(st.ValLosses, tt.valLoss[i])
				var w *captionWatch
				if tt.cider != nil {
					w = &captionWatch{history: []CaptionStats{{CIDErD: tt.cider[i]}}}
				}
				noteEpoch(&st, cfg, w, &res, func(any) {})
			}
			if st.BestEpoch != tt.wantBest || st.BestStep != tt.wantBest*10 || st.Stale != tt.stale || res.StoppedEarly != tt.wantStop {
				t.Errorf("best epoch %d (step %d), %d epochs since, stopped %v; want epoch %d, %d since, stopped %v",
					st.BestEpoch, st.BestStep, st.Stale, res.StoppedEarly, tt.wantBest, tt.stale, tt.wantStop)
			}
		})
	}
}
