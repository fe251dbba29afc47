package inference

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// MemoryEstimate is the expected peak memory of captioning or a training step, in bytes.
type MemoryEstimate struct {
	Parameters  int64 // number of parameters
	Weights     int64
	Gradients   int64
	Optimizer   int64 // AdamW's two moment estimates
	Activations int64 // kept for the backward pass (training) or the largest live set (captioning)
	Runtime     int64 // libtorch, Go and the window
}

// Total is the sum of the parts.
func (e MemoryEstimate) Total() int64 {
	return e.Weights + e.Gradients + e.Optimizer + e.Activations + e.Runtime
}

// String prints the estimate as one line, in MB.
func (e MemoryEstimate) String() string {
	mb := func(b int64) string { return strconv.FormatInt((b+(1<<19))>>20, 10) }
	s := fmt.Sprintf("%s MB (%.1fM parameters: weights %s MB", mb(e.Total()), float64(e.Parameters)/1e6, mb(e.Weights))
	if e.Gradients > 0 {
		s += fmt.Sprintf(", gradients %s MB, AdamW state %s MB", mb(e.Gradients), mb(e.Optimizer))
	}
	return s + fmt.Sprintf(", activations %s MB, runtime %s MB)", mb(e.Activations), mb(e.Runtime))
}

// ParameterCount counts the captioner's parameters from the config, as the model builds them.
func (c Config) ParameterCount() int64 {
	v, t := c.Vision, c.Text
	h, i, p := v.HiddenSize, v.IntermediateSize, v.PatchSize
	vision := 3*p*p*h + h + h + (v.NumPatches()+1)*h + 2*h // patch conv, class, positions, post LN
	vision += v.NumHiddenLayers * (4*h + 3*h*h + 3*h + h*h + h + h*i + i + i*h + h)
	ht, it, e := t.HiddenSize, t.IntermediateSize, t.EncoderHiddenSize
	text := t.VocabSize*ht + t.MaxPositionEmbeddings*ht + 2*ht
	self := 4*(ht*ht+ht) + 2*ht
	cross := 2*(ht*ht+ht) + 2*(e*ht+ht) + 2*ht
	ffn := ht*it + it + it*ht + ht + 2*ht
	text += t.NumHiddenLayers * (self + cross + ffn)
	text += ht*ht + ht + 2*ht + t.VocabSize*ht + t.VocabSize // LM head
	return vision + text
}

// runtimeBytes is what the process holds besides the model: libtorch's code and allocator, Go,
// and (in the window) Fyne. Measured at about 300 MB for the CLI on CPU.
const runtimeBytes = 300 << 20

// EstimateMemory estimates peak memory for a batch: captioning with beams (training false), or
// one training step of batch images with captions of textLen tokens (fp32 throughout).
func EstimateMemory(c Config, batch, beams, textLen int, training bool) MemoryEstimate {
	params := c.ParameterCount()
	e := MemoryEstimate{Parameters: params, Weights: 4 * params, Runtime: runtimeBytes}
	v, t := c.Vision, c.Text
	n := v.NumPatches() + 1
	b := int64(batch)
	tl := int64(textLen)
	// Per vision layer: ~10 hidden-sized and 2 intermediate-sized tensors per token, and attention
	// scores and probabilities per head.
	visionLayer := n*(10*v.HiddenSize+2*v.IntermediateSize) + 2*v.NumAttentionHeads*n*n
	textLayer := tl*(14*t.HiddenSize+2*t.IntermediateSize) + 2*t.NumAttentionHeads*(tl*tl+tl*n) + 2*n*t.HiddenSize
	logits := 3 * tl * t.VocabSize // logits, log-softmax, their gradient
	if training {
		e.Gradients = 4 * params
		e.Optimizer = 8 * params
		e.Activations = 4 * b * (v.NumHiddenLayers*visionLayer + t.NumHiddenLayers*textLayer + logits)
		return e
	}
	rows := b * int64(max(beams, 1))
	// Captioning keeps no graph: the image tokens, the cross-attention keys and values and the
	// self-attention cache per row, plus the largest layer's temporaries.
	cache := t.NumHiddenLayers * rows * (2*n*t.HiddenSize + 2*tl*t.HiddenSize)
	e.Activations = 4 * (b*n*v.HiddenSize + cache + b*visionLayer + rows*t.VocabSize)
	return e
}

// AvailableMemory returns the memory the system can give this process (MemAvailable), or 0 when
// unknown.
func AvailableMemory() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// FitBatch returns the largest training batch (at most want) whose estimate fits in avail bytes,
// or 0 if not even one image fits.
func FitBatch(c Config, want, textLen int, avail int64) int {
	for b := want; b >= 1; b-- {
		if EstimateMemory(c, b, 1, textLen, true).Total() <= avail {
			return b
		}
	}
	return 0
}
