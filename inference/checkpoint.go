package inference

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/sugarme/gotch/pickle"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/inference/safetensors"
)

// ErrNoWeights is returned when a model folder holds no weights file Captune can read.
var ErrNoWeights = errors.New("no model.safetensors, model.safetensors.index.json or pytorch_model.bin")

// OpenWeights opens the weights of a Hugging Face model folder: model.safetensors, a sharded
// model.safetensors.index.json, or pytorch_model.bin, in that order of preference. Safetensors
// files are memory-mapped (safetensors.OpenMapped): fp32 weights for the CPU are built over the
// mapping without a copy; other dtypes and devices are converted, which copies.
func OpenWeights(dir string) (WeightSource, error) {
	single := filepath.Join(dir, "model.safetensors")
	if _, err := os.Stat(single); err == nil {
		f, err := safetensors.OpenMapped(single)
		if err != nil {
			return nil, err
		}
		return &safetensorsSource{files: map[string]*safetensors.File{single: f}, byName: mapNames(f, single)}, nil
	}
	index := filepath.Join(dir, "model.safetensors.index.json")
	if _, err := os.Stat(index); err == nil {
		return openSharded(dir, index)
	}
	bin := filepath.Join(dir, "pytorch_model.bin")
	if _, err := os.Stat(bin); err == nil {
		return openPickle(bin)
	}
	return nil, fmt.Errorf("load weights from %s: %w", dir, ErrNoWeights)
}

type safetensorsSource struct {
	files  map[string]*safetensors.File
	byName map[string]*safetensors.File
}

func mapNames(f *safetensors.File, path string) map[string]*safetensors.File {
	m := map[string]*safetensors.File{}
	for _, n := range f.Names() {
		m[n] = f
	}
	return m
}

func openSharded(dir, index string) (WeightSource, error) {
	data, err := os.ReadFile(index)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", index, err)
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("load %s: %w", index, err)
	}
	src := &safetensorsSource{files: map[string]*safetensors.File{}, byName: map[string]*safetensors.File{}}
	for name, shard := range idx.WeightMap {
		if filepath.Base(shard) != shard {
			src.Close()
			return nil, fmt.Errorf("load %s: shard %q of %s is not a file name in the model folder", index, shard, name)
		}
		path := filepath.Join(dir, shard)
		f, ok := src.files[path]
		if !ok {
			f, err = safetensors.OpenMapped(path)
			if err != nil {
				src.Close()
				return nil, fmt.Errorf("load %s: %w", index, err)
			}
			src.files[path] = f
		}
		if _, ok := f.Info(name); !ok {
			src.Close()
			return nil, fmt.Errorf("load %s: tensor %s is not in its shard %s", index, name, shard)
		}
		src.byName[name] = f
	}
	return src, nil
}

func (s *safetensorsSource) Names() []string {
	names := make([]string, 0, len(s.byName))
	for n := range s.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (s *safetensorsSource) Shape(name string) ([]int64, bool) {
	f, ok := s.byName[name]
	if !ok {
		return nil, false
	}
	info, _ := f.Info(name)
	return info.Shape, true
}

func (s *safetensorsSource) Load(name string) (*ts.Tensor, error) {
	f, ok := s.byName[name]
	if !ok {
		return nil, fmt.Errorf("tensor %s not in checkpoint", name)
	}
	return f.Tensor(name)
}

func (s *safetensorsSource) Close() error {
	var first error
	for _, f := range s.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// pickleSource holds a PyTorch state dict decoded in full (pytorch_model.bin).
type pickleSource struct {
	tensors map[string]*ts.Tensor
}

func openPickle(path string) (src WeightSource, err error) {
	defer func() {
		// gotch's unpickler was written for trusted files; a malformed one must not end the program.
		if r := recover(); r != nil {
			src, err = nil, fmt.Errorf("load %s: malformed PyTorch checkpoint: %v", path, r)
		}
	}()
	m, err := pickle.Decode(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return &pickleSource{tensors: m}, nil
}

func (p *pickleSource) Names() []string {
	names := make([]string, 0, len(p.tensors))
	for n := range p.tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (p *pickleSource) Shape(name string) ([]int64, bool) {
	t, ok := p.tensors[name]
	if !ok {
		return nil, false
	}
	return t.MustSize(), true
}

func (p *pickleSource) Load(name string) (*ts.Tensor, error) {
	t, ok := p.tensors[name]
	if !ok {
		return nil, fmt.Errorf("tensor %s not in checkpoint", name)
	}
	return t.ShallowClone()
}

func (p *pickleSource) Close() error {
	for _, t := range p.tensors {
		t.MustDrop()
	}
	p.tensors = nil
	return nil
}
