package inference

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/inference/safetensors"
)

// The files of an adapter folder, as peft's save_pretrained writes them.
const (
	AdapterConfigFile  = "adapter_config.json"
	AdapterWeightsFile = "adapter_model.safetensors"
)

// LoraConfig is adapter_config.json: the fields of peft's LoraConfig that decide what the adapter
// computes. Fields Captune does not read are kept (Extra) and written back.
type LoraConfig struct {
	PeftType      string                     `json:"peft_type"`
	BaseModel     string                     `json:"base_model_name_or_path"`
	R             int64                      `json:"r"`
	Alpha         float64                    `json:"lora_alpha"`
	Dropout       float64                    `json:"lora_dropout"`
	TargetModules LoraTargets                `json:"target_modules"`
	Bias          string                     `json:"bias"`
	UseRslora     bool                       `json:"use_rslora"`
	UseDora       bool                       `json:"use_dora"`
	RankPattern   map[string]int64           `json:"rank_pattern"`
	AlphaPattern  map[string]float64         `json:"alpha_pattern"`
	ModulesToSave []string                   `json:"modules_to_save"`
	FanInFanOut   bool                       `json:"fan_in_fan_out"`
	Extra         map[string]json.RawMessage `json:"-"`
}

// LoraTargets is peft's target_modules: a list of module names or name suffixes, or one regex.
type LoraTargets struct {
	List  []string
	Regex string
}

// MarshalJSON writes the list, or the regex as a string.
func (t LoraTargets) MarshalJSON() ([]byte, error) {
	if t.Regex != "" {
		return json.Marshal(t.Regex)
	}
	return json.Marshal(t.List)
}

// UnmarshalJSON reads a list or a string (peft accepts both).
func (t *LoraTargets) UnmarshalJSON(data []byte) error {
	*t = LoraTargets{}
	if err := json.Unmarshal(data, &t.Regex); err == nil {
		return nil
	}
	if err := json.Unmarshal(data, &t.List); err != nil {
		return fmt.Errorf("target_modules: want a list of names or a regex string")
	}
	return nil
}

// NewLoraConfig is a config for fresh adapters with peft's defaults for everything not given.
func NewLoraConfig(base string, r int64, alpha, dropout float64, targets []string) LoraConfig {
	return LoraConfig{PeftType: "LORA", BaseModel: base, R: r, Alpha: alpha, Dropout: dropout,
		TargetModules: LoraTargets{List: LoraTargetModules(targets)}, Bias: "none"}
}

// validate refuses what Captune does not compute as peft would.
func (c LoraConfig) validate() error {
	switch {
	case c.PeftType != "" && c.PeftType != "LORA":
		return fmt.Errorf("peft_type %q: Captune reads LoRA adapters only", c.PeftType)
	case c.R <= 0:
		return fmt.Errorf("lora rank r = %d: want at least 1", c.R)
	case c.Alpha <= 0:
		return fmt.Errorf("lora_alpha = %g: want a positive number", c.Alpha)
	case c.Dropout < 0 || c.Dropout >= 1:
		return fmt.Errorf("lora_dropout = %g: want 0 or more and less than 1", c.Dropout)
	case c.Bias != "" && c.Bias != "none":
		return fmt.Errorf("bias %q: Captune reads and trains adapters with bias \"none\" only", c.Bias)
	case c.UseDora:
		return errors.New("use_dora: DoRA adapters are not supported, only plain LoRA")
	case len(c.ModulesToSave) > 0:
		return fmt.Errorf("modules_to_save %v: adapters that also replace whole modules are not supported", c.ModulesToSave)
	case c.FanInFanOut:
		return errors.New("fan_in_fan_out: BLIP's layers store weights as [out, in]; this adapter was made for another architecture")
	case len(c.TargetModules.List) == 0 && c.TargetModules.Regex == "":
		return errors.New("target_modules: empty")
	}
	return nil
}

// patternKey finds the entry of a peft rank_pattern / alpha_pattern for module: the key matches
// the module's name or its end after a dot (peft's `(.*\.)?KEY$`).
func patternKey[V any](pattern map[string]V, module string) (V, bool) {
	for k, v := range pattern {
		if module == k || strings.HasSuffix(module, "."+k) {
			return v, true
		}
	}
	var zero V
	return zero, false
}

// rankOf is the rank a fresh adapter gets on module.
func (c LoraConfig) rankOf(module string) int64 {
	if r, ok := patternKey(c.RankPattern, module); ok {
		return r
	}
	return c.R
}

// scaling is the factor on an adapter's path: alpha / r, or alpha / √r with rsLoRA.
func (c LoraConfig) scaling(module string, r int64) float64 {
	alpha := c.Alpha
	if a, ok := patternKey(c.AlphaPattern, module); ok {
		alpha = a
	}
	if c.UseRslora {
		return alpha / math.Sqrt(float64(r))
	}
	return alpha / float64(r)
}

// IsAdapterDir reports whether dir holds a peft adapter (adapter_config.json).
func IsAdapterDir(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, AdapterConfigFile))
	return err == nil
}

