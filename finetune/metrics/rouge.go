package metrics

import "strings"

// ROUGE-L as pycocoevalcap's rouge/rouge.py computes it: for each image, the longest common
// subsequence of the candidate with each reference gives a precision and a recall; the maximum
// precision and the maximum recall over the references (taken separately) are combined into an
// F-measure with beta = 1.2, and the corpus score is the mean over images. Captions are split on
// single spaces, as the original does, so an empty caption counts as one empty token.

const rougeBeta = 1.2

// rougeL scores one candidate against its references.
func rougeL(cand string, refs []string) float64 {
	c := strings.Split(cand, " ")
	var precMax, recMax float64
	for _, ref := range refs {
		r := strings.Split(ref, " ")
		l := float64(lcsLength(r, c))
		precMax = max(precMax, l/float64(len(c)))
		recMax = max(recMax, l/float64(len(r)))
	}
	if precMax == 0 || recMax == 0 {
		return 0
	}
	b2 := rougeBeta * rougeBeta
	return (1 + b2) * precMax * recMax / (recMax + b2*precMax)
}

// lcsLength is the length of the longest common subsequence of a and b.
func lcsLength(a, b []string) int {
	if len(a) < len(b) {
		a, b = b, a
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			if a[i-1] == b[j-1] {
				cur[j] = prev[j-1] + 1
			} else {
				cur[j] = max(prev[j], cur[j-1])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
