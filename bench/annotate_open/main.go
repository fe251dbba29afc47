// Command annotate_open measures how long annotate.Open takes on a folder of 50,000 images with
// sidecar captions, and how much memory it uses. The images are random bytes, not images: Open
// must never decode (or even read) one, only list them.
//
//	go run ./bench/annotate_open                 # builds /tmp/captune-bench-open (once), then measures
//	go run ./bench/annotate_open -n 50000 -runs 5 -dir DIR
//
// Each run is a fresh process (the command re-executes itself), so its peak resident memory is
// Open's alone. The first run after building the folder reads warm caches, like every later open
// of a folder the user just worked in; cold-cache numbers need root to drop the page cache and are
// not measured here.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/captune/captune/annotate"
)

// runResult is what one measuring process reports.
type runResult struct {
	Seconds     float64 `json:"seconds"`
	Images      int     `json:"images"`
	Captions    int     `json:"captions"`
	HeapLiveMB  float64 `json:"heap_live_mb"` // after Open, after a GC: what the dataset keeps
	AllocatedMB float64 `json:"allocated_mb"` // allocated during Open in total
	MaxRSSMB    float64 `json:"max_rss_mb"`   // peak resident memory of the process
	CPUSeconds  float64 `json:"cpu_seconds"`  // user+system time of the process: unlike wall time, not inflated by a busy machine
	Warnings    int     `json:"warnings"`
}

func main() {
	n := flag.Int("n", 50000, "number of images")
	dir := flag.String("dir", filepath.Join(os.TempDir(), "captune-bench-open"), "folder to build (once) and open")
	runs := flag.Int("runs", 5, "number of measured opens, each in a fresh process")
	measure := flag.Bool("measure", false, "internal: open the folder once and print a JSON result")
	flag.Parse()
	if *measure {
		if err := measureOnce(*dir); err != nil {
			fmt.Fprintln(os.Stderr, "annotate_open:", err)
			os.Exit(1)
		}
		return
	}
	if err := build(*dir, *n); err != nil {
		fmt.Fprintln(os.Stderr, "annotate_open:", err)
		os.Exit(1)
	}
	var results []runResult
	for r := 0; r < *runs; r++ {
		out, err := exec.Command(os.Args[0], "-measure", "-dir", *dir).Output()
		if err != nil {
			fmt.Fprintln(os.Stderr, "annotate_open: measuring run:", err)
			os.Exit(1)
		}
		var res runResult
		if err := json.Unmarshal(out, &res); err != nil {
			fmt.Fprintln(os.Stderr, "annotate_open:", err)
			os.Exit(1)
		}
		results = append(results, res)
		fmt.Printf("run %d: %.3f s (%.3f s CPU), %d images, %d captions, heap live %.1f MB, allocated %.1f MB, max RSS %.1f MB, %d warnings\n",
			r+1, res.Seconds, res.CPUSeconds, res.Images, res.Captions, res.HeapLiveMB, res.AllocatedMB, res.MaxRSSMB, res.Warnings)
	}
	sort.Slice(results, func(a, b int) bool { return results[a].Seconds < results[b].Seconds })
	med := results[len(results)/2]
	maxRSS := 0.0
	for _, r := range results {
		maxRSS = max(maxRSS, r.MaxRSSMB)
	}
	fmt.Printf("annotate.Open, %d images with sidecar captions, %d CPUs: median %.3f s (min %.3f s), median CPU %.3f s, max RSS %.1f MB (target: under 3 s and 200 MB)\n",
		med.Images, runtime.NumCPU(), med.Seconds, results[0].Seconds, med.CPUSeconds, maxRSS)
}

// measureOnce opens the folder and prints a runResult as JSON.
func measureOnce(dir string) error {
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	d, rep, err := annotate.Open(dir, annotate.OpenOptions{Recursive: true})
	elapsed := time.Since(start)
	if err != nil {
		return err
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	runtime.GC()
	runtime.ReadMemStats(&after)
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	res := runResult{
		Seconds:     elapsed.Seconds(),
		Images:      rep.Images,
		Captions:    rep.Captions,
		HeapLiveMB:  float64(after.HeapAlloc) / (1 << 20),
		AllocatedMB: float64(allocated) / (1 << 20),
		MaxRSSMB:    float64(ru.Maxrss) / 1024, // Linux reports KiB
		CPUSeconds:  time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds(),
		Warnings:    len(rep.Warnings),
	}
	runtime.KeepAlive(d)
	return json.NewEncoder(os.Stdout).Encode(res)
}

var words = strings.Fields("a an the red blue green small large old young man woman dog cat car bike street table " +
	"sitting standing on in next to with of near white black wooden kitchen field beach sky tree photo of")

// build writes n images (random bytes) and one sidecar caption each, unless a previous build of
// the same size is there.
func build(dir string, n int) error {
	marker := filepath.Join(dir, ".built")
	if b, err := os.ReadFile(marker); err == nil && strings.TrimSpace(string(b)) == fmt.Sprint(n) {
		return nil
	}
	fmt.Printf("building %s: %d images with captions (once)...\n", dir, n)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	junk := make([]byte, 256)
	exts := []string{".jpg", ".png", ".webp", ".JPG"}
	for i := 0; i < n; i++ {
		for k := range junk {
			junk[k] = byte(rng.IntN(256))
		}
		base := filepath.Join(dir, fmt.Sprintf("img_%06d", i))
		if err := os.WriteFile(base+exts[i%len(exts)], junk, 0o644); err != nil {
			return err
		}
		var caption []string
		for w := 8 + rng.IntN(12); w > 0; w-- {
			caption = append(caption, words[rng.IntN(len(words))])
		}
		if err := os.WriteFile(base+".txt", []byte(strings.Join(caption, " ")), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(marker, []byte(fmt.Sprint(n)), 0o644)
}
