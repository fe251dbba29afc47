package metrics

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Sentinel errors of Evaluate, wrapped with the image they concern.
var (
	ErrNoImages     = errors.New("no images to evaluate")
	ErrNoReferences = errors.New("no reference captions")
	ErrNoCandidate  = errors.New("no candidate caption")
)

// Scores are corpus metrics on pycocoevalcap's scale (0..1, CIDEr-D 0..10) with each image's.
type Scores struct {
	// Bleu holds BLEU-1 to BLEU-4 (pycocoevalcap's Bleu_1 … Bleu_4).
	Bleu [4]float64 `json:"bleu"`
	// RougeL is the mean of the per-image ROUGE-L (pycocoevalcap's ROUGE_L).
	RougeL float64 `json:"rouge_l"`
	// CIDErD is the mean of the per-image CIDEr-D (pycocoevalcap's CIDEr).
	CIDErD float64 `json:"cider_d"`
	// Images maps each image id to its own scores.
	Images map[string]ImageScores `json:"images"`
}

// ImageScores are one image's metrics. BLEU of a single image is pycocoevalcap's per-image BLEU
// (with its own brevity penalty); the corpus BLEU is not their mean.
type ImageScores struct {
	Bleu   [4]float64 `json:"bleu"`
	RougeL float64    `json:"rouge_l"`
	CIDErD float64    `json:"cider_d"`
}

// Evaluate scores one candidate caption per image against the image's reference captions, as
// pycocoevalcap's COCOEvalCap.evaluate does: every caption is tokenized with Tokenize, then BLEU,
// ROUGE-L and CIDEr-D are computed over all images. refs and cands must have the same image ids,
// and every image needs at least one reference; an empty candidate is scored (near zero).
// CIDEr-D's document frequencies come from the references passed in, so scores depend on the
// set: compare two models on the same images.
func Evaluate(refs map[string][]string, cands map[string]string) (Scores, error) {
	ids, err := checkImages(refs, cands)
	if err != nil {
		return Scores{}, err
	}
	tokRefs := make([][]string, len(ids))
	tokCands := make([]string, len(ids))
	for i, id := range ids {
		for _, r := range refs[id] {
			tokRefs[i] = append(tokRefs[i], strings.Join(Tokenize(r), " "))
		}
		tokCands[i] = strings.Join(Tokenize(cands[id]), " ")
	}
	return score(ids, tokRefs, tokCands), nil
}

// checkImages validates the inputs of Evaluate and returns the image ids in sorted order, so that
// sums run in the same order on every call.
func checkImages(refs map[string][]string, cands map[string]string) ([]string, error) {
	if len(refs) == 0 && len(cands) == 0 {
		return nil, ErrNoImages
	}
	ids := make([]string, 0, len(refs))
	for id := range refs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if len(refs[id]) == 0 {
			return nil, fmt.Errorf("image %q: %w", id, ErrNoReferences)
		}
		if _, ok := cands[id]; !ok {
			return nil, fmt.Errorf("image %q: %w", id, ErrNoCandidate)
		}
	}
	var extra []string
	for id := range cands {
		if _, ok := refs[id]; !ok {
			extra = append(extra, id)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return nil, fmt.Errorf("image %q has a candidate: %w", extra[0], ErrNoReferences)
	}
	return ids, nil
}

// score computes all metrics on tokenized captions (tokens joined by single spaces), image i
// being ids[i].
func score(ids []string, refs [][]string, cands []string) Scores {
	in := newInterner()
	candCaps := make([]caption, len(cands))
	refCaps := make([][]caption, len(refs))
	for i := range cands {
		candCaps[i] = in.caption(cands[i])
		for _, r := range refs[i] {
			refCaps[i] = append(refCaps[i], in.caption(r))
		}
	}
	bleuCorpus, bleuImages := bleu(candCaps, refCaps, in.numGrams())
	ciderCorpus, ciderImages := cider(candCaps, refCaps, in.numGrams())
	s := Scores{Bleu: bleuCorpus, CIDErD: ciderCorpus, Images: make(map[string]ImageScores, len(ids))}
	for i, id := range ids {
		r := rougeL(cands[i], refs[i])
		s.RougeL += r
		s.Images[id] = ImageScores{Bleu: bleuImages[i], RougeL: r, CIDErD: ciderImages[i]}
	}
	s.RougeL /= float64(len(ids))
	return s
}

// Percent formats a score times 100 with one decimal, as captioning papers print BLEU, ROUGE-L
// and CIDEr ("0.3642" → "36.4", a CIDEr-D of 1.1703 → "117.0").
func Percent(x float64) string {
	return strconv.FormatFloat(100*x, 'f', 1, 64)
}

// String prints the corpus scores times 100, the way papers report them.
func (s Scores) String() string {
	return fmt.Sprintf("BLEU-1 %s  BLEU-2 %s  BLEU-3 %s  BLEU-4 %s  ROUGE-L %s  CIDEr-D %s",
		Percent(s.Bleu[0]), Percent(s.Bleu[1]), Percent(s.Bleu[2]), Percent(s.Bleu[3]),
		Percent(s.RougeL), Percent(s.CIDErD))
}
