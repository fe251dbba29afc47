package inference

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"

	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/internal/tx"
)

// DecodeOptions are the generation settings users know from transformers' generate(). Lengths
// count the start tokens ([DEC] and the prompt), as transformers does.
type DecodeOptions struct {
	MaxLength         int     // total length cap (default 20)
	MinLength         int     // the end token is forbidden before this length (default 0)
	NumBeams          int     // 1 = greedy or sampling; >1 = beam search
	LengthPenalty     float64 // beam score = sum log p / generated_len^LengthPenalty (default 1)
	EarlyStopping     bool    // beam search stops as soon as NumBeams hypotheses are finished
	DoSample          bool    // sample instead of taking the most likely token
	TopK              int     // sampling: keep the K most likely tokens (0 = all)
	TopP              float64 // sampling: keep the smallest set with probability >= TopP (0 or 1 = all)
	Temperature       float64 // sampling: divide logits by this (default 1)
	Seed              uint64  // sampling: random seed
	RepetitionPenalty float64 // > 1 discourages tokens already present (default 1 = off)
	NoRepeatNgramSize int     // forbid repeating any n-gram of this size (0 = off)
	Prompt            []int64 // token ids after [DEC] that every caption starts with
}

// DefaultDecodeOptions returns transformers' generate() defaults for BLIP (greedy, max length 20).
func DefaultDecodeOptions() DecodeOptions {
	return DecodeOptions{MaxLength: 20, NumBeams: 1, LengthPenalty: 1, Temperature: 1, RepetitionPenalty: 1}
}

func (o *DecodeOptions) normalize() error {
	if o.MaxLength <= 0 {
		o.MaxLength = 20
	}
	if o.NumBeams <= 0 {
		o.NumBeams = 1
	}
	if o.Temperature == 0 {
		o.Temperature = 1
	}
	if o.RepetitionPenalty == 0 {
		o.RepetitionPenalty = 1
	}
	if o.LengthPenalty == 0 && !o.EarlyStopping {
		o.LengthPenalty = 1
	}
	switch {
	case o.Temperature < 0 || math.IsNaN(o.Temperature):
		return fmt.Errorf("temperature %v must be positive", o.Temperature)
	case o.TopP < 0 || o.TopP > 1 || math.IsNaN(o.TopP):
		return fmt.Errorf("top_p %v must be in [0, 1]", o.TopP)
	case o.TopK < 0:
		return fmt.Errorf("top_k %d must not be negative", o.TopK)
	case o.RepetitionPenalty < 0 || math.IsNaN(o.RepetitionPenalty):
		return fmt.Errorf("repetition_penalty %v must be positive", o.RepetitionPenalty)
	case o.MinLength > o.MaxLength:
		return fmt.Errorf("min_length %d is larger than max_length %d", o.MinLength, o.MaxLength)
	case o.NoRepeatNgramSize < 0:
		return fmt.Errorf("no_repeat_ngram_size %d must not be negative", o.NoRepeatNgramSize)
	}
	return nil
}

// ErrPromptTooLong is returned when the prompt leaves no room to generate within MaxLength.
var ErrPromptTooLong = errors.New("prompt leaves no room to generate")

// Generate captions a batch of images, pixels [B, 3, H, W]. Each result is the token sequence as
// transformers' BlipForConditionalGeneration.generate returns it: [DEC], the prompt, the generated
// tokens, and the end token ([SEP]) when one was generated, without padding.
func (m *Model) Generate(pixels *ts.Tensor, opts DecodeOptions) ([][]int64, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	start := append([]int64{m.Config.Text.BosTokenID}, opts.Prompt...)
	if len(start) >= opts.MaxLength {
		return nil, fmt.Errorf("%w: %d start tokens, max length %d", ErrPromptTooLong, len(start), opts.MaxLength)
	}
	if int64(opts.MaxLength) > m.Config.Text.MaxPositionEmbeddings {
		return nil, fmt.Errorf("max length %d exceeds the decoder's %d positions", opts.MaxLength, m.Config.Text.MaxPositionEmbeddings)
	}
	// Grad mode is a libtorch thread-local: keep this goroutine on one OS thread while it is off.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ng := ts.NewNoGradGuard()
	defer ng.Drop()
	defer m.lowPrecision()()
	s := tx.NewScope()
	defer s.Free()
	img := m.encodeChunked(s, pixels)
	if opts.NumBeams > 1 {
		return m.beamSearch(s, img, start, opts)
	}
	return m.sampleOrGreedy(s, img, start, opts), nil
}

