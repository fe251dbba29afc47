package finetune

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/sugarme/gotch"

	"github.com/captune/captune/finetune/runinfo"
	"github.com/captune/captune/inference"
	"github.com/captune/captune/internal/atomicfile"
	"github.com/captune/captune/internal/torchx"
)

// A LoRA run (Config.Method "lora") trains adapters as peft makes them (inference.Model.AddLora)
// and nothing else: the base weights get no gradient and no AdamW state, stay memory-mapped as
// loaded, and are byte for byte what they were. Its checkpoints and its OutDir are peft adapter
// folders (adapter_config.json, adapter_model.safetensors), which Python's peft loads as they are.

// MergedDir is the folder inside a LoRA run's OutDir that Config.Merge fills with the base model
// with the adapter merged into its weights: a plain Hugging Face model folder.
const MergedDir = "merged"

// visionLayers are the vision encoder's Linear layers (inference.Config.LinearLayers), "#" for the
// layer number.
var visionLayers = []string{
	"vision_model.encoder.layers.#.self_attn.qkv", "vision_model.encoder.layers.#.self_attn.projection",
	"vision_model.encoder.layers.#.mlp.fc1", "vision_model.encoder.layers.#.mlp.fc2",
}

// loraTrainsVision reports whether adapters on targets would adapt a layer of the vision encoder,
// matched as peft matches target_modules (a layer named so, or whose name ends in "." and the
// target). It needs no model: the feature cache is decided from it before the model is loaded.
func loraTrainsVision(targets []string) bool {
	for _, t := range inference.LoraTargetModules(targets) {
		for _, layer := range visionLayers {
			if endsWithSegments(strings.Split(layer, "."), strings.Split(t, ".")) {
				return true
			}
		}
	}
	return false
}

// endsWithSegments reports whether name's last segments are target's, "#" in name standing for any
// layer number.
func endsWithSegments(name, target []string) bool {
	if len(target) > len(name) {
		return false
	}
	tail := name[len(name)-len(target):]
	for i, s := range tail {
		if s != target[i] && (s != "#" || target[i] == "" || strings.Trim(target[i], "0123456789") != "") {
			return false
		}
	}
	return true
}

// visionFrozen reports whether cfg leaves the vision encoder as it is: a full run with
// FreezeVision, or a LoRA run without adapters in the encoder. Its output for an image then never
// changes, which the feature cache relies on.
func visionFrozen(cfg Config) bool {
	if cfg.lora() {
		return !loraTrainsVision(cfg.LoraTargets)
	}
	return cfg.FreezeVision
}

