package inference

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/captune/captune/internal/atomicfile"
	"github.com/captune/captune/internal/hub"
)

// Captioner is a BLIP model with its tokenizer and image preprocessor: what a Hugging Face model
// folder holds. Its methods do libtorch work and must run on one goroutine (see Engine).
type Captioner struct {
	Model *Model
	Tok   TextTokenizer
	Pre   Preprocessor
	Dir   string // the folder it was loaded from (the base model's, with an adapter)
	Name  string // a short name for origins ("model:NAME"), from the folder (the adapter's, with one)
	// Adapter is the LoRA adapter folder attached to Model (LoadCaptionerWithAdapter), "" without.
	Adapter string
	// Generation is what the folder's generation_config.json says about decoding.
	Generation GenerationConfig
}

// TextTokenizer is the part of the BLIP tokenizer the captioner uses.
type TextTokenizer interface {
	// EncodeCaption returns [CLS] tokens [SEP], truncated to maxLen tokens in all (0: no limit).
	EncodeCaption(text string, maxLen int) []int64
	// DecodeCaption turns ids into text, skipping special tokens.
	DecodeCaption(ids []int64) string
	// Save writes the tokenizer files into dir.
	Save(dir string) error
}

// LoadCaptioner loads a Hugging Face BLIP captioning folder onto device. A LoRA adapter folder
// (adapter_config.json) is loaded on its base model (AdapterBase), so that every place that takes
// a model folder takes an adapter too.
func LoadCaptioner(dir string, device gotch.Device) (*Captioner, LoadReport, error) {
	if IsAdapterDir(dir) {
		base, err := AdapterBase(dir)
		if err != nil {
			return nil, LoadReport{}, err
		}
		return LoadCaptionerWithAdapter(base, dir, device)
	}
	if _, err := LoadConfig(dir); err != nil {
		return nil, LoadReport{}, err
	}
	tok, err := loadTokenizer(dir)
	if err != nil {
		return nil, LoadReport{}, fmt.Errorf("load model %s: %w", dir, err)
	}
	m, report, err := LoadModel(dir, device)
	if err != nil {
		return nil, report, err
	}
	pre, err := LoadPreprocessor(dir, int(m.Config.Vision.ImageSize))
	if err != nil {
		m.Free()
		return nil, report, err
	}
	gen, err := ReadGenerationConfig(dir)
	if err != nil {
		m.Free()
		return nil, report, err
	}
	abs, _ := filepath.Abs(dir)
	return &Captioner{Model: m, Tok: tok, Pre: pre, Dir: abs, Name: hub.ModelName(abs), Generation: gen}, report, nil
}

// LoadCaptionerWithAdapter loads the base model folder and attaches the LoRA adapter in adapter
// (peft's adapter_config.json and adapter_model.safetensors); the adapter's layers must be the
// base model's.
func LoadCaptionerWithAdapter(base, adapter string, device gotch.Device) (*Captioner, LoadReport, error) {
	c, report, err := LoadCaptioner(base, device)
	if err != nil {
		return nil, report, err
	}
	if _, err := c.Model.LoadAdapter(adapter); err != nil {
		c.Free()
		return nil, report, err
	}
	c.Adapter, _ = filepath.Abs(adapter)
	c.Name = hub.ModelName(c.Adapter)
	if GenerationDir(base, adapter) == adapter { // else the base's, read above
		if c.Generation, err = ReadGenerationConfig(adapter); err != nil {
			c.Free()
			return nil, report, err
		}
	}
	return c, report, nil
}

// SaveAdapter writes the model's LoRA adapter into dir (Model.SaveAdapter) with the captioner's
// generation_config.json, so that the caption lengths a run learned travel with its adapter.
func (c *Captioner) SaveAdapter(dir string) error {
	if err := c.Model.SaveAdapter(dir); err != nil {
		return err
	}
	if err := saveGenerationConfig(dir, c.Model.Config, c.Generation); err != nil {
		return fmt.Errorf("save adapter %s: %w", dir, err)
	}
	return nil
}

// GenerationDir is the folder whose generation_config.json says how a model decodes: the adapter
// folder's when it has one (Captune's LoRA runs write the caption lengths they learned there), else
// the base model's (peft writes none). adapter is "" for a plain model.
func GenerationDir(base, adapter string) string {
	if adapter != "" && fileExists(filepath.Join(adapter, "generation_config.json")) {
		return adapter
	}
	return base
}

// Free releases the model's tensors.
func (c *Captioner) Free() {
	if c.Model != nil {
		c.Model.Free()
	}
}

// CaptionOptions are the user's captioning settings.
type CaptionOptions struct {
	Decode      DecodeOptions
	Prompt      string // text every caption starts with, e.g. "a picture of"
	StripPrompt bool   // remove the prompt from the returned text
	BatchSize   int    // images per forward pass (default 8)
}

