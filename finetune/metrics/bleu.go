package metrics

import "math"

// BLEU as pycocoevalcap's bleu/bleu_scorer.py computes it with option "closest": clipped n-gram
// counts against the maximum count over the references, and a brevity penalty from the reference
// length closest to the candidate's (the shorter one on a tie). The corpus score pools the counts
// and lengths of all images; the per-image scores apply the same formula to one image. The two
// constants are the original's: tiny (1e-15) is added to the matches and small (1e-9) to the
// guesses, so an empty candidate divides by no zero and a zero count gives a score of about zero.

const (
	bleuOrder = maxOrder
	bleuTiny  = 1e-15
	bleuSmall = 1e-9
)

// bleuStats are the sufficient statistics of one image.
type bleuStats struct {
	testLen, refLen int
	guess, correct  [bleuOrder]int
}

// newBleuStats cooks one candidate against its references; maxCounts is scratch space.
func newBleuStats(cand caption, refs []caption, maxCounts *stampedTable) bleuStats {
	maxCounts.reset()
	refLens := make([]int, len(refs))
	for i, ref := range refs {
		refLens[i] = ref.words
		for _, list := range ref.grams {
			for _, g := range list {
				if g.count > maxCounts.get(g.id) {
					maxCounts.set(g.id, g.count)
				}
			}
		}
	}
	st := bleuStats{testLen: cand.words, refLen: closestLength(refLens, cand.words)}
	for n, list := range cand.grams {
		st.guess[n] = max(0, cand.words-n)
		for _, g := range list {
			st.correct[n] += int(min(g.count, maxCounts.get(g.id)))
		}
	}
	return st
}

// closestLength is the reference length nearest to testLen, the smaller one on a tie
// (Python's min over (abs(l - testlen), l) tuples).
func closestLength(refLens []int, testLen int) int {
	best := refLens[0]
	for _, l := range refLens[1:] {
		d, bd := abs(l-testLen), abs(best-testLen)
		if d < bd || (d == bd && l < best) {
			best = l
		}
	}
	return best
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// bleuScores turns pooled statistics into BLEU-1..4.
func bleuScores(testLen, refLen int, guess, correct [bleuOrder]int) [bleuOrder]float64 {
	var out [bleuOrder]float64
	prod := 1.0
	for k := 0; k < bleuOrder; k++ {
		prod *= (float64(correct[k]) + bleuTiny) / (float64(guess[k]) + bleuSmall)
		out[k] = math.Pow(prod, 1/float64(k+1))
	}
	ratio := (float64(testLen) + bleuTiny) / (float64(refLen) + bleuSmall)
	if ratio < 1 {
		for k := range out {
			out[k] *= math.Exp(1 - 1/ratio)
		}
	}
	return out
}

// bleu returns the corpus BLEU-1..4 and each image's.
func bleu(cands []caption, refs [][]caption, numGrams int) (corpus [bleuOrder]float64, perImage [][bleuOrder]float64) {
	var testLen, refLen int
	var guess, correct [bleuOrder]int
	perImage = make([][bleuOrder]float64, len(cands))
	maxCounts := newStampedTable(numGrams)
	for i := range cands {
		st := newBleuStats(cands[i], refs[i], maxCounts)
		perImage[i] = bleuScores(st.testLen, st.refLen, st.guess, st.correct)
		testLen += st.testLen
		refLen += st.refLen
		for k := range guess {
			guess[k] += st.guess[k]
			correct[k] += st.correct[k]
		}
	}
	return bleuScores(testLen, refLen, guess, correct), perImage
}
