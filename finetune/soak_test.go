package finetune

import (
	"context"
	"github.com/captune/captune/internal/memstat"
	"runtime/debug"
	"testing"
	"time"

	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/finetune/synth"
	"github.com/captune/captune/internal/tx"
)

// TestSoakTraining runs 500 optimizer steps (with epoch-end checkpoints) and checks that between
// step 100 and step 500 the number of live gotch tensors is unchanged and resident memory stays
// within 5%: a leak of one tensor per step (gotch's or a bare tx handle) would fail the first check.
func TestSoakTraining(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test: skipped with -short")
	}
	data := Data{Train: synthData(t, 40, synth.VariantBase, 9)}
	cfg := smallConfig(t)
	cfg.MaxSteps = 500
	cfg.BatchSize = 2
	cfg.CheckpointEvery = 0
	cfg.KeepLast = 1
	var tensors [2]int
	var rss [2]int64
	_, err := Run(context.Background(), cfg, data, func(p Progress) {
		if p.Phase != "train" || (p.Step != 100 && p.Step != 500) {
			return
		}
		settle()
		i := 0
		if p.Step == 500 {
			i = 1
		}
		tensors[i], rss[i] = len(ts.ExistingTensors)+int(tx.Live()), residentKB(t)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("step 100: %d live tensors, RSS %d kB; step 500: %d live tensors, RSS %d kB (%+.1f%%)",
		tensors[0], rss[0], tensors[1], rss[1], 100*float64(rss[1]-rss[0])/float64(rss[0]))
	if tensors[1] != tensors[0] {
		t.Errorf("live tensors changed from %d at step 100 to %d at step 500", tensors[0], tensors[1])
	}
	if float64(rss[1]) > 1.05*float64(rss[0]) {
		t.Errorf("resident memory grew from %d kB to %d kB (more than 5%%) between steps 100 and 500", rss[0], rss[1])
	}
}

// settle collects garbage, lets gotch's finalizers run (they free tensors the GC found) and returns
// freed memory to the OS, so that live-tensor counts and RSS measure what is really held.
func settle() {
	for i := 0; i < 3; i++ {
		debug.FreeOSMemory()
		time.Sleep(20 * time.Millisecond)
	}
}

// residentKB is VmRSS; the test is skipped where /proc is missing (not Linux).
func residentKB(t *testing.T) int64 {
	t.Helper()
	v, err := memstat.Status("VmRSS")
	if err != nil {
		t.Skipf("no resident-memory figure on this system: %v", err)
	}
	return v
}
