package synth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"

	"github.com/captune/captune/internal/atomicfile"
)

// Format is how WriteDataset stores the captions.
type Format string

const (
	// FormatSidecar writes NAME.txt beside each NAME.png, as taggui and kohya_ss expect.
	FormatSidecar Format = "sidecar"
	// FormatJSONL writes one metadata.jsonl with file_name and text, the Hugging Face imagefolder layout.
	FormatJSONL Format = "jsonl"
)

// MetadataFile is the name of the captions file of FormatJSONL.
const MetadataFile = "metadata.jsonl"

// ErrDirNotEmpty is returned by WriteDataset for an output folder that already holds files: files
// of an earlier, larger or differently formatted run would otherwise mix into the new dataset.
var ErrDirNotEmpty = errors.New("output folder is not empty")

// FileName is the image file name of sample i in a dataset of n samples; the index is zero-padded so
// names sort in generation order.
func FileName(i, n int) string {
	width := max(5, len(strconv.Itoa(n-1)))
	return fmt.Sprintf("synth_%0*d.png", width, i)
}

// WriteDataset writes samples 0 to n-1 of cfg into dir (created if missing, refused with
// ErrDirNotEmpty if it holds anything) as PNG files with their captions in the given format. Every
// file is written to a temporary name and renamed, so a reader never sees half a file. Samples are
// generated on all cores; onProgress (may be nil) is called from the calling goroutine after each
// finished sample. Cancelling ctx stops the work and returns ctx's error; files already written stay.
func WriteDataset(ctx context.Context, dir string, cfg Config, n int, format Format, onProgress func(done, total int)) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if n < 1 {
		return fmt.Errorf("number of images %d: want at least 1", n)
	}
	if format != FormatSidecar && format != FormatJSONL {
		return fmt.Errorf("caption format %q: want %q or %q", format, FormatSidecar, FormatJSONL)
	}
	if err := makeEmptyDir(dir); err != nil {
		return err
	}
	captions, err := writeSamples(ctx, dir, cfg, n, format, onProgress)
	if err != nil {
		return err
	}
	if format == FormatJSONL {
		return writeMetadata(dir, captions)
	}
	return nil
}

// makeEmptyDir creates dir if missing and refuses it with ErrDirNotEmpty if it holds anything.
func makeEmptyDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create output folder: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read output folder: %w", err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s holds %d entries: %w", dir, len(entries), ErrDirNotEmpty)
	}
	return nil
}

// sampleResult is what a worker of writeSamples reports for sample i.
type sampleResult struct {
	i       int
	caption string
	err     error
}

// writeSamples writes samples 0 to n-1 on all cores and returns their captions in order. The first
// failure cancels the rest and is returned.
func writeSamples(ctx context.Context, dir string, cfg Config, n int, format Format, onProgress func(done, total int)) ([]string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	results := make(chan sampleResult)
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				c, err := writeSample(dir, cfg, i, n, format)
				select {
				case results <- sampleResult{i, c, err}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	// The feeder stops at cancellation; closing jobs then lets every worker finish its loop.
	go func() {
		defer close(jobs)
		for i := range n {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()

	captions := make([]string, n)
	var firstErr error
	done := 0
	for r := range results {
		if firstErr != nil {
			continue // drain until the workers have exited
		}
		if r.err != nil {
			firstErr = r.err
			cancel()
			continue
		}
		captions[r.i] = r.caption
		done++
		if onProgress != nil {
			onProgress(done, n)
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	if done < n {
		return nil, fmt.Errorf("write dataset: %d of %d images written: %w", done, n, context.Cause(ctx))
	}
	return captions, nil
}

// writeMetadata writes the metadata.jsonl of FormatJSONL: one line per sample, in order.
func writeMetadata(dir string, captions []string) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	n := len(captions)
	for i, c := range captions {
		if err := enc.Encode(struct {
			FileName string `json:"file_name"`
			Text     string `json:"text"`
		}{FileName(i, n), c}); err != nil {
			return fmt.Errorf("encode %s line %d: %w", MetadataFile, i+1, err)
		}
	}
	return atomicfile.WriteFile(filepath.Join(dir, MetadataFile), buf.Bytes(), 0o644)
}

// writeSample writes one image, and in the sidecar format its caption, and returns the caption.
func writeSample(dir string, cfg Config, i, n int, format Format) (string, error) {
	img, caption := Generate(cfg, i)
	data, err := EncodePNG(img)
	if err != nil {
		return "", fmt.Errorf("encode image %d: %w", i, err)
	}
	name := FileName(i, n)
	if err := atomicfile.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		return "", err
	}
	if format == FormatSidecar {
		txt := name[:len(name)-len(filepath.Ext(name))] + ".txt"
		if err := atomicfile.WriteFile(filepath.Join(dir, txt), []byte(caption+"\n"), 0o644); err != nil {
			return "", err
		}
	}
	return caption, nil
}

// EncodePNG encodes an image the way WriteDataset stores it (best compression), so a hash of its
// output identifies a sample.
func EncodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
