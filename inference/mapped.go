package inference

import (
	"fmt"

	"github.com/captune/captune/internal/torchx"
)

// Memory-mapped weights. OpenWeights maps safetensors checkpoints, and the builder takes fp32 CPU
// tensors as they lie in the mapping: loading a model for captioning copies nothing, and its
// weights are pages of the page cache shared with every other process that reads the same file.
// The mapping lives as long as the last tensor built over it (see torchx.Mapping), so Model.Free,
// which drops every parameter, unmaps it. Training copies the weights first (OwnWeights).

// OwnWeights gives every parameter still built over the memory-mapped checkpoint a private copy of
// its data, in place, so that every holder of the parameter (layers, optimizer, autograd) sees the
// copy. Training calls it before the first update: the optimizer writes parameters in place, and
// a model being trained must not depend on its base model's file. Captioning never needs it.
func (m *Model) OwnWeights() error {
	for name, v := range m.VS.Variables() {
		v := v
		if !torchx.SharesMapping(v.Ctensor()) {
			continue
		}
		if err := torchx.OwnData(v.Ctensor()); err != nil {
			return fmt.Errorf("copy weight %s: %w", name, err)
		}
	}
	return nil
}

// MappedWeights counts the parameters whose data is read from the memory-mapped checkpoint.
func (m *Model) MappedWeights() int {
	n := 0
	for _, v := range m.VS.Variables() {
		v := v
		if torchx.SharesMapping(v.Ctensor()) {
			n++
		}
	}
	return n
}
