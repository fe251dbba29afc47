package inference

import (
	"os"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/internal/tx"
)

// sectionClock adds up wall time by section; libtorch's CPU ops are synchronous, so a Go clock
// around a call measures its work.
type sectionClock struct {
	total map[string]time.Duration
	order []string
}

func (p *sectionClock) time(name string, f func()) {
	start := time.Now()
	f()
	if p.total == nil {
		p.total = map[string]time.Duration{}
	}
	if _, ok := p.total[name]; !ok {
		p.order = append(p.order, name)
	}
	p.total[name] += time.Since(start)
}

// TestProfileBeamBatch times one batch of 8 images × 3 beams, 20 tokens, section by section, on the
// model named by CAPTUNE_PROFILE_MODEL (bench/README.md: build/bench/blip-base-random). It walks
// the decoder as Step and beamSearch do, with a clock around each part: the vision encoder, the
// cross-attention keys and values, and per decoding step the self-attention, cross-attention, MLP
// and LM head of every layer, log-softmax with the copy to the host, the Go-side beam bookkeeping
// (logits processors, top-k over beams × vocabulary) and the KV cache reordering.
func TestProfileBeamBatch(t *testing.T) {
	dir := os.Getenv("CAPTUNE_PROFILE_MODEL")
	if dir == "" {
		t.Skip("profile: set CAPTUNE_PROFILE_MODEL to a BLIP model folder")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c, _, err := LoadCaptioner(dir, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Free()
	var imgs []*RGBImage
	for _, n := range []string{"rgb.png", "gray.png", "rgba.png", "palette.gif", "photo.jpg", "wide.bmp", "tall.tiff", "exif6.jpg"} {
		img, err := LoadImage("testdata/images/" + n)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	pix, err := c.Pixels(imgs)
	if err != nil {
		t.Fatal(err)
	}
	defer pix.MustDrop()
	ng := ts.NewNoGradGuard()
	defer ng.Drop()
	var p sectionClock
	steps := profileBeams(&p, c.Model, pix, 3, 19)
	var sum time.Duration
	for _, d := range p.total {
		sum += d
	}
	sort.SliceStable(p.order, func(i, j int) bool { return p.total[p.order[i]] > p.total[p.order[j]] })
	t.Logf("8 images × 3 beams, %d decoding steps: %.2f s in all", steps, sum.Seconds())
	t.Logf("%-34s %9s %12s %7s", "section", "total s", "per step ms", "share")
	for _, name := range p.order {
		d := p.total[name]
		t.Logf("%-34s %9.3f %12.1f %6.1f%%", name, d.Seconds(), float64(d.Milliseconds())/float64(steps), 100*d.Seconds()/sum.Seconds())
	}
}

// profileBeams runs the beam batch under the clock and returns the number of decoding steps.
func profileBeams(p *sectionClock, m *Model, pix *ts.Tensor, k, steps int) int {
	s := tx.NewScope()
	defer s.Free()
	var img T
	p.time("vision encoder (once)", func() { img = m.encode(s, pix) })
	var cache []*LayerCache
	p.time("cross-attention K/V (once)", func() { cache = m.beamCache(s, img, k, int64(steps+1)) })
	b := int(img.Shape()[0])
	rows, vocab, eos := b*k, int(m.Config.Text.VocabSize), m.Config.Text.SepTokenID
	opts := DefaultDecodeOptions()
	opts.MinLength = 5
	seqs, feed := make([][]int64, rows), make([][]int64, rows)
	for r := range seqs {
		seqs[r] = []int64{m.Config.Text.BosTokenID}
		feed[r] = seqs[r]
	}
	for step := 0; step < steps; step++ {
		logp := profileStep(p, m, cache, feed, int64(step))
		next, from := make([]int64, rows), make([]int64, rows)
		p.time("beam bookkeeping (Go)", func() {
			for r := range logp {
				opts.applyProcessors(seqs[r], logp[r], eos)
			}
			for bi := 0; bi < b; bi++ {
				slot := 0
				for _, cand := range topCandidates(logp[bi*k:bi*k+k], vocab, 2*k) {
					if tok := int64(cand.index % vocab); tok != eos && slot < k {
						next[bi*k+slot], from[bi*k+slot] = tok, int64(bi*k+cand.index/vocab)
						slot++
					}
				}
			}
		})
		p.time("KV cache reorder", func() { m.reorderCache(cache, from) })
		for r := range seqs {
			seqs[r] = append(append([]int64(nil), seqs[from[r]]...), next[r])
			feed[r] = []int64{next[r]}
		}
	}
	return steps
}

// profileStep is stepLogits for one new token per row, with the clock around each part.
func profileStep(p *sectionClock, m *Model, cache []*LayerCache, feed [][]int64, past int64) [][]float32 {
	s := tx.NewScope()
	defer s.Free()
	var h T
	p.time("embeddings", func() { h = m.Text.Embeddings.Forward(s, idsTensor(s, feed, m.Device), past) })
	for i, l := range m.Text.Layers {
		c := cache[i]
		var x T
		p.time("self-attention (+ KV append)", func() {
			k, v := l.Attention.keyValue(s, h)
			k, v = c.grow(s, k, v)
			x = l.Attention.attend(s, h, k, v, nil, 1)
		})
		p.time("cross-attention", func() { x = l.CrossAttention.attend(s, x, c.CrossK, c.CrossV, nil, c.beams) })
		p.time("MLP", func() {
			ff := l.OutputDense.Forward(s, l.act(s, l.IntermediateDense.Forward(s, x)))
			h = l.OutputLayerNorm.Forward(s, add(s, ff, x))
		})
	}
	var logits T
	p.time("LM head", func() { logits = squeezeDim(s, m.Text.Head.Forward(s, h), 1) })
	var buf []float32
	p.time("log-softmax + copy to host", func() { buf = floats(s, logSoftmax(s, logits, -1)) })
	v := int(m.Config.Text.VocabSize)
	out := make([][]float32, len(feed))
	for i := range out {
		out[i] = buf[i*v : (i+1)*v]
	}
	return out
}
