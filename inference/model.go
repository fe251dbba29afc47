package inference

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/inference/safetensors"
	"github.com/captune/captune/internal/tx"
)

// Model is BLIP for image captioning (transformers' BlipForConditionalGeneration): a ViT image
// encoder and a BERT text decoder whose parameters live in one VarStore under their Hugging Face keys.
type Model struct {
	Config Config
	VS     *nn.VarStore
	Vision *VisionModel
	Text   *TextDecoder
	Device gotch.Device
	// Precision is the arithmetic of its forward passes (weights stay float32); set it after
	// CheckPrecision approved it for Device.
	Precision Precision
	// Lora holds the LoRA adapters attached to the model's Linear layers, nil without any.
	Lora *Lora
	// linears are the Linear layers by module name (text_decoder.bert.encoder.layer.0.attention.self.query).
	linears map[string]*Linear
}

// NewRandomModel builds a model with freshly initialised weights (for tests and from-scratch training).
func NewRandomModel(cfg Config, device gotch.Device) (*Model, error) {
	m, _, err := buildModel(cfg, device, nil)
	return m, err
}

// NewModelFromWeights builds a model from a checkpoint's tensors. It fails, naming the keys, when
// any is missing or has the wrong shape; unused tensors are only reported.
func NewModelFromWeights(cfg Config, device gotch.Device, src WeightSource) (*Model, LoadReport, error) {
	return buildModel(cfg, device, src)
}

func buildModel(cfg Config, device gotch.Device, src WeightSource) (m *Model, report LoadReport, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, report, err
	}
	vs := nn.NewVarStore(device)
	b := &builder{root: vs.Root(), src: src, device: device, used: map[string]bool{}, aliases: map[string]string{}, built: map[string]*ts.Tensor{}, linears: map[string]*Linear{}}
	runtime.LockOSThread() // grad mode is thread-local in libtorch
	defer runtime.UnlockOSThread()
	ng := ts.NewNoGradGuard()
	m = &Model{Config: cfg, VS: vs, Device: device, linears: b.linears}
	m.Vision = newVisionModel(b, kp("vision_model"), cfg.Vision)
	m.Text = newTextDecoder(b, kp("text_decoder"), cfg.Text)
	ng.Drop()
	if err := b.finish(&report); err != nil {
		vs.Destroy()
		return nil, report, err
	}
	return m, report, nil
}

// LoadModel loads a Hugging Face BLIP captioning model folder (config.json plus model.safetensors,
// a sharded index, or pytorch_model.bin) onto device.
func LoadModel(dir string, device gotch.Device) (*Model, LoadReport, error) {
	cfg, err := LoadConfig(dir)
	if err != nil {
		return nil, LoadReport{}, err
	}
	src, err := OpenWeights(dir)
	if err != nil {
		return nil, LoadReport{}, err
	}
	defer src.Close()
	m, report, err := NewModelFromWeights(cfg, device, src)
	report.Source = dir
	if err != nil {
		return nil, report, fmt.Errorf("load model %s: %w", dir, err)
	}
	return m, report, nil
}

// Free releases every tensor of the model.
func (m *Model) Free() {
	m.DropLora()
	if m.VS != nil {
		m.VS.Destroy()
		m.VS = nil
	}
}

// EncodeImage runs the vision encoder: pixels [B, 3, H, W] on any device to image tokens [B, N, C].
func (m *Model) EncodeImage(pixels *ts.Tensor) *ts.Tensor {
	s := tx.NewScope()
	defer s.Free()
	return s.Keep(m.encode(s, pixels)).TS()
}

// encodeChunked is encode for captioning (no autograd): the images go through the encoder
// encodeChunk at a time, so that one layer's attention scores and MLP activations exist for a few
// images rather than the whole batch at once (each image's tokens depend on that image alone, so
// the result is the same). The decoder then reads all of them.
func (m *Model) encodeChunked(s *tx.Scope, pixels *ts.Tensor) T {
	b := pixels.MustSize()[0]
	if b <= encodeChunk {
		return m.encode(s, pixels)
	}
	parts := make([]T, 0, (b+encodeChunk-1)/encodeChunk)
	for i := int64(0); i < b; i += encodeChunk {
		part := s.Run(func(s *tx.Scope) T {
			p := pixels.MustNarrow(0, i, min(encodeChunk, b-i), false)
			defer p.MustDrop()
			return m.encode(s, p)
		})
		parts = append(parts, part)
	}
	return cat(s, 0, parts...)
}

// encodeChunk is how many images encodeChunked encodes at once.
const encodeChunk = 2

// encode runs the vision encoder in s.
func (m *Model) encode(s *tx.Scope, pixels *ts.Tensor) T {
	defer m.lowPrecision()()
	p := W(pixels)
	if pixels.MustDevice() != m.Device {
		p = to(s, p, m.Device)
	}
	return m.Vision.Forward(s, p)
}

// Logits runs the full model: pixels [B, 3, H, W], ids [B, T] and an optional padding mask [B, T]
// give decoder logits [B, T, vocab], as BlipForConditionalGeneration.forward does.
func (m *Model) Logits(pixels, ids, attention *ts.Tensor) *ts.Tensor {
	defer m.lowPrecision()()
	s := tx.NewScope()
	defer s.Free()
	var att *T
	if attention != nil {
		a := W(attention)
		att = &a
	}
	return s.Keep(toFloat32(s, m.Text.Forward(s, W(ids), att, m.encode(s, pixels), m.Device))).TS()
}

// Tensors returns every parameter by Hugging Face key.
func (m *Model) Tensors() []safetensors.Named {
	vars := m.VS.Variables()
	out := make([]safetensors.Named, 0, len(vars))
	for name, v := range vars {
		v := v
		out = append(out, safetensors.Named{Name: name, Tensor: &v})
	}
	return out
}

// SaveWeights writes the model's parameters as dir/model.safetensors (fp32), atomically.
func (m *Model) SaveWeights(dir string) error {
	return safetensors.Write(filepath.Join(dir, "model.safetensors"), m.Tensors(), map[string]string{"format": "pt"})
}

// SaveConfig writes dir/config.json.
func (m *Model) SaveConfig(dir string) error {
	data, err := json.Marshal(m.Config)
	if err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	path := filepath.Join(dir, "config.json")
	return safetensors.WriteAtomic(path, func(w io.Writer) error { _, err := w.Write(append(data, '\n')); return err })
}

var errNotDir = errors.New("not a folder")

func ensureDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return os.MkdirAll(dir, 0o755)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s: %w", dir, errNotDir)
	}
	return nil
}
