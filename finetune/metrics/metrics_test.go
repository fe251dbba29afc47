package metrics

import (
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// tolerance is how close to pycocoevalcap every score must be.
const tolerance = 1e-4

// metricNames are pycocoevalcap's names, in the order of metricValues.
var metricNames = []string{"Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "ROUGE_L", "CIDEr"}

func metricValues(bleu [4]float64, rouge, cider float64) []float64 {
	return []float64{bleu[0], bleu[1], bleu[2], bleu[3], rouge, cider}
}

// pycocoFixture is a pycocoevalcap_<set>.json file.
type pycocoFixture struct {
	Set      string               `json:"set"`
	Source   map[string]string    `json:"source"`
	ImageIDs []int                `json:"image_ids"`
	Corpus   map[string]float64   `json:"corpus"`
	PerImage map[string][]float64 `json:"per_image"`
	Images   []struct {
		ID            string   `json:"id"`
		Refs          []string `json:"refs"`
		Cand          string   `json:"cand"`
		RefsTokenized []string `json:"refs_tokenized"`
		CandTokenized string   `json:"cand_tokenized"`
	} `json:"images"`
}

// compareWithPycoco checks corpus and per-image scores against a fixture; ids[i] is the image of
// the fixture's per-image entry i.
func compareWithPycoco(t *testing.T, fx *pycocoFixture, ids []string, got Scores) {
	t.Helper()
	corpus := metricValues(got.Bleu, got.RougeL, got.CIDErD)
	var report strings.Builder
	for i, name := range metricNames {
		want, ok := fx.Corpus[name]
		if !ok {
			t.Fatalf("fixture has no corpus %s", name)
		}
		report.WriteString("\n  " + name + ": pycocoevalcap " + strconv.FormatFloat(want, 'f', 6, 64) +
			", Go " + strconv.FormatFloat(corpus[i], 'f', 6, 64))
		if d := math.Abs(corpus[i] - want); !(d <= tolerance) {
			t.Errorf("corpus %s = %.6f, pycocoevalcap %.6f (difference %.2g)", name, corpus[i], want, d)
		}
	}
	worst := map[string]float64{}
	for i, name := range metricNames {
		want, ok := fx.PerImage[name]
		if !ok {
			continue
		}
		if len(want) != len(ids) {
			t.Fatalf("fixture has %d per-image %s, %d images", len(want), name, len(ids))
		}
		bad := 0
		for j, id := range ids {
			im, ok := got.Images[id]
			if !ok {
				t.Fatalf("no scores for image %s", id)
			}
			v := metricValues(im.Bleu, im.RougeL, im.CIDErD)[i]
			d := math.Abs(v - want[j])
			worst[name] = max(worst[name], d)
			if !(d <= tolerance) {
				if bad++; bad <= 5 {
					t.Errorf("image %s %s = %.6f, pycocoevalcap %.6f", id, name, v, want[j])
				}
			}
		}
	}
	t.Logf("%s, %d images:%s\n  largest per-image difference: %v", fx.Set, len(ids), report.String(), worst)
}

// TestEvaluateMatchesPycocoevalcapOnCOCO scores real COCO captions and compares every corpus score
// and the per-image scores with pycocoevalcap's.
func TestEvaluateMatchesPycocoevalcapOnCOCO(t *testing.T) {
	s := loadCOCOSample(t)
	for _, set := range []string{"magic_first500", "fakecap_overlap128", "magic_all"} {
		t.Run(set, func(t *testing.T) {
			var fx pycocoFixture
			readJSON(t, filepath.Join("testdata", "pycocoevalcap_"+set+".json"), &fx)
			s.checkSource(t, fx.Source)
			cands := s.preds
			if strings.HasPrefix(set, "fakecap") {
				cands = s.fake
			}
			refs := map[string][]string{}
			hyps := map[string]string{}
			ids := make([]string, len(fx.ImageIDs))
			for i, id := range fx.ImageIDs {
				ids[i] = strconv.Itoa(id)
				refs[ids[i]] = s.refs[id]
				c, ok := cands[id]
				if !ok {
					t.Fatalf("image %d has no candidate in the shared folder", id)
				}
				hyps[ids[i]] = c
			}
			got, err := Evaluate(refs, hyps)
			if err != nil {
				t.Fatal(err)
			}
			compareWithPycoco(t, &fx, ids, got)
		})
	}
}

// TestEvaluateMatchesPycocoevalcapOnHandmade compares tiny made-up cases (empty candidate,
// candidate equal to a reference, punctuation, an empty reference, a fraction) with pycocoevalcap.
func TestEvaluateMatchesPycocoevalcapOnHandmade(t *testing.T) {
	var fx pycocoFixture
	readJSON(t, filepath.Join("testdata", "pycocoevalcap_handmade.json"), &fx)
	refs := map[string][]string{}
	cands := map[string]string{}
	var ids []string
	for _, im := range fx.Images {
		ids = append(ids, im.ID)
		refs[im.ID] = im.Refs
		cands[im.ID] = im.Cand
		for i, r := range im.Refs {
			if got := strings.Join(Tokenize(r), " "); got != im.RefsTokenized[i] {
				t.Errorf("%s: Tokenize(%q) = %q, pycocoevalcap %q", im.ID, r, got, im.RefsTokenized[i])
			}
		}
		if got := strings.Join(Tokenize(im.Cand), " "); got != im.CandTokenized {
			t.Errorf("%s: Tokenize(%q) = %q, pycocoevalcap %q", im.ID, im.Cand, got, im.CandTokenized)
		}
	}
	got, err := Evaluate(refs, cands)
	if err != nil {
		t.Fatal(err)
	}
	compareWithPycoco(t, &fx, ids, got)
}

// TestEvaluateProperties checks what the metrics must do on tiny cases, independently of any
// fixture.
func TestEvaluateProperties(t *testing.T) {
	// Two images with disjoint words, so that every n-gram has a non-zero idf.
	refs := map[string][]string{
		"dog": {"A dog runs on the beach.", "A dog runs on the beach."},
		"cat": {"Two cats sleep on a red sofa.", "Cats napping on a couch."},
	}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9 }
	tests := []struct {
		name  string
		cands map[string]string
		check func(t *testing.T, s Scores)
	}{
		{"candidate equal to the references",
			map[string]string{"dog": "a dog runs on the beach", "cat": "cats"},
			func(t *testing.T, s Scores) {
				im := s.Images["dog"]
				for k, b := range im.Bleu {
					if !near(b, 1) {
						t.Errorf("BLEU-%d = %v, want 1", k+1, b)
					}
				}
				if !near(im.RougeL, 1) || !near(im.CIDErD, 10) {
					t.Errorf("ROUGE-L %v, CIDEr-D %v, want 1 and 10", im.RougeL, im.CIDErD)
				}
			}},
		{"empty candidate",
			map[string]string{"dog": "", "cat": "   "},
			func(t *testing.T, s Scores) {
				for id, im := range s.Images {
					if im.Bleu[0] > 1e-6 || im.RougeL != 0 || im.CIDErD != 0 {
						t.Errorf("%s: %+v, want all zero", id, im)
					}
				}
				if s.Bleu[3] > 1e-6 || s.RougeL != 0 || s.CIDErD != 0 {
					t.Errorf("corpus %v, want zero", s)
				}
			}},
		{"punctuation and case are ignored",
			map[string]string{"dog": "A DOG, on the beach!", "cat": "Cats... on a sofa?"},
			func(t *testing.T, s Scores) {
				plain, err := Evaluate(refs, map[string]string{"dog": "a dog on the beach", "cat": "cats on a sofa"})
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(s, plain) {
					t.Errorf("with punctuation %v, without %v", s, plain)
				}
			}},
		{"a shorter candidate gets a brevity penalty",
			map[string]string{"dog": "a dog runs", "cat": "cats"},
			func(t *testing.T, s Scores) {
				if b := s.Images["dog"].Bleu[0]; !near(b, math.Exp(1-6.0/3)) {
					t.Errorf("BLEU-1 = %v, want exp(1-6/3) = %v (all 3 words match, reference length 6)", b, math.Exp(1-6.0/3))
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Evaluate(refs, tt.cands)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}

func TestEvaluateErrors(t *testing.T) {
	tests := []struct {
		name    string
		refs    map[string][]string
		cands   map[string]string
		want    error
		mention string
	}{
		{"nothing to evaluate", nil, nil, ErrNoImages, ""},
		{"image without references", map[string][]string{"a.jpg": {"a dog"}, "b.jpg": {}},
			map[string]string{"a.jpg": "a dog", "b.jpg": "a cat"}, ErrNoReferences, `"b.jpg"`},
		{"image without candidate", map[string][]string{"a.jpg": {"a dog"}, "b.jpg": {"a cat"}},
			map[string]string{"a.jpg": "a dog"}, ErrNoCandidate, `"b.jpg"`},
		{"candidate for an unknown image", map[string][]string{"a.jpg": {"a dog"}},
			map[string]string{"a.jpg": "a dog", "c.jpg": "a cow"}, ErrNoReferences, `"c.jpg"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Evaluate(tt.refs, tt.cands)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Evaluate() error = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("error %q does not name the image %s", err, tt.mention)
			}
		})
	}
}

func TestPercent(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0.36424, "36.4"}, {1.17032, "117.0"}, {0, "0.0"}, {0.12875, "12.9"},
	}
	for _, tt := range tests {
		if got := Percent(tt.in); got != tt.want {
			t.Errorf("Percent(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
	s := Scores{Bleu: [4]float64{0.568203, 0.35764, 0.214166, 0.128778}, RougeL: 0.398795, CIDErD: 0.492887}
	want := "BLEU-1 56.8  BLEU-2 35.8  BLEU-3 21.4  BLEU-4 12.9  ROUGE-L 39.9  CIDEr-D 49.3"
	if got := s.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// BenchmarkEvaluateCOCO scores the 4,982 images of the shared COCO sample (24,920 references,
// tokenization included).
func BenchmarkEvaluateCOCO(b *testing.B) {
	s := loadCOCOSample(b)
	refs := map[string][]string{}
	cands := map[string]string{}
	for _, id := range s.ids {
		refs[strconv.Itoa(id)] = s.refs[id]
		cands[strconv.Itoa(id)] = s.preds[id]
	}
	for b.Loop() {
		if _, err := Evaluate(refs, cands); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(s.ids)), "images")
}

// BenchmarkTokenizeCOCO tokenizes every caption of the shared COCO sample.
func BenchmarkTokenizeCOCO(b *testing.B) {
	s := loadCOCOSample(b)
	var all []string
	for _, id := range s.ids {
		all = append(all, s.refs[id]...)
		all = append(all, s.preds[id])
	}
	for b.Loop() {
		for _, c := range all {
			Tokenize(c)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(all)), "ns/caption")
}
