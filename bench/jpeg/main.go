// Command jpeg is the Captune side of bench/jpeg.py: it decodes and preprocesses every JPEG of a
// folder as captioning and training do (inference.LoadImage, then Preprocessor.Pixels at the
// model's input size), one image after another on one goroutine, and prints one JSON object with
// the seconds each pass over the folder took.
//
//	go build -o build/bench/jpegbench ./bench/jpeg                        # libjpeg-turbo
//	go build -tags noturbojpeg -o build/bench/jpegbench-go ./bench/jpeg   # Go's image/jpeg
//	build/bench/jpegbench -images DIR -size 384 -runs 3
//
// The first pass is a warm-up (page cache, lookup tables) and is not reported.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	"github.com/captune/captune/inference"
)

func main() {
	dir := flag.String("images", "", "folder of JPEG files")
	size := flag.Int("size", 384, "the processor's output size")
	runs := flag.Int("runs", 3, "timed passes over the folder")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the timed passes to this file")
	flag.Parse()
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "jpegbench:", err)
			os.Exit(1)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "jpegbench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(*dir, *size, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "jpegbench:", err)
		os.Exit(1) //nolint:gocritic // the profile of a failed run is of no use
	}
}

func run(dir string, size, runs int) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var paths []string
	for _, e := range entries {
		if strings.HasSuffix(strings.ToLower(e.Name()), ".jpg") {
			paths = append(paths, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(paths)
	if len(paths) == 0 {
		return fmt.Errorf("no .jpg files in %s", dir)
	}
	pp := inference.DefaultPreprocessor(size)
	pass := func() (float64, error) {
		start := time.Now()
		for _, p := range paths {
			img, err := inference.LoadImage(p)
			if err != nil {
				return 0, err
			}
			if _, err := pp.Pixels(img); err != nil {
				return 0, fmt.Errorf("%s: %w", p, err)
			}
		}
		return time.Since(start).Seconds(), nil
	}
	if _, err := pass(); err != nil {
		return err
	}
	var secs []float64
	for range runs {
		s, err := pass()
		if err != nil {
			return err
		}
		secs = append(secs, s)
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"images": len(paths), "seconds": secs, "decoder": inference.JPEGDecoder(),
	})
}