// stepLogits feeds new tokens rows×T and returns the last position's logits [rows, vocab] on the CPU.
// The step's tensors live in a scope of their own; the cache keeps its keys and values.
func (m *Model) stepLogits(newIDs [][]int64, cache []*LayerCache, past int64, logProbs bool) [][]float32 {
	s := tx.NewScope()
	defer s.Free()
	h := m.Text.Step(s, idsTensor(s, newIDs, m.Device), cache, past, m.Device)
	last := narrow(s, h, 1, h.Shape()[1]-1, 1)
	logits := toFloat32(s, squeezeDim(s, m.Text.Head.Forward(s, last), 1))
	if logProbs {
		logits = logSoftmax(s, logits, -1)
	}
	buf := floats(s, logits)
	v := int(m.Config.Text.VocabSize)
	out := make([][]float32, len(newIDs))
	for i := range out {
		out[i] = buf[i*v : (i+1)*v]
	}
	return out
}

// applyProcessors applies, in place, the logits processors transformers uses for these options.
func (o *DecodeOptions) applyProcessors(ids []int64, scores []float32, eos int64) {
	if o.RepetitionPenalty != 1 {
		p := float32(o.RepetitionPenalty)
		seen := map[int64]bool{}
		for _, id := range ids {
			if seen[id] {
				continue
			}
			seen[id] = true
			if s := scores[id]; s < 0 {
				scores[id] = s * p
			} else {
				scores[id] = s / p
			}
		}
	}
	if n := o.NoRepeatNgramSize; n > 0 && len(ids)+1 >= n {
		prefix := ids[len(ids)+1-n:]
		for i := 0; i+n <= len(ids); i++ {
			match := true
			for j := 0; j < n-1; j++ {
				if ids[i+j] != prefix[j] {
					match = false
					break
				}
			}
			if match {
				scores[ids[i+n-1]] = float32(math.Inf(-1))
			}
		}
	}
	if len(ids) < o.MinLength {
		scores[eos] = float32(math.Inf(-1))
	}
}

func argmax(s []float32) int64 {
	best := 0
	for i, v := range s {
		if v > s[best] {
			best = i
		}
	}
	return int64(best)
}

// sampleToken draws from the scores after temperature, top-k and top-p, as transformers' warpers do.
func (o *DecodeOptions) sampleToken(scores []float32, rng *rand.Rand) int64 {
	v := len(scores)
	logits := make([]float64, v)
	for i, s := range scores {
		logits[i] = float64(s) / o.Temperature
	}
	idx := make([]int, v)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return logits[idx[a]] > logits[idx[b]] })
	keep := v
	if o.TopK > 0 && o.TopK < keep {
		keep = o.TopK
	}
	maxL := logits[idx[0]]
	probs := make([]float64, keep)
	var sum float64
	for i := 0; i < keep; i++ {
		p := math.Exp(logits[idx[i]] - maxL)
		probs[i] = p
		sum += p
	}
	if o.TopP > 0 && o.TopP < 1 {
		var cum float64
		for i := 0; i < keep; i++ {
			cum += probs[i] / sum
			if cum >= o.TopP {
				keep = i + 1
				break
			}
		}
		sum = 0
		for i := 0; i < keep; i++ {
			sum += probs[i]
		}
	}
	r := rng.Float64() * sum
	for i := 0; i < keep; i++ {
		r -= probs[i]
		if r <= 0 {
			return int64(idx[i])
		}
	}
	return int64(idx[keep-1])
}

func (m *Model) sampleOrGreedy(s *tx.Scope, img T, start []int64, opts DecodeOptions) [][]int64 {
	b := int(img.Shape()[0])
	eos, pad := m.Config.Text.SepTokenID, m.Config.Text.PadTokenID
	cache := m.Text.NewCache(s, img)
	Reserve(cache, int64(opts.MaxLength))
	seqs := make([][]int64, b)
	for i := range seqs {
		seqs[i] = append([]int64(nil), start...)
	}
	done := make([]bool, b)
	rng := rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))
	feed := make([][]int64, b)
	for i := range feed {
		feed[i] = start
	}
	var past int64
	for cur := len(start); cur < opts.MaxLength; cur++ {
		logits := m.stepLogits(feed, cache, past, false)
		past += int64(len(feed[0]))
		all := true
		for i := 0; i < b; i++ {
			tok := pad
			if !done[i] {
				opts.applyProcessors(seqs[i], logits[i], eos)
				if opts.DoSample {
					tok = opts.sampleToken(logits[i], rng)
				} else {
					tok = argmax(logits[i])
				}
				seqs[i] = append(seqs[i], tok)
				done[i] = tok == eos
			}
			feed[i] = []int64{tok}
			all = all && done[i]
		}
		if all {
			break
		}
	}
	return seqs
}

