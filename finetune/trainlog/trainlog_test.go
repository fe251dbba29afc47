package trainlog

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
)

func TestParse(t *testing.T) {
	step := func(n int, loss float64) string {
		return `{"step":` + itoa(n) + `,"epoch":1,"loss":` + ftoa(loss) + `,"lr":0.001,"samples":4}` + "\n"
	}
	tests := []struct {
		name        string
		data        string
		wantLosses  []float64
		wantVal     []Validation
		bad         int
		wantPartial bool
	}{
		{"empty", "", []float64{}, nil, 0, false},
		{"steps and a validation", step(1, 2.5) + step(2, 2.25) + `{"step":2,"epoch":1,"val_loss":2.75}` + "\n",
			[]float64{2.5, 2.25}, []Validation{{Step: 2, Epoch: 1, ValLoss: 2.75}}, 0, false},
		{"truncated mid-line: read to the last full line", step(1, 2.5) + step(2, 2.25) + `{"step":3,"epoch":1,"lo`,
			[]float64{2.5, 2.25}, nil, 0, true},
		{"a full line that is not JSON is skipped", step(1, 2.5) + "garbage\n" + step(2, 2.25),
			[]float64{2.5, 2.25}, nil, 1, false},
		{"other entries (best, alarms) are neither", step(1, 2.5) + `{"step":1,"best_epoch":1}` + "\n",
			[]float64{2.5}, nil, 0, false},
		{"a resumed run's repeated steps replace the old ones", step(1, 2.5) + step(2, 2.25) + step(3, 2.0) + step(2, 2.2) + step(3, 1.9),
			[]float64{2.5, 2.2, 1.9}, nil, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := Parse([]byte(tc.data))
			if got := l.Losses(); !reflect.DeepEqual(got, tc.wantLosses) {
				t.Errorf("losses %v, want %v", got, tc.wantLosses)
			}
			if !reflect.DeepEqual(l.Validations, tc.wantVal) {
				t.Errorf("validations %v, want %v", l.Validations, tc.wantVal)
			}
			if l.Bad != tc.bad || l.Partial != tc.wantPartial {
				t.Errorf("bad %d partial %v, want %d %v", l.Bad, l.Partial, tc.bad, tc.wantPartial)
			}
		})
	}
}

