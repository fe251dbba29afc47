package inference

import (
	"fmt"
	"maps"
	"slices"
)

// What training needs to know about LoRA before the weights are loaded: which layers a list of
// targets adapts and how many parameters the adapters add. finetune checks --lora-targets and sizes
// a run's memory with these, so a wrong target fails at once and not after a model has loaded.

// LinearLayers lists the Linear layers a model of config c has, as the model builds them (the
// layers LoRA can adapt), by module name, with their [out, in] sizes.
func (c Config) LinearLayers() map[string][2]int64 {
	out := map[string][2]int64{}
	v, t := c.Vision, c.Text
	for i := int64(0); i < v.NumHiddenLayers; i++ {
		p := fmt.Sprintf("vision_model.encoder.layers.%d.", i)
		out[p+"self_attn.qkv"] = [2]int64{3 * v.HiddenSize, v.HiddenSize}
		out[p+"self_attn.projection"] = [2]int64{v.HiddenSize, v.HiddenSize}
		out[p+"mlp.fc1"] = [2]int64{v.IntermediateSize, v.HiddenSize}
		out[p+"mlp.fc2"] = [2]int64{v.HiddenSize, v.IntermediateSize}
	}
	h, enc := t.HiddenSize, t.EncoderHiddenSize
	for i := int64(0); i < t.NumHiddenLayers; i++ {
		p := fmt.Sprintf("text_decoder.bert.encoder.layer.%d.", i)
		for _, a := range []string{"attention", "crossattention"} {
			in := h
			if a == "crossattention" {
				in = enc // keys and values read the image tokens
			}
			out[p+a+".self.query"] = [2]int64{h, h}
			out[p+a+".self.key"] = [2]int64{h, in}
			out[p+a+".self.value"] = [2]int64{h, in}
			out[p+a+".output.dense"] = [2]int64{h, h}
		}
		out[p+"intermediate.dense"] = [2]int64{t.IntermediateSize, h}
		out[p+"output.dense"] = [2]int64{h, t.IntermediateSize}
	}
	out["text_decoder.cls.predictions.transform.dense"] = [2]int64{h, h}
	return out
}

// LoraPlan is what fresh adapters of rank r on targets (names of `--lora-targets`, see
// LoraTargetModules) add to a model of config c: the layers they adapt, sorted, and their
// parameter count. Layers are matched as Model.LoraModules matches them, and a target that matches
// nothing or a rank above a layer's size is refused with Model.AddLora's message.
func (c Config) LoraPlan(targets []string, r int64) (modules []string, params int64, err error) {
	layers := c.LinearLayers()
	modules, err = matchLoraTargets(slices.Collect(maps.Keys(layers)), LoraTargets{List: LoraTargetModules(targets)})
	if err != nil {
		return nil, 0, err
	}
	if len(modules) == 0 {
		return nil, 0, fmt.Errorf("lora targets: none given")
	}
	for _, name := range modules {
		out, in := layers[name][0], layers[name][1]
		if r > min(in, out) {
			return nil, 0, fmt.Errorf("lora rank %d: larger than layer %s (%d inputs, %d outputs)", r, name, in, out)
		}
		params += r * (in + out)
	}
	return modules, params, nil
}
