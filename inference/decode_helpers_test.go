package inference

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// The decoding helpers are pure Go; these tests pin them to transformers' logits processors and
// BeamHypotheses without libtorch or a model (the parity fixtures check them end to end).

func TestApplyProcessors(t *testing.T) {
	inf := float32(math.Inf(-1))
	tests := []struct {
		name   string
		opts   DecodeOptions
		ids    []int64
		scores []float32
		eos    int64
		want   []float32
	}{
		{"repetition penalty divides positive and multiplies negative scores of seen tokens once",
			DecodeOptions{RepetitionPenalty: 2}, []int64{1, 2, 1}, []float32{0.5, 2, -1, 3}, 0, []float32{0.5, 1, -2, 3}},
		{"penalty 1 is off", DecodeOptions{RepetitionPenalty: 1}, []int64{1, 2}, []float32{0.5, 2, -1}, 0, []float32{0.5, 2, -1}},
		{"no repeat bigram bans what followed the last token before",
			DecodeOptions{RepetitionPenalty: 1, NoRepeatNgramSize: 2}, []int64{5, 1, 2, 1}, []float32{1, 1, 1, 1, 1, 1}, 0, []float32{1, 1, inf, 1, 1, 1}},
		{"no repeat trigram", DecodeOptions{RepetitionPenalty: 1, NoRepeatNgramSize: 3}, []int64{1, 2, 3, 1, 2}, []float32{1, 1, 1, 1}, 0, []float32{1, 1, 1, inf}},
		{"no repeat n-gram longer than the sequence is a no-op",
			DecodeOptions{RepetitionPenalty: 1, NoRepeatNgramSize: 3}, []int64{1}, []float32{1, 1, 1}, 0, []float32{1, 1, 1}},
		{"min length forbids the end token", DecodeOptions{RepetitionPenalty: 1, MinLength: 3}, []int64{1, 2}, []float32{1, 1, 1}, 2, []float32{1, 1, inf}},
		{"min length reached", DecodeOptions{RepetitionPenalty: 1, MinLength: 3}, []int64{1, 2, 0}, []float32{1, 1, 1}, 2, []float32{1, 1, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := append([]float32(nil), tc.scores...)
			tc.opts.applyProcessors(tc.ids, got, tc.eos)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("scores %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBeamHypotheses(t *testing.T) {
	h := &beamHypotheses{worst: 1e9, n: 2, lengthPenalty: 1}
	if h.isDone(-1, 3, 1) {
		t.Error("done with no finished hypothesis")
	}
	h.add([]int64{1}, -2, 2) // score -1
	h.add([]int64{2}, -3, 1) // score -3
	if h.worst != -3 {
		t.Errorf("worst %v after two, want -3", h.worst)
	}
	h.add([]int64{3}, -1, 1) // score -1 evicts -3
	h.add([]int64{4}, -5, 1) // score -5: worse than every kept one, not kept
	var kept [][]int64
	for _, b := range h.beams {
		kept = append(kept, b.tokens)
	}
	if want := [][]int64{{1}, {3}}; !reflect.DeepEqual(kept, want) || h.worst != -1 {
		t.Errorf("kept %v with worst %v, want %v with worst -1", kept, h.worst, want)
	}
	if got := h.best(); !reflect.DeepEqual(got, []int64{3}) {
		t.Errorf("best %v, want [3] (of equal scores the later, as transformers' stable sort and pop)", got)
	}
	tests := []struct {
		bestSum      float64
		curLen, prom int
		early, want  bool
	}{
		{-3, 4, 1, false, true},    // the best running beam can reach -1 at most: no better
		{-2.5, 4, 1, false, false}, // it could reach -0.83
		{-2.5, 4, 1, true, true},   // early stopping: n finished are enough
	}
	for _, tc := range tests {
		h.early = tc.early
		if got := h.isDone(tc.bestSum, tc.curLen, tc.prom); got != tc.want {
			t.Errorf("isDone(%v, %d, %d) early %v = %v, want %v", tc.bestSum, tc.curLen, tc.prom, tc.early, got, tc.want)
		}
	}
}

func TestTopCandidates(t *testing.T) {
	rows := [][]float32{{0.1, 0.5, 0.3}, {0.5, 0.9, 0}}
	got := topCandidates(rows, 3, 3)
	want := []candidate{{0.9, 4}, {0.5, 1}, {0.5, 3}} // ties: the lower flat index first
	if !reflect.DeepEqual(got, want) {
		t.Errorf("topCandidates = %v, want %v", got, want)
	}
}

func TestArgmaxAndSampling(t *testing.T) {
	if got := argmax([]float32{1, 3, 3, 2}); got != 1 {
		t.Errorf("argmax = %d, want 1 (the first of equal maxima)", got)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	scores := []float32{0, 2, 1, 1.5}
	for _, o := range []DecodeOptions{{Temperature: 1, TopK: 1}, {Temperature: 1, TopP: 0.01}} {
		for i := 0; i < 100; i++ {
			if got := o.sampleToken(scores, rng); got != 1 {
				t.Fatalf("top_k %d top_p %v drew %d, want only the most likely token 1", o.TopK, o.TopP, got)
			}
		}
	}
	// Two tokens with probabilities 1/4 and 3/4.
	o := DecodeOptions{Temperature: 1}
	n, ones := 20000, 0
	for i := 0; i < n; i++ {
		if o.sampleToken([]float32{0, float32(math.Log(3))}, rng) == 1 {
			ones++
		}
	}
	if p := float64(ones) / float64(n); math.Abs(p-0.75) > 0.015 {
		t.Errorf("drew the 3/4 token with frequency %.3f", p)
	}
}
