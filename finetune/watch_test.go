package finetune

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestTextStats(t *testing.T) {
	tests := []struct {
		name                                string
		texts                               []string
		identical, d1, d2, repeated, length float64
	}{
		{"empty", nil, 0, 0, 0, 0, 0},
		{"all distinct", []string{"a red square", "a blue star"}, 0, 5.0 / 6, 1, 0, 3},
		{"collapsed", []string{"a red square", "a red square", "a red square", "a blue star"}, 0.75, 5.0 / 12, 0.5, 0, 3},
		{"stutter", []string{"post post post", "a cat"}, 0, 3.0 / 5, 2.0 / 3, 0.5, 2.5},
		{"repeated bigram", []string{"on the table on the table", "a dog on a mat"}, 0, 6.0 / 11, 7.0 / 9, 0.5, 5.5},
		{"function words recur", []string{"a red square left of a blue star"}, 0, 7.0 / 8, 1, 0, 8},
		{"pairs recur apart", []string{"a large green square left of a large green circle"}, 0, 7.0 / 10, 7.0 / 9, 0, 10},
		{"case and punctuation", []string{"A red square.", "a red square"}, 1, 3.0 / 6, 2.0 / 4, 0, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, d1, d2, rep, l := textStats(tc.texts)
			got := []float64{id, d1, d2, rep, l}
			want := []float64{tc.identical, tc.d1, tc.d2, tc.repeated, tc.length}
			if !slices.EqualFunc(want, got, func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }) {
				t.Errorf("identical, distinct-1, distinct-2, repeated, length = %v, want %v", got, want)
			}
		})
	}
}

