package runinfo

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Estimate is what a run will cost, measured on a few real steps before it starts.
type Estimate struct {
	Steps      int           // optimizer steps the run will take (epochs × steps per epoch, or MaxSteps)
	StepTime   time.Duration // measured mean time of one optimizer step (the first, warm-up step excluded)
	Evals      int           // validation passes the run makes (one at each epoch end)
	EvalTime   time.Duration // all validation passes (loss and caption watch), each from one measured batch
	LoadTime   time.Duration // measured: loading the base model
	Total      time.Duration // whole run: Steps×StepTime + EvalTime + LoadTime + CacheTime (checkpoint writes not counted)
	Memory     int64         // bytes training needs (the model's estimate less what freezing saves)
	Available  int64         // bytes of RAM available, 0 if unknown (always on a GPU)
	Calibrated int           // real steps run to measure StepTime (the first of them not timed)

	// CacheImages and CacheTime are the feature cache's pre-pass when the run caches image features
	// (vision encoder frozen, no augmentation): each training and validation image is encoded once
	// before the first step, and StepTime and EvalTime then leave the encoder out. 0 without a cache.
	CacheImages int
	CacheTime   time.Duration

	// FrozenStepTime and FrozenMemory are one measured step and the memory with the vision encoder
	// frozen, when the run trains it (0 otherwise).
	// FrozenCacheTime is the feature cache's pre-pass of that frozen run (0 when it would not cache).
	FrozenStepTime  time.Duration
	FrozenMemory    int64
	FrozenCacheTime time.Duration

	// Method is the run's, "full" or "lora"; Memory is what it needs. LoraMemory and FullMemory are
	// what each method needs with the run's other settings (both always filled, so that both can
	// be shown). LoraStepTime is one measured LoRA step when a full run is long (0 otherwise);
	// LoraParams and FullParams count the parameters each trains.
	Method                 string
	LoraMemory, FullMemory int64
	LoraStepTime           time.Duration
	LoraParams, FullParams int64

	Advice []string // one sentence each: cheaper settings, and a warning when the run takes hours
}

// String is the estimate on one line, e.g. "250 steps × 0.21 s ≈ 1 min (+ validation ≈ 4 s), ≈ 2 min
// in all with loading; memory ≈ 1.2 GiB of 20.1 GiB available (measured on 3 real steps)".
func (e Estimate) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d steps × %s ≈ %s", e.Steps, Seconds(e.StepTime), Rough(time.Duration(e.Steps)*e.StepTime))
	if e.CacheImages > 0 {
		fmt.Fprintf(&b, " (+ caching %d image features: ~%s)", e.CacheImages, Rough(e.CacheTime))
	}
	if e.EvalTime > 0 {
		fmt.Fprintf(&b, " (+ validation ≈ %s)", Rough(e.EvalTime))
	}
	fmt.Fprintf(&b, ", ≈ %s in all with loading; memory ≈ %s", Rough(e.Total), GiB(e.Memory))
	if e.Available > 0 {
		fmt.Fprintf(&b, " of %s available", GiB(e.Available))
	}
	switch {
	case e.Method == "lora" && e.FullMemory > 0:
		fmt.Fprintf(&b, " with LoRA (full fine-tuning ≈ %s)", GiB(e.FullMemory))
	case e.LoraMemory > 0:
		fmt.Fprintf(&b, " (with LoRA ≈ %s)", GiB(e.LoraMemory))
	}
	fmt.Fprintf(&b, " (measured on %d real steps)", e.Calibrated)
	return b.String()
}

// Rough prints a duration as people say it: "4 s", "12 min", "3 h 20 min".
func Rough(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(math.Ceil(d.Seconds())))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(math.Round(d.Minutes())))
	}
	d = d.Round(time.Minute)
	if m := int(d.Minutes()) % 60; m != 0 {
		return fmt.Sprintf("%d h %d min", int(d.Hours()), m)
	}
	return fmt.Sprintf("%d h", int(d.Hours()))
}

// Seconds prints a step time with two significant digits or more: "0.21 s", "3.4 s", "25 s".
func Seconds(d time.Duration) string {
	switch s := d.Seconds(); {
	case s < 1:
		return fmt.Sprintf("%.2f s", s)
	case s < 10:
		return fmt.Sprintf("%.1f s", s)
	default:
		return fmt.Sprintf("%.0f s", s)
	}
}

// GiB prints a byte count in gibibytes with one decimal: "1.2 GiB".
func GiB(b int64) string {
	return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
}
