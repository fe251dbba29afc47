package annotate

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestEvalSetChoosesHeldOutImages(t *testing.T) {
	tests := []struct {
		name    string
		holdout Holdout
		splits  map[int]Split
		source  EvalSource
		want    []int // image numbers scored; nil: those TrainingSet holds out
		how     string
	}{
		{"no splits: the run's tenth", HoldoutAuto, nil, EvalHoldout, nil, "every tenth image"},
		{"val split", HoldoutAuto, map[int]Split{0: SplitVal, 1: SplitVal, 3: SplitTrain, 5: SplitTest}, EvalVal, []int{0, 1}, "val split, 2 images"},
		{"train and test splits", HoldoutAuto, map[int]Split{0: SplitTrain, 5: SplitTest, 6: SplitTest}, EvalTest, []int{5, 6}, "test split"},
		{"tenth skips a val split that trained", HoldoutTenth, map[int]Split{0: SplitVal, 7: SplitTest}, EvalTest, []int{7}, "test split, 1 image"},
		{"nothing held out says so", HoldoutNone, nil, EvalTrain, nil, "flatter"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := trainingDataset(t, tc.splits)
			got := d.EvalSet(TrainTrusted, tc.holdout)
			if got.Source != tc.source {
				t.Errorf("source %q, want %q", got.Source, tc.source)
			}
			if !strings.Contains(got.How, tc.how) {
				t.Errorf("How %q does not say %q", got.How, tc.how)
			}
			var want []string
			for _, i := range tc.want {
				want = append(want, d.AbsPath(d.Item(i)))
			}
			if tc.want == nil {
				ts := d.TrainingSet(TrainTrusted, tc.holdout)
				for _, im := range map[bool][]TrainingImage{true: ts.Val, false: ts.Train}[tc.source == EvalHoldout] {
					want = append(want, im.Path)
				}
			}
			if g := paths(got.Images); !reflect.DeepEqual(g, want) {
				t.Errorf("images %v, want %v", g, want)
			}
			for _, im := range got.Images {
				if len(im.Captions) == 0 || !strings.HasPrefix(filepath.Base(im.Path), "img") {
					t.Errorf("%s: no reference captions", im.Path)
				}
			}
		})
	}
}

func TestSplitImagesKeepsChosenCaptions(t *testing.T) {
	d := trainingDataset(t, nil)
	tests := []struct {
		captions TrainingCaptions
		want     int
	}{
		{TrainTrusted, 25}, {TrainApproved, 5}, {TrainAll, 35},
	}
	for _, tc := range tests {
		if got := len(d.SplitImages(SplitNone, tc.captions)); got != tc.want {
			t.Errorf("SplitImages(all, %s): %d images, want %d", tc.captions, got, tc.want)
		}
	}
}

func paths(images []TrainingImage) []string {
	var out []string
	for _, im := range images {
		out = append(out, im.Path)
	}
	return out
}
