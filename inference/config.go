package inference

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// VisionConfig mirrors transformers' BlipVisionConfig (config.json "vision_config").
type VisionConfig struct {
	HiddenSize        int64   `json:"hidden_size"`
	IntermediateSize  int64   `json:"intermediate_size"`
	NumHiddenLayers   int64   `json:"num_hidden_layers"`
	NumAttentionHeads int64   `json:"num_attention_heads"`
	ImageSize         int64   `json:"image_size"`
	PatchSize         int64   `json:"patch_size"`
	HiddenAct         string  `json:"hidden_act"`
	LayerNormEps      float64 `json:"layer_norm_eps"`
	AttentionDropout  float64 `json:"attention_dropout"`
	ProjectionDim     int64   `json:"projection_dim"`
	InitializerRange  float64 `json:"initializer_range"`
}

// TextConfig mirrors transformers' BlipTextConfig (config.json "text_config").
type TextConfig struct {
	VocabSize                 int64   `json:"vocab_size"`
	HiddenSize                int64   `json:"hidden_size"`
	EncoderHiddenSize         int64   `json:"encoder_hidden_size"`
	IntermediateSize          int64   `json:"intermediate_size"`
	ProjectionDim             int64   `json:"projection_dim"`
	NumHiddenLayers           int64   `json:"num_hidden_layers"`
	NumAttentionHeads         int64   `json:"num_attention_heads"`
	MaxPositionEmbeddings     int64   `json:"max_position_embeddings"`
	HiddenAct                 string  `json:"hidden_act"`
	LayerNormEps              float64 `json:"layer_norm_eps"`
	HiddenDropoutProb         float64 `json:"hidden_dropout_prob"`
	AttentionProbsDropoutProb float64 `json:"attention_probs_dropout_prob"`
	InitializerRange          float64 `json:"initializer_range"`
	BosTokenID                int64   `json:"bos_token_id"`
	EosTokenID                int64   `json:"eos_token_id"`
	PadTokenID                int64   `json:"pad_token_id"`
	SepTokenID                int64   `json:"sep_token_id"`
	IsDecoder                 bool    `json:"is_decoder"`
	UseCache                  bool    `json:"use_cache"`
	LabelSmoothing            float64 `json:"label_smoothing"`
	TieWordEmbeddings         bool    `json:"tie_word_embeddings"`
	PositionEmbeddingType     string  `json:"position_embedding_type,omitempty"`
}

// Config mirrors transformers' BlipConfig as stored in a checkpoint's config.json. Unknown keys are
// kept in Extra so that a model written back carries them unchanged.
type Config struct {
	Vision              VisionConfig               `json:"vision_config"`
	Text                TextConfig                 `json:"text_config"`
	ProjectionDim       int64                      `json:"projection_dim"`
	LogitScaleInitValue float64                    `json:"logit_scale_init_value"`
	ImageTextHiddenSize int64                      `json:"image_text_hidden_size"`
	LabelSmoothing      float64                    `json:"label_smoothing"`
	Extra               map[string]json.RawMessage `json:"-"`
}

// DefaultConfig returns the defaults of transformers' BlipConfig() (a ViT-B/16 vision encoder at
// 384 pixels and a 12-layer text decoder with 8 heads). Real checkpoints override several of them
// (Salesforce/blip-image-captioning-base has 12 text heads): always read config.json.
func DefaultConfig() Config {
	return Config{
		Vision: VisionConfig{
			HiddenSize: 768, IntermediateSize: 3072, NumHiddenLayers: 12, NumAttentionHeads: 12,
			ImageSize: 384, PatchSize: 16, HiddenAct: "gelu", LayerNormEps: 1e-5, ProjectionDim: 512,
			InitializerRange: 1e-10,
		},
		Text: TextConfig{
			VocabSize: 30524, HiddenSize: 768, EncoderHiddenSize: 768, IntermediateSize: 3072, ProjectionDim: 768,
			NumHiddenLayers: 12, NumAttentionHeads: 8, MaxPositionEmbeddings: 512, HiddenAct: "gelu",
			LayerNormEps: 1e-12, InitializerRange: 0.02, BosTokenID: 30522, EosTokenID: 2, PadTokenID: 0,
			SepTokenID: 102, IsDecoder: true, UseCache: true, TieWordEmbeddings: true,
			PositionEmbeddingType: "absolute",
		},
		ProjectionDim: 512, LogitScaleInitValue: 2.6592, ImageTextHiddenSize: 256,
	}
}