type hypothesis struct {
	score  float64
	tokens []int64
}

// beamHypotheses keeps the best finished hypotheses of one image, as transformers' BeamHypotheses.
type beamHypotheses struct {
	beams         []hypothesis
	worst         float64
	n             int
	lengthPenalty float64
	early         bool
}

func (h *beamHypotheses) add(tokens []int64, sumLogprobs float64, generated int) {
	score := sumLogprobs / math.Pow(float64(generated), h.lengthPenalty)
	if len(h.beams) < h.n || score > h.worst {
		h.beams = append(h.beams, hypothesis{score, tokens})
		if len(h.beams) > h.n {
			order := make([]int, len(h.beams))
			for i := range order {
				order[i] = i
			}
			sort.SliceStable(order, func(a, b int) bool { return h.beams[order[a]].score < h.beams[order[b]].score })
			worstIdx := order[0]
			h.worst = h.beams[order[1]].score
			h.beams = append(h.beams[:worstIdx], h.beams[worstIdx+1:]...)
		} else {
			h.worst = math.Min(score, h.worst)
		}
	}
}

func (h *beamHypotheses) isDone(bestSumLogprobs float64, curLen, promptLen int) bool {
	if len(h.beams) < h.n {
		return false
	}
	if h.early {
		return true
	}
	return h.worst >= bestSumLogprobs/math.Pow(float64(curLen-promptLen), h.lengthPenalty)
}

func (h *beamHypotheses) best() []int64 {
	bi := 0
	for i, b := range h.beams {
		if b.score >= h.beams[bi].score {
			bi = i
		}
	}
	return h.beams[bi].tokens
}

type candidate struct {
	score float32
	index int
}

// beamCache prepares the decoder's cache for k beams per image, owned by s. Each image's tokens
// are projected to cross-attention keys and values once, and its beams attend to them together,
// rather than repeating the image once per beam (transformers' way; exactly once: see docs/BLIP.md
// on batched beam search): a k-th of the work and of the cache's memory. The self-attention cache
// is reserved for maxLen positions, written in place (see Reserve).
func (m *Model) beamCache(s *tx.Scope, img T, k int, maxLen int64) []*LayerCache {
	cache := m.Text.NewBeamCache(s, img, int64(k))
	Reserve(cache, maxLen)
	return cache
}

// reorderCache keeps rows of the self-attention caches (see ReorderCache).
func (m *Model) reorderCache(cache []*LayerCache, rows []int64) {
	s := tx.NewScope()
	defer s.Free()
	ReorderCache(cache, indexTensor(s, rows, m.Device))
}

// beamStep is one step's choice for every row of a beam search: the next score and token of each
// beam, and the row of the previous step it continues.
type beamStep struct {
	scores []float32
	tokens []int64
	rows   []int64
}

