package finetune

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/captune/captune/finetune/synth"
)

// TestOnNaN injects a NaN loss at step 8 (checkpoints every 3 steps): by default the run stops
// naming the step and the last good checkpoint; with --on-nan revert it goes back to step 6,
// continues at half the learning rate, logs the revert and finishes all 12 steps. A LoRA run goes
// back to its checkpoint's adapter.
func TestOnNaN(t *testing.T) {
	data := Data{Train: synthData(t, 10, synth.VariantBase, 1)}
	step7 := map[string]float64{} // by method, the loss of step 7 before the NaN: the reverted run's step 7 starts from the same weights
	for _, tc := range []struct {
		method  string
		onNaN   string
		wantErr string // "" = the run finishes
	}{
		{MethodFull, "", "step 8: loss is not a number (try a lower learning rate; the last good checkpoint is "},
		{MethodFull, OnNaNRevert, ""},
		{MethodLora, "", "step 8: loss is not a number"},
		{MethodLora, OnNaNRevert, ""},
	} {
		t.Run(tc.method+"/on-nan="+tc.onNaN, func(t *testing.T) {
			injected := false
			nanHook = func(step int, loss float64) float64 {
				if step == 8 && !injected {
					injected = true
					return math.NaN()
				}
				return loss
			}
			defer func() { nanHook = nil }()
			cfg := smallConfig(t)
			if tc.method == MethodLora {
				cfg = loraConfig(t)
			}
			cfg.OnNaN = tc.onNaN
			lrs := map[int]float64{} // the last learning rate each step ran at
			var revertMsg string
			res, err := Run(context.Background(), cfg, data, func(p Progress) {
				if p.Phase == "train" {
					lrs[p.Step] = p.LR
				}
				if p.Phase == "resume" {
					revertMsg = p.Message
				}
			})
			if tc.wantErr != "" {
				if !errors.Is(err, ErrNaNLoss) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q…", err, tc.wantErr)
				}
				step7[tc.method] = res.Losses[6]
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.NaNReverts != 1 || len(res.Losses) != 12 || res.Steps != 12 {
				t.Errorf("reverts %d, %d losses, %d steps; want 1 revert and 12 steps", res.NaNReverts, len(res.Losses), res.Steps)
			}
			if d := math.Abs(res.Losses[6] - step7[tc.method]); d > 1e-5 {
				t.Errorf("step 7 after the revert: loss %.6f, before %.6f: the weights were not those of step 6", res.Losses[6], step7[tc.method])
			}
			for step := 7; step <= 12; step++ {
				if want := cfg.LRAt(step-1, 12) / 2; math.Abs(lrs[step]-want) > 1e-12 {
					t.Errorf("step %d ran at learning rate %g, want half the schedule's: %g", step, lrs[step], want)
				}
			}
			if want := "loss not a number at step 8: back to step-000006 (step 6) at 0.5× the learning rate"; revertMsg != want {
				t.Errorf("reported %q, want %q", revertMsg, want)
			}
			log := string(readFile(t, filepath.Join(cfg.OutDir, "train_log.jsonl")))
			if !strings.Contains(log, `"nan_loss_at_step":8`) || !strings.Contains(log, `"reverted_to":"step-000006"`) {
				t.Errorf("train_log.jsonl does not record the revert:\n%s", log)
			}
		})
	}
}