// ParseConfig reads config.json bytes, fills transformers' defaults for absent keys and validates.
func ParseConfig(data []byte) (Config, error) {
	cfg := DefaultConfig()
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	known := map[string]bool{"vision_config": true, "text_config": true, "projection_dim": true,
		"logit_scale_init_value": true, "image_text_hidden_size": true, "label_smoothing": true}
	cfg.Extra = map[string]json.RawMessage{}
	for k, v := range raw {
		if !known[k] {
			cfg.Extra[k] = v
		}
	}
	// As BlipConfig.__init__ does: the decoder's cross-attention reads the vision encoder's output.
	cfg.Text.EncoderHiddenSize = cfg.Vision.HiddenSize
	return cfg, cfg.Validate()
}

// LoadConfig reads dir/config.json.
func LoadConfig(dir string) (Config, error) {
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Config{}, fmt.Errorf("load model %s: no config.json (a Hugging Face BLIP model folder has config.json, model.safetensors or pytorch_model.bin, and tokenizer files): %w", dir, err)
		}
		return Config{}, fmt.Errorf("load %s: %w", path, err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return cfg, fmt.Errorf("load %s: %w", path, err)
	}
	return cfg, nil
}

// Validate checks the sizes the model is built from.
func (c Config) Validate() error {
	v, t := c.Vision, c.Text
	pos := []struct {
		name string
		val  int64
	}{
		{"vision_config: hidden_size", v.HiddenSize}, {"vision_config: intermediate_size", v.IntermediateSize},
		{"vision_config: num_hidden_layers", v.NumHiddenLayers}, {"vision_config: num_attention_heads", v.NumAttentionHeads},
		{"vision_config: image_size", v.ImageSize}, {"vision_config: patch_size", v.PatchSize},
		{"text_config: vocab_size", t.VocabSize}, {"text_config: hidden_size", t.HiddenSize},
		{"text_config: intermediate_size", t.IntermediateSize}, {"text_config: num_hidden_layers", t.NumHiddenLayers},
		{"text_config: num_attention_heads", t.NumAttentionHeads}, {"text_config: max_position_embeddings", t.MaxPositionEmbeddings},
	}
	for _, p := range pos {
		if p.val <= 0 {
			return fmt.Errorf("%s %d must be positive", p.name, p.val)
		}
	}
	if v.HiddenSize%v.NumAttentionHeads != 0 {
		return fmt.Errorf("vision_config: hidden_size %d not divisible by num_attention_heads %d", v.HiddenSize, v.NumAttentionHeads)
	}
	if t.HiddenSize%t.NumAttentionHeads != 0 {
		return fmt.Errorf("text_config: hidden_size %d not divisible by num_attention_heads %d", t.HiddenSize, t.NumAttentionHeads)
	}
	if v.ImageSize%v.PatchSize != 0 {
		return fmt.Errorf("vision_config: image_size %d not divisible by patch_size %d", v.ImageSize, v.PatchSize)
	}
	for _, id := range []struct {
		name string
		val  int64
	}{{"bos_token_id", t.BosTokenID}, {"sep_token_id", t.SepTokenID}, {"pad_token_id", t.PadTokenID}} {
		if id.val < 0 || id.val >= t.VocabSize {
			return fmt.Errorf("text_config: %s %d outside the vocabulary (vocab_size %d)", id.name, id.val, t.VocabSize)
		}
	}
	for _, a := range []struct{ name, act string }{{"vision_config", v.HiddenAct}, {"text_config", t.HiddenAct}} {
		if _, ok := activations[a.act]; !ok {
			return fmt.Errorf("%s: hidden_act %q not supported (want one of %s)", a.name, a.act, activationNames())
		}
	}
	if t.PositionEmbeddingType != "" && t.PositionEmbeddingType != "absolute" {
		return fmt.Errorf("text_config: position_embedding_type %q not supported (only absolute)", t.PositionEmbeddingType)
	}
	return nil
}

// MarshalJSON writes the config in transformers' layout, keeping keys Captune does not interpret.
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config
	b, err := json.Marshal(plain(c))
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range c.Extra {
		m[k] = v
	}
	if _, ok := m["model_type"]; !ok {
		m["model_type"] = json.RawMessage(`"blip"`)
	}
	if _, ok := m["architectures"]; !ok {
		m["architectures"] = json.RawMessage(`["BlipForConditionalGeneration"]`)
	}
	return json.MarshalIndent(m, "", "  ")
}

// NumPatches is the number of image tokens after the class token.
func (v VisionConfig) NumPatches() int64 {
	return (v.ImageSize / v.PatchSize) * (v.ImageSize / v.PatchSize)
}