func TestCaptionStats(t *testing.T) {
	ex := []Example{
		{Image: "/d/a.png", Captions: []string{"a red square"}},
		{Image: "/d/b.png", Captions: []string{"a blue star", "a small blue star"}},
		{Image: "/d/c.png", Captions: []string{" "}}, // no reference: left out
	}
	st, err := captionStats(ex, map[string]string{"/d/a.png": "a red square", "/d/b.png": "a red square"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Images != 2 || st.Identical != 1 || st.MeanLen != 3 || math.Abs(st.RefLen-10.0/3) > 1e-9 {
		t.Errorf("images %d identical %v length %v refs %v, want 2, 1, 3, 3.33", st.Images, st.Identical, st.MeanLen, st.RefLen)
	}
	if want := []string{"a.png: a red square", "b.png: a red square"}; !slices.Equal(st.Examples, want) {
		t.Errorf("examples %q, want %q", st.Examples, want)
	}
	if st.CIDErD <= 0 || st.BLEU4 <= 0 {
		t.Errorf("CIDEr-D %v BLEU-4 %v: the first caption is exact, both should be positive", st.CIDErD, st.BLEU4)
	}
}

func TestCheckAlarms(t *testing.T) {
	ok := CaptionStats{CIDErD: 3, Identical: 0, Repeated: 0, MeanLen: 8, RefLen: 8}
	with := func(f func(*CaptionStats)) CaptionStats { s := ok; f(&s); return s }
	tests := []struct {
		name         string
		history      []CaptionStats
		refIdentical float64
		want         []string
	}{
		{"none", nil, 0, nil},
		{"healthy", []CaptionStats{ok}, 0, nil},
		{"collapse", []CaptionStats{with(func(s *CaptionStats) { s.Identical = 0.6 })}, 0, []string{"identical"}},
		{"just below collapse", []CaptionStats{with(func(s *CaptionStats) { s.Identical = 0.49 })}, 0, nil},
		{"references repeat themselves", []CaptionStats{with(func(s *CaptionStats) { s.Identical = 0.6 })}, 0.5, nil},
		{"repetition", []CaptionStats{with(func(s *CaptionStats) { s.Repeated = 0.3 })}, 0, []string{"repetition"}},
		{"too short", []CaptionStats{with(func(s *CaptionStats) { s.MeanLen = 4.8 })}, 0, []string{"length"}},
		{"too long", []CaptionStats{with(func(s *CaptionStats) { s.MeanLen = 11.5 })}, 0, []string{"length"}},
		{"length within 40 %", []CaptionStats{with(func(s *CaptionStats) { s.MeanLen = 5 })}, 0, nil},
		{"cider falls twice", []CaptionStats{ok, with(func(s *CaptionStats) { s.CIDErD = 2 }), with(func(s *CaptionStats) { s.CIDErD = 1 })}, 0, []string{"cider"}},
		{"cider wobbles down", []CaptionStats{ok, with(func(s *CaptionStats) { s.CIDErD = 2.9 }), with(func(s *CaptionStats) { s.CIDErD = 2.8 })}, 0, nil},
		{"cider falls once", []CaptionStats{ok, ok, with(func(s *CaptionStats) { s.CIDErD = 1 })}, 0, nil},
		{"cider falls after a rise", []CaptionStats{with(func(s *CaptionStats) { s.CIDErD = 1 }), ok, with(func(s *CaptionStats) { s.CIDErD = 2 })}, 0, nil},
		{"everything", []CaptionStats{ok, with(func(s *CaptionStats) { s.CIDErD = 2 }), {CIDErD: 1, Identical: 1, Repeated: 1, MeanLen: 20, RefLen: 8}}, 0,
			[]string{"identical", "repetition", "length", "cider"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, a := range checkAlarms(tc.history, tc.refIdentical, 0) {
				got = append(got, a.Kind)
				if !strings.Contains(a.Message, "fewer epochs") {
					t.Errorf("%s alarm %q names no remedy", a.Kind, a.Message)
				}
			}
			if !slices.Equal(tc.want, got) {
				t.Errorf("alarms %q, want %q", got, tc.want)
			}
		})
	}
}

// sampleData reads the bundled sample as the CLI's automatic holdout splits it: every tenth image
// validates.
func sampleData(t *testing.T, dir string) Data {
	t.Helper()
	txts, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
	var d Data
	for i, p := range txts {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		e := Example{Image: strings.TrimSuffix(p, ".txt") + ".png", Captions: []string{strings.TrimSpace(string(b))}}
		if i%10 == 0 {
			d.Val = append(d.Val, e)
		} else {
			d.Train = append(d.Train, e)
		}
	}
	return d
}

// TestHighLearningRateRaisesCollapseAlarm trains the bundled model on the bundled sample at a
// learning rate far too high, as a user who typed one zero too few would, and expects the collapse
// alarm within 3 epochs; with --stop-on-alarm the run stops there and keeps its checkpoints.
func TestHighLearningRateRaisesCollapseAlarm(t *testing.T) {
	cfg, data := bundledSampleRun(t)
	cfg.LR, cfg.Epochs, cfg.WarmupSteps, cfg.StopOnAlarm = lrHigh, 3, 2, true
	var alarmSeen string
	res, err := Run(context.Background(), cfg, data, func(p Progress) {
		if p.Phase == "captions" && p.Captions != nil {
			t.Logf("epoch %d: %s %q %s", p.Epoch, p.Captions, p.Captions.Examples, p.Alarm)
			alarmSeen += p.Alarm
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, a := range res.Alarms {
		kinds = append(kinds, a.Kind)
	}
	if !slices.Contains(kinds, "identical") {
		t.Fatalf("alarms %v after %d epochs, want the collapse alarm (identical)", kinds, len(res.Captions))
	}
	if !res.StoppedByAlarm || res.LastCheckpoint == "" || !strings.Contains(alarmSeen, "same caption") {
		t.Errorf("stopped by alarm %v, last checkpoint %q, alarm reported %q", res.StoppedByAlarm, res.LastCheckpoint, alarmSeen)
	}
	log, _ := os.ReadFile(filepath.Join(cfg.OutDir, "train_log.jsonl"))
	if !strings.Contains(string(log), `"kind":"identical"`) || !strings.Contains(string(log), `"identical":`) {
		t.Errorf("train_log.jsonl records no caption stats or alarm:\n%s", log)
	}
}

// lrHigh is about 170× the bundled model's recommended learning rate.
const lrHigh = 0.05

// bundledSampleRun is the configuration a user gets for the bundled model (its recommended
// settings) on the bundled sample's splits, writing into a temporary folder on the CPU.
func bundledSampleRun(t *testing.T) (Config, Data) {
	t.Helper()
	model, sample := "../assets/model", "../assets/sample"
	if _, err := os.Stat(filepath.Join(model, "config.json")); err != nil {
		t.Skipf("no bundled model in %s: %v", model, err)
	}
	cfg := DefaultConfig()
	if rec, ok := LoadRecommendation(model); ok {
		cfg, _ = rec.Apply(cfg, nil)
	}
	cfg.BaseModel, cfg.OutDir, cfg.Device = model, t.TempDir(), "cpu"
	return cfg, sampleData(t, sample)
}