// ReadLoraConfig reads dir/adapter_config.json.
func ReadLoraConfig(dir string) (LoraConfig, error) {
	path := filepath.Join(dir, AdapterConfigFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return LoraConfig{}, fmt.Errorf("load adapter %s: %w", dir, err)
	}
	var c LoraConfig
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("load %s: %w", path, err)
	}
	if err := json.Unmarshal(data, &c.Extra); err != nil {
		return c, fmt.Errorf("load %s: %w", path, err)
	}
	for _, k := range knownLoraKeys {
		delete(c.Extra, k)
	}
	if err := c.validate(); err != nil {
		return c, fmt.Errorf("load %s: %w", path, err)
	}
	return c, nil
}

var knownLoraKeys = []string{"peft_type", "base_model_name_or_path", "r", "lora_alpha", "lora_dropout", "target_modules",
	"bias", "use_rslora", "use_dora", "rank_pattern", "alpha_pattern", "modules_to_save", "fan_in_fan_out"}

// LoadAdapter attaches the adapter in dir (adapter_config.json and adapter_model.safetensors) to
// m. Every tensor must be a lora_A or lora_B of a Linear layer of m with that layer's sizes: an
// adapter of another base model is refused, naming the first key that does not fit.
func (m *Model) LoadAdapter(dir string) (LoraConfig, error) {
	cfg, err := ReadLoraConfig(dir)
	if err != nil {
		return cfg, err
	}
	path := filepath.Join(dir, AdapterWeightsFile)
	f, err := safetensors.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && fileExists(filepath.Join(dir, "adapter_model.bin")) {
			return cfg, fmt.Errorf("load adapter %s: adapter_model.bin (pickle) is not read; save it with safetensors (peft's default)", dir)
		}
		return cfg, fmt.Errorf("load adapter %s: %w", dir, err)
	}
	defer f.Close()
	tensors := map[string]*ts.Tensor{}
	for _, name := range f.Names() {
		t, err := f.Tensor(name)
		if err == nil {
			t, err = asFloatOn(t, m.Device)
		}
		if err != nil {
			freeAll(tensors)
			return cfg, fmt.Errorf("load %s: tensor %s: %w", path, name, err)
		}
		tensors[name] = t
	}
	if err := m.attachLora(cfg, tensors); err != nil {
		return cfg, fmt.Errorf("load adapter %s onto %s: %w", dir, m.name(), err)
	}
	return cfg, nil
}

// asFloatOn converts a tensor read from a user's file to float32 on device, freeing the original.
func asFloatOn(t *ts.Tensor, device gotch.Device) (*ts.Tensor, error) {
	var err error
	if t.DType() != gotch.Float {
		if t, err = t.Totype(gotch.Float, true); err != nil {
			return nil, err
		}
	}
	if device != gotch.CPU {
		if t, err = t.To(device, true); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// name is how errors name the model: its BLIP geometry.
func (m *Model) name() string {
	return fmt.Sprintf("the base model (vision %d×%d layers, text %d×%d layers)",
		m.Config.Vision.HiddenSize, m.Config.Vision.NumHiddenLayers, m.Config.Text.HiddenSize, m.Config.Text.NumHiddenLayers)
}

// SaveAdapter writes the model's adapters to dir as peft's save_pretrained does:
// adapter_config.json (cfg, with the model's adapted layers) and adapter_model.safetensors (fp32,
// peft's key names). Both files are written atomically.
func (m *Model) SaveAdapter(dir string) error {
	if m.Lora == nil {
		return errors.New("save adapter: the model has no LoRA adapter")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save adapter: %w", err)
	}
	if err := safetensors.Write(filepath.Join(dir, AdapterWeightsFile), m.LoraParams(), map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("save adapter %s: %w", dir, err)
	}
	return m.Lora.Config.write(filepath.Join(dir, AdapterConfigFile))
}

// write writes the config with peft's defaults for the fields it has no value for.
func (c LoraConfig) write(path string) error {
	fields := map[string]any{
		"peft_type": "LORA", "task_type": nil, "inference_mode": true, "auto_mapping": nil, "revision": nil,
		"base_model_name_or_path": c.BaseModel, "r": c.R, "lora_alpha": c.Alpha, "lora_dropout": c.Dropout,
		"target_modules": c.TargetModules, "bias": "none", "use_rslora": c.UseRslora, "use_dora": false,
		"rank_pattern": nonNil(c.RankPattern), "alpha_pattern": nonNil(c.AlphaPattern), "modules_to_save": nil,
		"fan_in_fan_out": false, "init_lora_weights": true, "layers_to_transform": nil, "layers_pattern": nil,
	}
	for k, v := range c.Extra {
		if _, set := fields[k]; !set || k == "task_type" || k == "inference_mode" || k == "revision" {
			fields[k] = v
		}
	}
	data, err := json.MarshalIndent(fields, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return safetensors.WriteAtomic(path, func(w io.Writer) error { _, err := w.Write(append(data, '\n')); return err })
}

func nonNil[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}
