// Command blip is the Captune side of bench/run.py: it loads a BLIP model folder with the public
// inference API and measures one workload in this (fresh) process, printing one JSON object on stdout.
//
//	go build -o build/bench/blipbench ./bench/blip   # run.py does this with build/env.sh sourced
//	build/bench/blipbench -model DIR -images DIR -mode infer -threads 2 -runs 5
//	build/bench/blipbench -model DIR -images DIR -mode train -threads 2 -runs 3
//
// Mode infer measures model load time, single-image greedy caption latency (file to text, max length
// 20), the vision encoder alone and a plain libtorch matmul of the encoder's largest GEMM (for the
// roofline figure), an 8-image batch with 3 beams, and the peak RSS of the whole process. Mode train
// measures one training step on 4 images (ZeroGrad, Loss, Backward, AdamW StepOnce) and the peak RSS.
// Each timed figure is a list of runs after one warm-up (the beam batch: after the single-image
// runs, without a warm-up of its own); run.py takes the medians.
//
// All libtorch work runs on the main goroutine, locked to its OS thread: libtorch keeps grad mode in
// a thread-local, and Captune's engine does the same.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/finetune"
	"github.com/captune/captune/inference"
	"github.com/captune/captune/internal/torchx"
)

// trainCaptions must equal TRAIN_CAPTIONS in bench/run.py: both sides train on the same batch, so
// their first-step losses can be compared.
var trainCaptions = []string{
	"a dog playing with a ball on the grass",
	"two people riding bicycles down a city street next to parked cars",
	"a plate of food",
	"a red bus parked in front of a tall building on a cloudy day",
}

// matmulShape is the vision encoder's largest GEMM for one image (fc1: [577, 768] x [768, 3072]), as
// MATMUL in bench/run.py.
var matmulShape = [3]int64{577, 768, 3072}

const (
	maxLength  = 20
	batchBeams = 3
	batchSize  = 8
)

// result is what one process reports; the keys match the transformers worker's in bench/run.py.
type result struct {
	Side              string    `json:"side"`
	Mode              string    `json:"mode"`
	Threads           int       `json:"threads"`
	Libtorch          string    `json:"libtorch"`
	StartS            float64   `json:"start_s"`
	RSSBeforeLoad     int64     `json:"rss_before_load_bytes"`
	LoadS             float64   `json:"load_s"`
	LoadCPUS          float64   `json:"load_cpu_s"`
	ReadyS            float64   `json:"ready_s"`
	RSSAfterLoad      int64     `json:"rss_after_load_bytes"`
	SingleS           []float64 `json:"single_s,omitempty"`
	SingleCPUS        []float64 `json:"single_cpu_s,omitempty"`
	SingleTokens      []int64   `json:"single_tokens,omitempty"`
	VisionS           []float64 `json:"vision_s,omitempty"`
	VisionCPUS        []float64 `json:"vision_cpu_s,omitempty"`
	MatmulGFLOPS      []float64 `json:"matmul_gflops,omitempty"`
	MatmulCPUGFLOPS   []float64 `json:"matmul_cpu_gflops,omitempty"`
	BatchS            []float64 `json:"batch_s,omitempty"`
	BatchCPUS         []float64 `json:"batch_cpu_s,omitempty"`
	BatchTokens       []int64   `json:"batch_tokens,omitempty"`
	TrainStepS        []float64 `json:"train_step_s,omitempty"`
	TrainStepCPUS     []float64 `json:"train_step_cpu_s,omitempty"`
	Losses            []float64 `json:"losses,omitempty"`
	Precision         string    `json:"precision"`
	InputIDs          [][]int64 `json:"input_ids,omitempty"`
	Parameters        int64     `json:"parameters,omitempty"`
	PeakRSS           int64     `json:"peak_rss_bytes"`
	Estimate          *estimate `json:"estimate,omitempty"`
	LoadWarnings      []string  `json:"load_warnings,omitempty"`
	GeneratedCaption  string    `json:"caption,omitempty"`
	TrainableTensors  int       `json:"trainable_tensors,omitempty"`
	AdapterBytes      int64     `json:"adapter_bytes,omitempty"`
	BatchRunsMeasured int       `json:"batch_runs,omitempty"`
}