// Caption is one image's result.
type Caption struct {
	Text   string
	Tokens []int64 // as generate() returns them: [DEC], prompt, caption, [SEP]
}

// PromptTokens tokenizes a prompt into the ids that follow [DEC] (without [CLS] and [SEP]).
func (c *Captioner) PromptTokens(prompt string) []int64 {
	if strings.TrimSpace(prompt) == "" {
		return nil
	}
	ids := c.Tok.EncodeCaption(prompt, 0)
	if len(ids) <= 2 {
		return nil
	}
	return ids[1 : len(ids)-1]
}

// CaptionImages captions images in batches, calling onBatch after each with the number done.
func (c *Captioner) CaptionImages(ctx context.Context, images []*RGBImage, opts CaptionOptions, onBatch func(done int)) ([]Caption, error) {
	bs := opts.BatchSize
	if bs <= 0 {
		bs = 8
	}
	d := opts.Decode
	d.Prompt = c.PromptTokens(opts.Prompt)
	prompt := c.Tok.DecodeCaption(d.Prompt)
	out := make([]Caption, 0, len(images))
	for start := 0; start < len(images); start += bs {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		end := min(start+bs, len(images))
		seqs, err := c.generate(images[start:end], d)
		if err != nil {
			return out, err
		}
		for _, s := range seqs {
			text := c.Tok.DecodeCaption(s)
			if opts.StripPrompt && prompt != "" {
				text = strings.TrimSpace(strings.TrimPrefix(text, prompt))
			}
			out = append(out, Caption{Text: text, Tokens: s})
		}
		if onBatch != nil {
			onBatch(len(out))
		}
	}
	return out, nil
}

// generate captions one batch of images; their pixels are freed also when the model panics.
func (c *Captioner) generate(images []*RGBImage, opts DecodeOptions) ([][]int64, error) {
	pix, err := c.Pre.Batch(images, c.Model.Device)
	if err != nil {
		return nil, err
	}
	defer pix.MustDrop()
	return c.Model.Generate(pix, opts)
}

// Save writes the captioner as a Hugging Face model folder that transformers'
// BlipForConditionalGeneration.from_pretrained and BlipProcessor.from_pretrained load: weights,
// config, tokenizer files, preprocessor and generation configs. Files are written atomically.
func (c *Captioner) Save(dir string) error {
	return c.save(dir, c.Model.SaveWeights)
}

// SaveSharingWeights is Save for a model whose weights are exactly those already saved in
// weightsDir/model.safetensors (a checkpoint of the same training): the weights file is a hard link
// to that one instead of a second copy, where the file system allows it, else written as by Save.
func (c *Captioner) SaveSharingWeights(dir, weightsDir string) error {
	return c.save(dir, func(dir string) error {
		if atomicfile.Link(filepath.Join(weightsDir, "model.safetensors"), filepath.Join(dir, "model.safetensors")) == nil {
			return nil // the next files' writes sync the folder
		}
		return c.Model.SaveWeights(dir)
	})
}

// save writes dir's files, the weights through saveWeights.
func (c *Captioner) save(dir string, saveWeights func(dir string) error) error {
	if c.Model.Lora != nil {
		return fmt.Errorf("save model %s: the model has a LoRA adapter: merge it (Model.MergeLora) or save the adapter (Model.SaveAdapter)", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save model %s: %w", dir, err)
	}
	steps := []func() error{
		func() error { return saveWeights(dir) },
		func() error { return c.Model.SaveConfig(dir) },
		func() error { return c.Tok.Save(dir) },
		func() error { return c.Pre.Save(dir) },
		func() error { return saveGenerationConfig(dir, c.Model.Config, c.Generation) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return fmt.Errorf("save model %s: %w", dir, err)
		}
	}
	return nil
}

// EncodeCaptions tokenizes captions for training: each [CLS] prompt caption [SEP], and the prompt
// length to leave out of the loss (1 + prompt tokens).
func (c *Captioner) EncodeCaptions(captions []string, prompt string, maxLen int) ([][]int64, int) {
	pt := c.PromptTokens(prompt)
	out := make([][]int64, len(captions))
	p := strings.TrimSpace(prompt)
	for i, s := range captions {
		text := strings.TrimSpace(s)
		if p != "" {
			text = p + " " + text
		}
		out[i] = c.Tok.EncodeCaption(text, maxLen)
	}
	return out, 1 + len(pt)
}

// Pixels is Pre.Batch on the model's device.
func (c *Captioner) Pixels(images []*RGBImage) (*ts.Tensor, error) {
	return c.Pre.Batch(images, c.Model.Device)
}