func (m *Model) beamSearch(s *tx.Scope, img T, start []int64, opts DecodeOptions) ([][]int64, error) {
	b, k := int(img.Shape()[0]), opts.NumBeams
	eos := m.Config.Text.SepTokenID
	cache := m.beamCache(s, img, k, int64(opts.MaxLength))
	rows := b * k
	seqs := make([][]int64, rows)
	beamScores := make([]float32, rows)
	for r := range seqs {
		seqs[r] = append([]int64(nil), start...)
		if r%k != 0 {
			beamScores[r] = -1e9 // only the first beam of each image is live at the start
		}
	}
	hyps := make([]*beamHypotheses, b)
	for i := range hyps {
		hyps[i] = &beamHypotheses{worst: 1e9, n: k, lengthPenalty: opts.LengthPenalty, early: opts.EarlyStopping}
	}
	done := make([]bool, b)
	feed := seqs
	var past int64
	for cur := len(start); cur < opts.MaxLength; cur++ {
		logp := m.stepLogits(feed, cache, past, true)
		past += int64(len(feed[0]))
		for r := 0; r < rows; r++ {
			opts.applyProcessors(seqs[r], logp[r], eos)
			bs := beamScores[r]
			for v := range logp[r] {
				logp[r][v] += bs
			}
		}
		next := beamStep{make([]float32, rows), make([]int64, rows), make([]int64, rows)}
		for bi := 0; bi < b; bi++ {
			if err := m.chooseBeams(&next, logp, seqs, hyps[bi], &done[bi], bi, k, cur, len(start)); err != nil {
				return nil, err
			}
		}
		feed = make([][]int64, rows)
		newSeqs := make([][]int64, rows)
		for r := 0; r < rows; r++ {
			src := seqs[next.rows[r]]
			newSeqs[r] = append(append(make([]int64, 0, len(src)+1), src...), next.tokens[r])
			feed[r] = []int64{next.tokens[r]}
		}
		seqs, beamScores = newSeqs, next.scores
		m.reorderCache(cache, next.rows)
		if allTrue(done) {
			break
		}
	}
	return m.bestBeams(hyps, done, seqs, beamScores, k, len(start), opts.MaxLength), nil
}

// chooseBeams picks image bi's next k beams from the 2k best candidates over its beams × vocabulary
// (transformers' _beam_search): a candidate ending in the end token becomes a finished hypothesis
// when it ranks among the first k, the others continue. A finished image keeps padding.
func (m *Model) chooseBeams(next *beamStep, logp [][]float32, seqs [][]int64, hyps *beamHypotheses, done *bool, bi, k, cur, promptLen int) error {
	eos, pad := m.Config.Text.SepTokenID, m.Config.Text.PadTokenID
	vocab := int(m.Config.Text.VocabSize)
	if *done {
		for j := 0; j < k; j++ {
			next.scores[bi*k+j], next.tokens[bi*k+j], next.rows[bi*k+j] = 0, pad, int64(bi*k)
		}
		return nil
	}
	top := topCandidates(logp[bi*k:bi*k+k], vocab, 2*k)
	slot := 0
	for rank, c := range top {
		row := bi*k + c.index/vocab
		tok := int64(c.index % vocab)
		if tok == eos {
			if rank >= k {
				continue
			}
			hyps.add(append([]int64(nil), seqs[row]...), float64(c.score), cur+1-promptLen)
		} else {
			next.scores[bi*k+slot], next.tokens[bi*k+slot], next.rows[bi*k+slot] = c.score, tok, int64(row)
			slot++
		}
		if slot == k {
			break
		}
	}
	if slot < k {
		return fmt.Errorf("beam search: fewer than %d non-end candidates", k)
	}
	*done = hyps.isDone(float64(top[0].score), cur+1, promptLen)
	return nil
}

// bestBeams returns each image's best hypothesis, after adding the live beams of the images that
// did not finish, with the end token appended when there is room (as transformers pads).
func (m *Model) bestBeams(hyps []*beamHypotheses, done []bool, seqs [][]int64, beamScores []float32, k, promptLen, maxLen int) [][]int64 {
	out := make([][]int64, len(hyps))
	for bi, h := range hyps {
		if !done[bi] {
			for j := 0; j < k; j++ {
				r := bi*k + j
				h.add(seqs[r], float64(beamScores[r]), len(seqs[r])-promptLen)
			}
		}
		best := append([]int64(nil), h.best()...)
		if len(best) < maxLen {
			best = append(best, m.Config.Text.SepTokenID)
		}
		out[bi] = best
	}
	return out
}

func allTrue(xs []bool) bool {
	for _, x := range xs {
		if !x {
			return false
		}
	}
	return true
}

// topCandidates returns the n best (score, flat index) over k rows of scores, highest first; ties
// go to the lower index.
func topCandidates(rows [][]float32, vocab, n int) []candidate {
	top := make([]candidate, 0, n+1)
	for r, row := range rows {
		for v, s := range row {
			if len(top) == n && s <= top[n-1].score {
				continue
			}
			c := candidate{s, r*vocab + v}
			i := sort.Search(len(top), func(i int) bool { return top[i].score < s })
			top = append(top, candidate{})
			copy(top[i+1:], top[i:])
			top[i] = c
			if len(top) > n {
				top = top[:n]
			}
		}
	}
	return top
}