// estimate is inference.EstimateMemory's figure for the measured workload, what Captune shows before
// captioning or training starts.
type estimate struct {
	Workload    string `json:"workload"`
	Parameters  int64  `json:"parameters"`
	Weights     int64  `json:"weights_bytes"`
	Gradients   int64  `json:"gradients_bytes"`
	Optimizer   int64  `json:"optimizer_bytes"`
	Activations int64  `json:"activations_bytes"`
	Runtime     int64  `json:"runtime_bytes"`
	Total       int64  `json:"total_bytes"`
}

func newEstimate(workload string, e inference.MemoryEstimate) *estimate {
	return &estimate{Workload: workload, Parameters: e.Parameters, Weights: e.Weights, Gradients: e.Gradients,
		Optimizer: e.Optimizer, Activations: e.Activations, Runtime: e.Runtime, Total: e.Total()}
}

func main() {
	model := flag.String("model", "build/bench/blip-base-random", "BLIP model folder")
	images := flag.String("images", "build/bench/images", "folder with img0.jpg ... img7.jpg")
	mode := flag.String("mode", "infer", "infer, train (full fine-tuning) or lora (LoRA fine-tuning, finetune's default adapter settings)")
	threads := flag.Int("threads", runtime.NumCPU(), "libtorch intra-op threads")
	runs := flag.Int("runs", 5, "timed runs after one warm-up (train: steps)")
	batchRuns := flag.Int("batch-runs", 3, "timed runs of the 8-image beam batch (no separate warm-up: the single-image runs warm the process)")
	precision := flag.String("precision", "fp32", "fp32 or bf16 (autocast)")
	spawned := flag.Float64("spawned", 0, "Unix time (s) the parent started this process, for start_s and ready_s")
	flag.Parse()
	if *spawned == 0 {
		*spawned = float64(time.Now().UnixNano()) / 1e9
	}
	runtime.LockOSThread()
	prec, err := inference.ParsePrecision(*precision)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	benchPrecision = prec
	res, err := run(*model, *images, *mode, *threads, *runs, *batchRuns, *spawned)
	if err != nil {
		fmt.Fprintln(os.Stderr, "blipbench:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "blipbench:", err)
		os.Exit(1)
	}
}

// benchPrecision is --precision: the arithmetic of the measured forward passes.
var benchPrecision inference.Precision

func run(modelDir, imageDir, mode string, threads, runs, batchRuns int, spawned float64) (*result, error) {
	if mode != "infer" && mode != "train" && mode != "lora" {
		return nil, fmt.Errorf("mode %q: want infer, train or lora", mode)
	}
	torchx.SetNumThreads(threads)
	res := &result{Side: "captune", Mode: mode, Threads: torchx.NumThreads(), Libtorch: torchx.Version(),
		StartS: unixNow() - spawned}
	res.RSSBeforeLoad = procStatus("VmRSS")

	t0, c0 := time.Now(), cpuSeconds()
	capt, rep, err := inference.LoadCaptioner(modelDir, gotch.CPU)
	if err != nil {
		return nil, err
	}
	defer capt.Free()
	capt.Model.Precision = benchPrecision
	res.Precision = benchPrecision.String()
	res.LoadS = time.Since(t0).Seconds()
	res.LoadCPUS = cpuSeconds() - c0
	res.ReadyS = unixNow() - spawned
	res.RSSAfterLoad = procStatus("VmRSS")
	res.LoadWarnings = rep.Warnings()

	paths := make([]string, batchSize)
	for i := range paths {
		paths[i] = filepath.Join(imageDir, fmt.Sprintf("img%d.jpg", i))
	}
	if mode == "infer" {
		err = measureInference(capt, paths, runs, batchRuns, res)
	} else {
		err = measureTraining(capt, paths[:4], runs, mode == "lora", res)
	}
	if err != nil {
		return nil, err
	}
	res.PeakRSS = max(procStatus("VmHWM"), maxRSS())
	return res, nil
}

// caption runs what a user's caption request runs: read and decode the files, preprocess, generate,
// detokenize.
func caption(capt *inference.Captioner, paths []string, beams int) ([]inference.Caption, error) {
	imgs := make([]*inference.RGBImage, len(paths))
	for i, p := range paths {
		img, err := inference.LoadImage(p)
		if err != nil {
			return nil, err
		}
		imgs[i] = img
	}
	opts := inference.CaptionOptions{Decode: inference.DefaultDecodeOptions(), BatchSize: batchSize}
	opts.Decode.MaxLength = maxLength
	opts.Decode.NumBeams = beams
	return capt.CaptionImages(context.Background(), imgs, opts, nil)
}

func measureInference(capt *inference.Captioner, paths []string, runs, batchRuns int, res *result) error {
	var caps []inference.Caption
	var err error
	res.SingleS, res.SingleCPUS, err = timed(1, runs, func() error {
		caps, err = caption(capt, paths[:1], 1)
		return err
	})
	if err != nil {
		return fmt.Errorf("single-image caption: %w", err)
	}
	res.SingleTokens, res.GeneratedCaption = caps[0].Tokens, caps[0].Text

	img, err := inference.LoadImage(paths[0])
	if err != nil {
		return err
	}
	pix, err := capt.Pixels([]*inference.RGBImage{img})
	if err != nil {
		return err
	}
	ng := ts.NewNoGradGuard()
	res.VisionS, res.VisionCPUS, _ = timed(1, runs, func() error {
		capt.Model.EncodeImage(pix).MustDrop()
		return nil
	})
	ng.Drop()
	pix.MustDrop()

	res.MatmulGFLOPS, res.MatmulCPUGFLOPS = matmulGFLOPS(runs)

	// No separate warm-up: the process is warm from the single-image runs, and one batch costs minutes.
	res.BatchS, res.BatchCPUS, err = timed(0, batchRuns, func() error {
		caps, err = caption(capt, paths, batchBeams)
		return err
	})
	if err != nil {
		return fmt.Errorf("8-image beam batch: %w", err)
	}
	res.BatchTokens = caps[0].Tokens
	res.BatchRunsMeasured = batchRuns
	res.Estimate = newEstimate("caption_batch8_beam3",
		inference.EstimateMemory(capt.Model.Config, batchSize, batchBeams, maxLength, false))
	return nil
}

// matmulGFLOPS times 10 products of the vision encoder's largest GEMM per run: what libtorch reaches
// on this machine for that size, the roof the encoder is measured against. It returns GFLOP per
// wall second and per CPU second of each run.
func matmulGFLOPS(runs int) (wall, cpu []float64) {
	const reps = 10
	m, k, n := matmulShape[0], matmulShape[1], matmulShape[2]
	ng := ts.NewNoGradGuard()
	defer ng.Drop()
	a := ts.MustRandn([]int64{m, k}, gotch.Float, gotch.CPU)
	b := ts.MustRandn([]int64{k, n}, gotch.Float, gotch.CPU)
	defer a.MustDrop()
	defer b.MustDrop()
	ws, cs, _ := timed(1, runs, func() error {
		for i := 0; i < reps; i++ {
			a.MustMatmul(b, false).MustDrop()
		}
		return nil
	})
	flop := float64(2 * m * k * n * reps)
	for i := range ws {
		wall = append(wall, flop/ws[i]/1e9)
		cpu = append(cpu, flop/cs[i]/1e9)
	}
	return wall, cpu
}

func measureTraining(capt *inference.Captioner, paths []string, runs int, lora bool, res *result) error {
	ts.MustGradSetEnabled(true)
	params, err := trainingParams(capt, lora, res)
	if err != nil {
		return err
	}
	// torch.optim.AdamW's defaults with BLIP's COCO weight decay, as the transformers side uses.
	opt := finetune.NewAdamW(params, 1e-5, 0.9, 0.999, 1e-8, 0.05)
	defer opt.Free()

	imgs := make([]*inference.RGBImage, len(paths))
	for i, p := range paths {
		img, err := inference.LoadImage(p)
		if err != nil {
			return err
		}
		imgs[i] = img
	}
	pix, err := capt.Pixels(imgs)
	if err != nil {
		return err
	}
	defer pix.MustDrop()
	// transformers' forward with labels = input_ids (the HF recipe) is what the Python side runs.
	ids, promptLen := capt.EncodeCaptions(trainCaptions, "", 64)
	batch, err := capt.Model.PrepareBatch(ids, promptLen, inference.RecipeHF)
	if err != nil {
		return err
	}
	res.InputIDs = batch.InputIDs
	res.Estimate = newEstimate("train_step_batch4",
		inference.EstimateMemory(capt.Model.Config, len(paths), 1, len(batch.InputIDs[0]), true))

	res.TrainStepS, res.TrainStepCPUS, err = timed(1, runs, func() error {
		opt.ZeroGrad()
		loss, err := capt.Model.Loss(pix, batch)
		if err != nil {
			return err
		}
		res.Losses = append(res.Losses, loss.Float64Values()[0])
		err = loss.Backward()
		loss.MustDrop()
		if err != nil {
			return err
		}
		opt.StepOnce()
		return nil
	})
	if err != nil {
		return fmt.Errorf("training step: %w", err)
	}
	return nil
}

// trainingParams are the tensors a step trains: every weight, or with lora fresh adapters with
// finetune's default settings (the base frozen, its weights left memory-mapped as finetune leaves
// them), whose size on disk it records.
func trainingParams(capt *inference.Captioner, lora bool, res *result) ([]finetune.NamedParam, error) {
	var params []finetune.NamedParam
	for _, n := range capt.Model.Tensors() {
		res.Parameters += int64(n.Tensor.Numel())
		params = append(params, finetune.NamedParam{Name: n.Name, Tensor: n.Tensor})
	}
	if lora {
		d := finetune.DefaultConfig()
		cfg := inference.NewLoraConfig(capt.Dir, int64(d.LoraRank), d.LoraAlpha, d.LoraDropout, d.LoraTargets)
		if err := capt.Model.AddLora(cfg, 1); err != nil {
			return nil, err
		}
		capt.Model.Lora.SetTraining(true)
		params = finetune.LoraTrainable(capt.Model)
		dir, err := os.MkdirTemp("", "blipbench-adapter")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if err := capt.Model.SaveAdapter(dir); err != nil {
			return nil, err
		}
		st, err := os.Stat(filepath.Join(dir, inference.AdapterWeightsFile))
		if err != nil {
			return nil, err
		}
		res.AdapterBytes = st.Size()
	}
	res.TrainableTensors = len(params)
	return params, nil
}

// timed runs fn warmup times, then runs times, returning wall and process CPU seconds per timed run.
func timed(warmup, runs int, fn func() error) (wall, cpu []float64, err error) {
	for i := 0; i < warmup; i++ {
		if err := fn(); err != nil {
			return nil, nil, err
		}
	}
	for i := 0; i < runs; i++ {
		c := cpuSeconds()
		t := time.Now()
		if err := fn(); err != nil {
			return nil, nil, err
		}
		wall = append(wall, time.Since(t).Seconds())
		cpu = append(cpu, cpuSeconds()-c)
	}
	return wall, cpu, nil
}

func unixNow() float64 { return float64(time.Now().UnixNano()) / 1e9 }

// cpuSeconds is the user+system time of the whole process (all threads).
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// maxRSS is ru_maxrss in bytes (Linux reports kilobytes).
func maxRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss * 1024
}

// procStatus reads a "kB" field of /proc/self/status in bytes (0 when absent).
func procStatus(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != field {
			continue
		}
		n, err := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
		if err != nil {
			return 0
		}
		return n * 1024
	}
	return 0
}
