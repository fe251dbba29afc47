// Package metrics computes the corpus caption metrics of the COCO caption evaluation exactly as
// pycocoevalcap 1.2 does: PTB tokenization (Stanford CoreNLP 3.4.1's PTBTokenizer, lower-cased,
// punctuation removed), BLEU-1..4, ROUGE-L and CIDEr-D, as corpus scores and per image. It is
// pure Go, with no Java and no Python at run time; testdata/ holds pycocoevalcap's own numbers on
// real COCO captions, made by scripts/make_metric_fixtures.py, and the tests hold this package to
// them within 1e-4.
//
// Scale: numbers are on pycocoevalcap's scale, BLEU and ROUGE-L in 0..1 and CIDEr-D in 0..10. A
// candidate equal to all of its references gets BLEU 1, ROUGE-L 1 and CIDEr-D 10, but n-grams that
// occur in the references of every image weigh nothing in CIDEr-D, so in a set of one image every
// CIDEr-D is 0. Papers print the numbers times 100 ("BLEU-4 36.4, CIDEr 117.0"); Percent and
// Scores.String format them that way.
//
// METEOR and SPICE are not here. METEOR 1.5 aligns words through exact matches, Snowball stems,
// WordNet synonyms and a 60 MB paraphrase table with tuned weights, and pycocoevalcap runs it as a
// Java program; anything short of porting all of that would differ from it by more than 1e-4, and
// a different number under the name METEOR would mislead.
package metrics
