// Package trainlog reads what a fine-tuning run leaves in its folder: the train_log.jsonl that
// captune finetune and an exported job's train.py both write, and whether the run's model is
// complete. It does not link libtorch, so the window can watch a run it did not start (a job on a
// cluster whose folder is synced back) while the run is still writing.
//
// A log is read up to its last full line: a writer appends whole lines, so a last line without
// its newline is one being written (or cut short by a kill) and is left for the next read.
package trainlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// FileName is the training log's name in a run folder.
const FileName = "train_log.jsonl"

// DoneFile is written last by an exported job's train.py, in its output folder: the run ended and
// the model beside it is whole.
const DoneFile = "captune_job.json"

// Step is one optimizer step of the log.
type Step struct {
	Step      int     `json:"step"`
	Epoch     int     `json:"epoch"`
	Loss      float64 `json:"loss"`
	LR        float64 `json:"lr"`
	Samples   int     `json:"samples"`
	Processes int     `json:"processes,omitempty"` // train.py: the processes that stepped (0: one)
}

// Validation is one validation loss of the log, after Step.
type Validation struct {
	Step    int     `json:"step"`
	Epoch   int     `json:"epoch"`
	ValLoss float64 `json:"val_loss"`
}

// Log is a training log read so far.
type Log struct {
	Steps       []Step
	Validations []Validation
	Bad         int // complete lines that were not a log entry (skipped)
	Partial     bool
}

// Losses returns the training losses in step order.
func (l Log) Losses() []float64 {
	out := make([]float64, len(l.Steps))
	for i, s := range l.Steps {
		out[i] = s.Loss
	}
	return out
}

// Read reads the log at path up to its last full line.
func Read(path string) (Log, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Log{}, fmt.Errorf("read training log: %w", err)
	}
	return Parse(data), nil
}

// Parse reads log lines from data up to the last newline. Lines that are not an entry (blank,
// not JSON, without a step) are counted in Bad. An entry with a val_loss is a validation, one
// with a loss a step; a later entry for a step already read replaces it (a resumed run writes
// the steps after its checkpoint again).
func Parse(data []byte) Log {
	var l Log
	if i := bytes.LastIndexByte(data, '\n'); i+1 < len(data) {
		l.Partial = true
		data = data[:i+1]
	}
	for _, line := range bytes.Split(data, []byte{'\n'}) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e struct {
			Step    *int     `json:"step"`
			Loss    *float64 `json:"loss"`
			ValLoss *float64 `json:"val_loss"`
		}
		if json.Unmarshal(line, &e) != nil || e.Step == nil {
			l.Bad++
			continue
		}
		switch {
		case e.ValLoss != nil:
			var v Validation
			json.Unmarshal(line, &v)
			l.Validations = append(l.Validations, v)
		case e.Loss != nil:
			var s Step
			json.Unmarshal(line, &s)
			l.addStep(s)
		}
	}
	return l
}

func (l *Log) addStep(s Step) {
	for len(l.Steps) > 0 && l.Steps[len(l.Steps)-1].Step >= s.Step {
		l.Steps = l.Steps[:len(l.Steps)-1]
	}
	l.Steps = append(l.Steps, s)
}

// WeightFiles are the files one of which holds a Hugging Face model's weights.
var WeightFiles = []string{"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"}

// ErrNoWeights is returned for a finished run whose folder has no model weights.
var ErrNoWeights = errors.New("the run finished but its folder holds no model weights")

// ModelReady reports whether dir holds a finished run's complete model. A run that is still
// going (no DoneFile yet) is not ready and not an error; a finished one whose config or weights
// are missing is ErrNoWeights, so the model is reported and never adopted.
func ModelReady(dir string) (bool, error) {
	if _, err := os.Stat(filepath.Join(dir, DoneFile)); err != nil {
		return false, nil
	}
	var done struct {
		Weights *bool `json:"weights"`
	}
	if b, err := os.ReadFile(filepath.Join(dir, DoneFile)); err == nil {
		json.Unmarshal(b, &done)
	}
	if _, err := os.Stat(filepath.Join(dir, "adapter_config.json")); err == nil {
		// A LoRA job's result: peft's adapter folder, loaded onto the base model it names.
		if _, err := os.Stat(filepath.Join(dir, "adapter_model.safetensors")); err == nil {
			return true, nil
		}
		return false, fmt.Errorf("%w: %s has adapter_config.json but no adapter_model.safetensors", ErrNoWeights, dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		return false, fmt.Errorf("%w (%s has no config.json)", ErrNoWeights, dir)
	}
	for _, f := range WeightFiles {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return true, nil
		}
	}
	why := "model.safetensors or pytorch_model.bin is missing"
	if done.Weights != nil && !*done.Weights {
		why = "train.py ran with --no-save"
	}
	return false, fmt.Errorf("%w: %s (%s)", ErrNoWeights, dir, why)
}

// Follower reads a log that is still being written, each Poll reading only the lines added since
// the last (a long run's log is not read again from the start every second). A log that shrank
// (a resumed run cut it back) is read again from the start.
type Follower struct {
	path string
	off  int64 // bytes consumed: up to the end of the last full line read
	log  Log
}

// NewFollower follows the log at path, which need not exist yet.
func NewFollower(path string) *Follower { return &Follower{path: path} }

// Poll reads the lines completed since the last call and reports whether there were any. A
// missing log is not an error: the run has not written it yet.
func (f *Follower) Poll() (changed bool, err error) {
	fi, err := os.Stat(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read training log: %w", err)
	}
	if fi.Size() < f.off {
		f.off, f.log = 0, Log{}
		changed = true
	}
	if fi.Size() == f.off {
		return changed, nil
	}
	file, err := os.Open(f.path)
	if err != nil {
		return changed, fmt.Errorf("read training log: %w", err)
	}
	defer file.Close()
	data := make([]byte, fi.Size()-f.off)
	n, err := file.ReadAt(data, f.off)
	if err != nil && n == 0 {
		return changed, fmt.Errorf("read training log: %w", err)
	}
	data = data[:n]
	end := bytes.LastIndexByte(data, '\n') + 1
	f.log.Partial = end < len(data)
	if end == 0 {
		return changed, nil
	}
	more := Parse(data[:end])
	for _, s := range more.Steps {
		f.log.addStep(s)
	}
	f.log.Validations = append(f.log.Validations, more.Validations...)
	f.log.Bad += more.Bad
	f.off += int64(end)
	return true, nil
}

// Log returns a copy of the log read so far, which another goroutine may keep while f reads on.
func (f *Follower) Log() Log {
	l := f.log
	l.Steps = append([]Step(nil), l.Steps...)
	l.Validations = append([]Validation(nil), l.Validations...)
	return l
}