func TestModelReady(t *testing.T) {
	write := func(dir string, names ...string) {
		for _, n := range names {
			if err := os.WriteFile(filepath.Join(dir, n), []byte("{}"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name      string
		files     []string
		done      string
		wantReady bool
		wantErr   bool
	}{
		{"still running", []string{"config.json", "model.safetensors"}, "", false, false},
		{"done and whole", []string{"config.json", "model.safetensors"}, `{"done":true}`, true, false},
		{"done with pytorch_model.bin", []string{"config.json", "pytorch_model.bin"}, `{"done":true}`, true, false},
		{"done, weights missing", []string{"config.json"}, `{"done":true}`, false, true},
		{"done, saved nothing", nil, `{"done":true,"weights":false}`, false, true},
		{"LoRA job, adapter whole", []string{"adapter_config.json", "adapter_model.safetensors"}, `{"done":true}`, true, false},
		{"LoRA job, adapter weights missing", []string{"adapter_config.json"}, `{"done":true}`, false, true},
		{"LoRA job still running", []string{"adapter_config.json", "adapter_model.safetensors"}, "", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(dir, tc.files...)
			if tc.done != "" {
				if err := os.WriteFile(filepath.Join(dir, DoneFile), []byte(tc.done), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			ready, err := ModelReady(dir)
			if ready != tc.wantReady || (err != nil) != tc.wantErr {
				t.Fatalf("ModelReady = %v, %v; want %v, error %v", ready, err, tc.wantReady, tc.wantErr)
			}
			if err != nil && !errors.Is(err, ErrNoWeights) {
				t.Errorf("error %v does not wrap ErrNoWeights", err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"step":1,"loss":2}` + "\n" + `{"step":1,"val_loss":3}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l := Parse(data)
		for i := 1; i < len(l.Steps); i++ {
			if l.Steps[i].Step <= l.Steps[i-1].Step {
				t.Fatalf("steps out of order: %v", l.Steps)
			}
		}
	})
}

func itoa(n int) string     { return strconv.Itoa(n) }
func ftoa(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func TestOpenRun(t *testing.T) {
	write := func(dir string, files map[string]string) {
		for rel, content := range files {
			p := filepath.Join(dir, filepath.FromSlash(rel))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name    string
		files   map[string]string
		want    func(dir string) Run
		wantErr bool
	}{
		{"job with a local base model", map[string]string{"job.json": `{"base_model": "base_model"}`, "base_model/config.json": "{}"},
			func(dir string) Run {
				return Run{Dir: dir, Out: filepath.Join(dir, "output"), Base: filepath.Join(dir, "base_model"), IsJob: true}
			}, false},
		{"job with a hub model", map[string]string{"job.json": `{"base_model": "Salesforce/blip-image-captioning-base", "base_revision": "abc"}`},
			func(dir string) Run {
				return Run{Dir: dir, Out: filepath.Join(dir, "output"), Base: "Salesforce/blip-image-captioning-base", BaseIsHub: true, BaseRevision: "abc", IsJob: true}
			}, false},
		{"run folder", map[string]string{"train_log.jsonl": ""}, func(dir string) Run { return Run{Dir: dir, Out: dir} }, false},
		{"neither", map[string]string{"notes.txt": ""}, nil, true},
		{"broken job.json", map[string]string{"job.json": "{"}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(dir, tc.files)
			got, err := OpenRun(dir)
			if (err != nil) != tc.wantErr {
				t.Fatalf("OpenRun: %v, want error %v", err, tc.wantErr)
			}
			if tc.want != nil && !reflect.DeepEqual(got, tc.want(dir)) {
				t.Errorf("OpenRun = %+v, want %+v", got, tc.want(dir))
			}
		})
	}
}

// A captune finetune run folder is ready once its model is written; a job only with DoneFile.
func TestRunModelReady(t *testing.T) {
	dir := t.TempDir()
	run := Run{Dir: dir, Out: dir}
	job := Run{Dir: dir, Out: dir, IsJob: true}
	check := func(when string, r Run, want bool) {
		t.Helper()
		if got, err := r.ModelReady(); got != want || err != nil {
			t.Errorf("%s: ModelReady = %v, %v; want %v", when, got, err, want)
		}
	}
	check("empty run folder", run, false)
	for _, f := range []string{"config.json", "model.safetensors"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	check("run folder with its model", run, true)
	check("job output without "+DoneFile, job, false)
}

// A followed log is read as it grows, a line at a time as the writer completes it, and from the
// start again when a resumed run cuts it back.
func TestFollower(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	f := NewFollower(path)
	steps := func() []float64 { return f.Log().Losses() }
	poll := func(when string, wantChanged bool, want []float64) {
		t.Helper()
		changed, err := f.Poll()
		if err != nil || changed != wantChanged || !reflect.DeepEqual(steps(), want) {
			t.Fatalf("%s: Poll = %v, %v, losses %v; want %v, %v", when, changed, err, steps(), wantChanged, want)
		}
	}
	poll("no log yet", false, []float64{})
	appendTo := func(s string) {
		fh, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		fh.WriteString(s)
		fh.Close()
	}
	appendTo(`{"step":1,"loss":3}` + "\n" + `{"step":2,"lo`)
	poll("a full line and half of one", true, []float64{3})
	poll("nothing new", false, []float64{3})
	appendTo(`ss":2.5}` + "\n" + `{"step":2,"val_loss":2.7}` + "\n")
	poll("the line completed", true, []float64{3, 2.5})
	if len(f.Log().Validations) != 1 {
		t.Errorf("validations %v, want one", f.Log().Validations)
	}
	if err := os.WriteFile(path, []byte(`{"step":1,"loss":3.5}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	poll("cut back by a resumed run", true, []float64{3.5})
}
