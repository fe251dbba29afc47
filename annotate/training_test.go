package annotate

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// trainingDataset has 40 images: 0–19 with imported captions, 20–29 with unreviewed model captions,
// 30–34 with approved model captions, 35–39 with a rejected model caption; splits assigns splits.
func trainingDataset(t *testing.T, splits map[int]Split) *Dataset {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{}
	for i := 0; i < 40; i++ {
		files[fmt.Sprintf("img%02d.jpg", i)] = ""
		if i < 20 {
			files[fmt.Sprintf("img%02d.txt", i)] = fmt.Sprintf("a person wrote caption %d", i)
		}
	}
	writeTree(t, dir, files)
	d, _ := openT(t, dir, OpenOptions{})
	t.Cleanup(func() { d.Close() })
	for i := 20; i < 40; i++ {
		c, err := d.AddCaption(i, fmt.Sprintf("a model wrote caption %d", i), ModelOrigin("blip"))
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case i >= 35:
			err = d.SetState(i, c, StateRejected)
		case i >= 30:
			err = d.SetState(i, c, StateApproved)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, sp := range splits {
		if err := d.SetSplit(i, sp); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func TestTrainingSetCaptionsAndHoldout(t *testing.T) {
	tests := []struct {
		name                  string
		captions              TrainingCaptions
		holdout               Holdout
		splits                map[int]Split
		images, val           int // images used, of which validate (-1: by the stable hash)
		untrusted, unreviewed int
		warn                  []string // each a part of some warning
	}{
		{"trusted by default", TrainTrusted, HoldoutAuto, nil, 25, -1, 10, 0, []string{"10 images have only unreviewed model captions"}},
		{"approved only", TrainApproved, HoldoutTenth, nil, 5, -1, 10, 0, []string{"Only "}},
		{"all captions", TrainAll, HoldoutAuto, nil, 35, -1, 0, 10, []string{"10 of 35 images learn from unreviewed model captions"}},
		{"no holdout", TrainTrusted, HoldoutNone, nil, 25, 0, 10, 0, []string{"No validation images"}},
		{"dataset splits", TrainTrusted, HoldoutAuto, map[int]Split{0: SplitVal, 1: SplitVal, 2: SplitTest, 3: SplitTrain, 4: SplitTrain, 30: SplitTrain, 21: SplitTrain},
			5, 2, 1, 0, []string{"Only 3 training images"}},
		{"tenth ignores splits", TrainTrusted, HoldoutTenth, map[int]Split{0: SplitVal, 2: SplitTest}, 24, -1, 10, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := trainingDataset(t, tc.splits)
			s := d.TrainingSet(tc.captions, tc.holdout)
			if n := len(s.Train) + len(s.Val); n != tc.images {
				t.Errorf("%d images (%d train, %d val), want %d", n, len(s.Train), len(s.Val), tc.images)
			}
			wantVal := tc.val
			if wantVal < 0 {
				wantVal = 0
				for _, im := range append(append([]TrainingImage{}, s.Train...), s.Val...) {
					if validates(HoldoutTenth, &Item{Path: filepath.Base(im.Path)}) {
						wantVal++
					}
				}
			}
			if len(s.Val) != wantVal {
				t.Errorf("%d validation images, want %d", len(s.Val), wantVal)
			}
			if s.Untrusted != tc.untrusted || s.Unreviewed != tc.unreviewed {
				t.Errorf("left out %d untrusted, %d kept unreviewed; want %d, %d", s.Untrusted, s.Unreviewed, tc.untrusted, tc.unreviewed)
			}
			all := strings.Join(s.Warnings, "\n")
			for _, w := range tc.warn {
				if !strings.Contains(all, w) {
					t.Errorf("warnings %q lack %q", s.Warnings, w)
				}
			}
			for _, im := range append(s.Train, s.Val...) {
				for _, c := range im.Captions {
					if strings.Contains(c, "model") && tc.captions == TrainTrusted && !strings.Contains(filepath.Base(im.Path), "img3") {
						t.Errorf("%s trains on the unreviewed model caption %q", im.Path, c)
					}
				}
			}
		})
	}
}

func TestParseTrainingChoices(t *testing.T) {
	for _, c := range TrainingCaptionChoices {
		if got, err := ParseTrainingCaptions(string(c)); err != nil || got != c {
			t.Errorf("ParseTrainingCaptions(%q) = %q, %v", c, got, err)
		}
	}
	for _, h := range HoldoutChoices {
		if got, err := ParseHoldout(string(h)); err != nil || got != h {
			t.Errorf("ParseHoldout(%q) = %q, %v", h, got, err)
		}
	}
	if _, err := ParseTrainingCaptions("some"); err == nil {
		t.Error("an unknown choice parsed")
	}
}