// checkLoraPlan refuses, before the model's weights are loaded, LoRA targets that match no layer
// of a model of config mcfg and a rank larger than a layer (inference.Config.LoraPlan).
func checkLoraPlan(mcfg inference.Config, cfg Config) error {
	if !cfg.lora() {
		return nil
	}
	if _, _, err := mcfg.LoraPlan(cfg.LoraTargets, int64(cfg.LoraRank)); err != nil {
		return fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	return nil
}

// CheckLoraTargets refuses, from the base model's config.json alone, LoRA targets the model does
// not have and a rank larger than a layer, so that the command line says so before it opens the
// dataset or loads weights. A full run, a resumed one (it trains with its checkpoint's settings),
// a base that is itself an adapter (a LoRA run takes its settings) and a base whose config cannot
// be read (loading it reports why) pass.
func CheckLoraTargets(cfg Config) error {
	if !cfg.lora() || cfg.Resume || startsFromAdapter(cfg) {
		return nil
	}
	mcfg, err := inference.LoadConfig(cfg.BaseModel)
	if err != nil {
		return nil
	}
	return checkLoraPlan(mcfg, cfg)
}

// freshLoraConfig is the adapter configuration a LoRA run of cfg on the model folder base starts
// with: peft's, naming the base as inference.BaseModelRef does.
func freshLoraConfig(base string, cfg Config) inference.LoraConfig {
	return inference.NewLoraConfig(inference.BaseModelRef(base), int64(cfg.LoraRank), cfg.LoraAlpha, cfg.LoraDropout, cfg.LoraTargets)
}

// loadBase loads the model a run of cfg starts from: BaseModel, with cfg.Adapter on it when set.
func loadBase(cfg Config, device gotch.Device) (*inference.Captioner, error) {
	var c *inference.Captioner
	var err error
	if cfg.Adapter != "" {
		c, _, err = inference.LoadCaptionerWithAdapter(cfg.BaseModel, cfg.Adapter, device)
	} else {
		c, _, err = inference.LoadCaptioner(cfg.BaseModel, device)
	}
	return c, err
}

// startsFromAdapter reports whether a run of cfg starts from a LoRA adapter (cfg.Adapter, or an
// adapter folder as BaseModel), whose base model's config is known only once it is loaded.
func startsFromAdapter(cfg Config) bool {
	return cfg.Adapter != "" || inference.IsAdapterDir(cfg.BaseModel)
}

// prepareMethod readies a loaded model for cfg's method and returns the settings to train with.
// A base folder that is itself an adapter (the loader attached it) is merged in for a full run,
// and trained further for a LoRA run: the settings then take the adapter's rank, alpha, dropout
// and layers. Otherwise a LoRA run gets fresh adapters (seeded by cfg.Seed), or, resuming, the
// adapter of the checkpoint in resumeDir.
func prepareMethod(capt *inference.Captioner, cfg Config, resumeDir string, onProgress func(Progress)) (Config, error) {
	m := capt.Model
	say := func(msg string) { onProgress(Progress{Phase: runinfo.PhaseLoad, Message: msg, ValLoss: math.NaN()}) }
	switch {
	case m.Lora != nil && !cfg.lora():
		say("merging the adapter " + capt.Adapter + " into its base: full fine-tuning starts from the merged model")
		if err := m.MergeLora(); err != nil {
			return cfg, fmt.Errorf("merge the adapter %s: %w", capt.Adapter, err)
		}
		return cfg, nil
	case !cfg.lora():
		return cfg, nil
	case resumeDir != "":
		m.DropLora() // the checkpoint's adapter replaces the one the base folder had
		if _, err := m.LoadAdapter(resumeDir); err != nil {
			return cfg, fmt.Errorf("resume from %s: %w", resumeDir, err)
		}
	case m.Lora != nil:
		lc := m.Lora.Config
		cfg.LoraRank, cfg.LoraAlpha, cfg.LoraDropout, cfg.LoraTargets = int(lc.R), lc.Alpha, lc.Dropout, m.Lora.Modules()
		say(fmt.Sprintf("training the adapter %s further with its own settings: rank %d, alpha %g, dropout %g, %d layers",
			capt.Adapter, lc.R, lc.Alpha, lc.Dropout, len(cfg.LoraTargets)))
	default:
		if err := m.AddLora(freshLoraConfig(capt.Dir, cfg), cfg.Seed); err != nil {
			return cfg, fmt.Errorf("%w: %w", ErrBadConfig, err)
		}
	}
	if trains := hasVisionAdapter(m); trains == visionFrozen(cfg) {
		// The feature cache was decided from the targets alone (loraTrainsVision); a wrong guess
		// would train on stale image features.
		return cfg, fmt.Errorf("LoRA targets %v: adapters in the vision encoder %v, but the run planned %v", cfg.LoraTargets, trains, !trains)
	}
	return cfg, nil
}

func hasVisionAdapter(m *inference.Model) bool {
	for _, name := range m.Lora.Modules() {
		if strings.HasPrefix(name, "vision_model.") {
			return true
		}
	}
	return false
}

// LoraTrainable marks every base weight as needing no gradient and the adapters as needing one,
// and returns the adapters, the only parameters of a LoRA run.
func LoraTrainable(m *inference.Model) []NamedParam {
	for _, n := range m.Tensors() {
		n.Tensor.MustRequiresGrad_(false)
	}
	var out []NamedParam
	for _, p := range m.LoraParams() {
		p.Tensor.MustRequiresGrad_(true)
		out = append(out, NamedParam{Name: p.Name, Tensor: p.Tensor})
	}
	return out
}

// adapterDropout turns the adapters' input dropout on for one optimizer step, with libtorch's
// generator seeded from the run's seed and the step: the dropout masks of a step are then the
// same whether the run went through or was resumed before it. It returns what turns it off again
// (validation and captioning run without dropout); nothing to do for a model without adapters.
func adapterDropout(m *inference.Model, seed uint64, step int) (off func()) {
	if m.Lora == nil {
		return func() {}
	}
	torchx.ManualSeed(int64((seed*0x9e3779b97f4a7c15 + uint64(step) + 1) >> 1))
	m.Lora.SetTraining(true)
	return func() { m.Lora.SetTraining(false) }
}

// loraMemory estimates the bytes a LoRA run of cfg on a model of config mcfg needs at this batch
// size: the base weights, the adapters with their gradients and AdamW's two moments, the
// activations the backward pass keeps (the vision encoder's only when it has adapters) and the
// adapters' own (their input after dropout and A's output).
func loraMemory(mcfg inference.Config, cfg Config, batch int) int64 {
	est := inference.EstimateMemory(mcfg, batch, 1, cfg.MaxTextLen, true)
	total := est.Weights + est.Runtime + est.Activations
	if !loraTrainsVision(cfg.LoraTargets) {
		total -= est.Activations - textActivations(mcfg, cfg, batch)
	}
	modules, params, err := mcfg.LoraPlan(cfg.LoraTargets, int64(cfg.LoraRank))
	if err != nil {
		return total // the run refuses the targets before it needs memory
	}
	total += 16 * params // weights, gradients, AdamW's two moments: 4 bytes each
	layers := mcfg.LinearLayers()
	tokens := map[bool]int64{true: mcfg.Vision.NumPatches() + 1, false: int64(cfg.MaxTextLen)}
	for _, name := range modules {
		in := layers[name][1]
		total += 4 * int64(batch) * tokens[strings.HasPrefix(name, "vision_model.")] * (in + int64(cfg.LoraRank))
	}
	return total
}

// textActivations are the activations of a training step whose vision encoder keeps none for a
// backward pass (nothing before it needs a gradient).
func textActivations(mcfg inference.Config, cfg Config, batch int) int64 {
	noVision := mcfg
	noVision.Vision.NumHiddenLayers = 0
	return inference.EstimateMemory(noVision, batch, 1, cfg.MaxTextLen, true).Activations
}

// methodLog is the line train_log.jsonl starts each session of a run with: the method and, for
// LoRA, the adapters' settings.
func methodLog(cfg Config, step int, m *inference.Model, params []NamedParam) map[string]any {
	var n int64
	for _, p := range params {
		n += int64(p.Tensor.Numel())
	}
	line := map[string]any{"step": step, "method": cfg.method(), "trainable_params": n}
	if cfg.lora() && m.Lora != nil {
		line["lora_rank"], line["lora_alpha"], line["lora_dropout"] = cfg.LoraRank, cfg.LoraAlpha, cfg.LoraDropout
		line["lora_targets"], line["lora_layers"] = cfg.LoraTargets, len(m.Lora.Modules())
	}
	return line
}

// finishLora writes a LoRA run's result into OutDir: final's adapter (the best checkpoint's, or
// the last), and with cfg.Merge the merged model in OutDir/merged, written in a temporary folder
// renamed into place once complete. It fills the result's adapter size and merged folder.
func finishLora(final *inference.Captioner, cfg Config, res *Result) error {
	if err := final.SaveAdapter(cfg.OutDir); err != nil {
		return err
	}
	if st, err := os.Stat(filepath.Join(cfg.OutDir, inference.AdapterWeightsFile)); err == nil {
		res.AdapterBytes = st.Size()
	}
	merged := filepath.Join(cfg.OutDir, MergedDir)
	if !cfg.Merge {
		return nil
	}
	if err := final.Model.MergeLora(); err != nil {
		return fmt.Errorf("merge the adapter: %w", err)
	}
	tmp, err := atomicfile.Mkdir(merged)
	if err != nil {
		return fmt.Errorf("merged model: %w", err)
	}
	if err := final.Save(tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if _, err := os.Stat(merged); err == nil {
		if err := removeDir(merged); err != nil {
			os.RemoveAll(tmp)
			return fmt.Errorf("replace %s: %w", merged, err)
		}
	}
	if err := os.Rename(tmp, merged); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("merged model: %w", err)
	}
	atomicfile.SyncDir(cfg.OutDir)
	res.MergedDir = merged
	return nil
}
