package metrics

import "math"

// CIDEr-D as pycocoevalcap's cider/cider_scorer.py computes it (the scorer COCO reports as
// "CIDEr"): n-grams of orders 1..4 weighted by tf-idf, where the document frequency of an n-gram
// is the number of images whose references contain it and the idf is log(number of images) minus
// log(max(1, df)); per order, the cosine similarity between the candidate and each reference with
// the candidate's weights clipped to the reference's; a Gaussian length penalty with sigma 6; the
// mean over the four orders and over the references, times 10. The corpus score is the mean over
// images.
//
// Two details of the original are kept because they change the numbers: the document frequencies
// and the idf come from the references of the evaluated images only, so the same caption scores
// differently in a different set; and the "length" in the penalty counts bigrams, not words (the
// original tests the 0-based order index against 1), so one word and no words both have length 0.

const (
	ciderOrder = maxOrder
	ciderSigma = 6.0
)

// ciderVec is the tf-idf vector of one caption: weights aligned with caption.grams.
type ciderVec struct {
	grams  *[ciderOrder][]gramCount
	weight [ciderOrder][]float64
	norm   [ciderOrder]float64
	length int // number of bigrams
}

// cider returns the corpus CIDEr-D and each image's.
func cider(cands []caption, refs [][]caption, numGrams int) (corpus float64, perImage []float64) {
	// Document frequency: the number of images whose references contain the n-gram.
	df := make([]float64, numGrams)
	seen := newStampedTable(numGrams)
	for i := range refs {
		seen.reset()
		for _, ref := range refs[i] {
			for _, list := range ref.grams {
				for _, g := range list {
					if seen.get(g.id) == 0 {
						seen.set(g.id, 1)
						df[g.id]++
					}
				}
			}
		}
	}
	logImages := math.Log(float64(len(cands)))
	idf := make([]float64, numGrams)
	for id, d := range df {
		idf[id] = logImages - math.Log(max(1, d))
	}
	vec := func(c *caption) ciderVec {
		v := ciderVec{grams: &c.grams}
		for n, list := range c.grams {
			v.weight[n] = make([]float64, len(list))
			for j, g := range list {
				w := float64(g.count) * idf[g.id]
				v.weight[n][j] = w
				v.norm[n] += w * w
				if n == 1 {
					v.length += int(g.count)
				}
			}
			v.norm[n] = math.Sqrt(v.norm[n])
		}
		return v
	}
	perImage = make([]float64, len(cands))
	var sum float64
	for i := range cands {
		hyp := vec(&cands[i])
		var total [ciderOrder]float64
		for j := range refs[i] {
			sim := ciderSim(hyp, vec(&refs[i][j]))
			for n := range total {
				total[n] += sim[n]
			}
		}
		var mean float64
		for _, s := range total {
			mean += s
		}
		mean /= ciderOrder
		perImage[i] = mean / float64(len(refs[i])) * 10
		sum += perImage[i]
	}
	return sum / float64(len(cands)), perImage
}

// ciderSim is the clipped, length-penalized cosine similarity per n-gram order. An n-gram of the
// candidate that the reference lacks adds min(w, 0)·0 = 0, so only shared n-grams are visited.
func ciderSim(hyp, ref ciderVec) [ciderOrder]float64 {
	var val [ciderOrder]float64
	delta := float64(hyp.length - ref.length)
	penalty := math.Exp(-(delta * delta) / (2 * ciderSigma * ciderSigma))
	for n := range val {
		h, r := hyp.grams[n], ref.grams[n]
		for a, b := 0, 0; a < len(h) && b < len(r); {
			switch {
			case h[a].id < r[b].id:
				a++
			case h[a].id > r[b].id:
				b++
			default:
				wh, wr := hyp.weight[n][a], ref.weight[n][b]
				val[n] += min(wh, wr) * wr
				a++
				b++
			}
		}
		if hyp.norm[n] != 0 && ref.norm[n] != 0 {
			val[n] /= hyp.norm[n] * ref.norm[n]
		}
		val[n] *= penalty
	}
	return val
}
